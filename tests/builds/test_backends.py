"""Both build backends against the sandbox over HTTP: configure once, first build, status."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, Enrolment, OnboardingState
from builds.backends import data
from builds.backends.autobuild.backend import AutobuildData
from builds.backends.data import PushHooks
from builds.backends.github_actions.backend import (
    HOOK_EVENTS,
    TOKEN_SECRET,
    USERNAME_VARIABLE,
    WORKFLOW_PATH,
    ActionsData,
    workflow_text,
)
from builds.models import Build, BuildState
from builds.services import build_configure, build_trigger_first, builds_refresh
from hubcourse.models import AuditEvent
from onboarding.state import enrolment_refresh_state
from repositories.models import StudentRepository
from sandbox import github_state
from tests.builds.support import created, make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"


def _settle(sandbox: Any, enrolment: Enrolment) -> Build:
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=enrolment.pk)
    return Build.objects.get(enrolment=enrolment)


def test_autobuild_links_the_repository_once_and_a_second_configure_changes_nothing(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "adalovelace")

    first = build_configure(enrolment_id=student.pk)
    before = created(sandbox)
    second = build_configure(enrolment_id=student.pk)

    assert first is not None and first.changed
    assert second is not None and not second.changed
    assert created(sandbox) == before
    repository = StudentRepository.objects.get(enrolment=student)
    assert data.read(repository, AutobuildData).source_uuid == first.reference
    assert repository.build_configured_at is not None
    assert data.read(repository, PushHooks).dockerhub_webhook
    source = sandbox.world.dockerhub["builds"]["sources"][first.reference]
    assert (source["owner"], source["repository"]) == tuple(student.github_repo.split("/"))
    rules = [sandbox.world.dockerhub["builds"]["settings"][u] for u in source["settings"]]
    assert [(r["source_name"], r["dockerfile"], r["build_context"]) for r in rules] == [
        ("main", "DockerfileVolume", "/")
    ]
    outcomes = list(
        AuditEvent.objects.filter(enrolment=student, action="autobuild.configure")
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == [AuditEvent.Outcome.OK, AuditEvent.Outcome.NOOP]


def test_autobuild_puts_back_a_rule_someone_changed(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "alanturing")
    result = build_configure(enrolment_id=student.pk)
    assert result is not None
    world = sandbox.world
    uuid = world.dockerhub["builds"]["sources"][result.reference]["settings"][0]
    world.dockerhub["builds"]["settings"][uuid]["dockerfile"] = "Dockerfile"

    again = build_configure(enrolment_id=student.pk)

    assert again is not None and again.changed
    settings_now = world.dockerhub["builds"]["sources"][result.reference]["settings"]
    assert settings_now == [uuid]  # updated in place, not a second rule
    assert world.dockerhub["builds"]["settings"][uuid]["dockerfile"] == "DockerfileVolume"


def test_autobuild_first_build_is_started_once_and_succeeds(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "gracehopper")
    build_configure(enrolment_id=student.pk)

    external_id = build_trigger_first(enrolment_id=student.pk)
    again = build_trigger_first(enrolment_id=student.pk)

    assert external_id is not None
    assert again is None
    assert created(sandbox).get("dockerhub.build") == 1
    build = _settle(sandbox, student)
    assert build.external_id == external_id
    assert build.state == BuildState.SUCCESS
    assert build.digest.startswith("sha256:")
    assert "Build finished" in build.log_excerpt
    assert build.finished_at is not None
    enrolment_refresh_state(enrolment_id=student.pk)
    student.refresh_from_db()
    assert student.state == OnboardingState.FIRST_BUILD_SUCCEEDED


def test_autobuild_failed_build_keeps_the_log_that_says_why(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "kengthompson", problem="missing-dockerfile")
    build_configure(enrolment_id=student.pk)
    build_trigger_first(enrolment_id=student.pk)

    build = _settle(sandbox, student)

    assert build.state == BuildState.FAILED
    assert "DockerfileVolume" in build.log_excerpt
    assert build.digest == ""


def test_github_actions_stores_secrets_hook_and_workflow_once(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "barbaraliskov")
    repo_state = github_state.get_repo(sandbox.world, student.github_repo)
    assert repo_state is not None

    first = build_configure(enrolment_id=student.pk)
    commits = len(repo_state["commits"])
    second = build_configure(enrolment_id=student.pk)

    assert first is not None and first.changed
    assert second is not None and not second.changed
    assert len(repo_state["commits"]) == commits  # no empty commit the second time
    repository = StudentRepository.objects.get(enrolment=student)
    tree = github_state.read_tree(sandbox.world, student.github_repo, "main") or {}
    assert tree[WORKFLOW_PATH] == workflow_text(course, f"{repository.namespace}/{repository.name}")
    assert set(repo_state["secrets"]) == {TOKEN_SECRET}
    assert repo_state["variables"][USERNAME_VARIABLE]["value"] == repository.namespace
    hooks = list(repo_state["hooks"].values())
    assert len(hooks) == 1
    assert set(HOOK_EVENTS) <= set(hooks[0]["events"])
    assert hooks[0]["config"]["url"].endswith(f"/hooks/github/{course.webhook_token}/")
    assert data.read(repository, PushHooks).github_hook_id == hooks[0]["id"]
    assert data.read(repository, ActionsData).secret_set_at is not None
    course.refresh_from_db()
    assert course.github_webhook_secret  # generated on first use


def test_github_actions_first_build_is_the_workflow_run_and_it_pushes_the_image(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "dennisritchie")
    build_configure(enrolment_id=student.pk)

    build_trigger_first(enrolment_id=student.pk)

    build = _settle(sandbox, student)
    assert build.state == BuildState.SUCCESS, build.log_excerpt
    assert build.commit_sha
    assert build.log_url.endswith(f"/actions/runs/{build.external_id}")
    assert build.digest.startswith("sha256:")
    assert "Login Succeeded" in build.log_excerpt
    repository = StudentRepository.objects.get(enrolment=student)
    hub_repo = sandbox.world.dockerhub["repos"][f"{repository.namespace}/{repository.name}"]
    assert "latest" in hub_repo["tags"]
    # The push that started the run came from hubcourse's commit: nothing else was started.
    assert created(sandbox).get("github.workflow_runs") == 1


def test_github_actions_reads_a_students_later_push_as_a_new_build(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "franallen")
    build_configure(enrolment_id=student.pk)
    build_trigger_first(enrolment_id=student.pk)
    _settle(sandbox, student)

    github_state.push(
        sandbox.world,
        student.github_repo,
        "main",
        {"DockerfileVolume": "FROM pyhton:3.12-slim\n"},
        "break the base image",
        "revelare-instructor",
    )
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=student.pk)

    # Run dates have whole seconds: the row order says which came first.
    builds = Build.objects.filter(enrolment=student).order_by("id")
    assert [b.state for b in builds] == [BuildState.SUCCESS, BuildState.FAILED]
    newest = builds.last()
    assert newest is not None and "pyhton" in newest.log_excerpt
