"""Pre-flight against the sandbox: every check's failure, with a message a student can act on."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import Course, Enrolment, OnboardingState, PreflightState
from builds.preflight import base_images, preflight_run
from sandbox.seed import GOOD_DOCKERFILE
from tests.builds.support import make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course, settings: Any) -> Course:
    cache.clear()  # image verdicts cached by an earlier test
    return use_sandbox(sandbox, course, "github-actions", settings)


def _run(enrolment: Enrolment) -> tuple[Enrolment, dict[str, dict[str, str]]]:
    preflight_run(enrolment_id=enrolment.pk)
    enrolment.refresh_from_db()
    return enrolment, {row["check"]: row for row in enrolment.preflight_report}


def _student(sandbox: Any, course: Course, name: str, **kwargs: Any) -> Enrolment:
    return make_student(sandbox, course, name, repository=False, **kwargs)


def test_a_good_student_passes_and_their_docker_id_is_verified(
    sandbox: Any, hub_course: Course
) -> None:
    student = _student(sandbox, hub_course, "adalovelace")
    Enrolment.objects.filter(pk=student.pk).update(docker_id_verified_at=None)

    student, report = _run(student)

    assert student.preflight_state == PreflightState.PASSED
    assert {row["level"] for row in report.values()} == {"ok"}
    assert set(report) == {"docker_id", "github_repository", "branch", "dockerfile", "base_images"}
    assert student.docker_id_verified_at is not None


def test_a_missing_dockerfile_stops_that_student_with_a_message_they_can_act_on(
    sandbox: Any, hub_course: Course
) -> None:
    student = _student(sandbox, hub_course, "katherinejohnson", problem="missing-dockerfile")

    student, report = _run(student)

    assert student.preflight_state == PreflightState.FAILED
    message = report["dockerfile"]["message"]
    assert "There is no DockerfileVolume at the top of your repository on branch main" in message
    assert "rename it to DockerfileVolume" in message  # they called it Dockerfile
    assert student.state == OnboardingState.ERROR
    assert student.error_step == "preflight" and student.error_permanent


def test_an_unknown_docker_id_fails(sandbox: Any, hub_course: Course) -> None:
    student = _student(sandbox, hub_course, "gracehopper")
    Enrolment.objects.filter(pk=student.pk).update(docker_id="gracehoper")

    student, report = _run(student)

    assert report["docker_id"]["level"] == "error"
    assert "no Docker ID called gracehoper" in report["docker_id"]["message"]
    assert student.docker_id_verified_at is None


def test_an_organisation_is_not_a_docker_id(sandbox: Any, hub_course: Course) -> None:
    student = _student(sandbox, hub_course, "alanturing")
    Enrolment.objects.filter(pk=student.pk).update(docker_id=hub_course.organisation)

    _student_after, report = _run(student)

    assert report["docker_id"]["level"] == "error"
    assert "organisation" in report["docker_id"]["message"]


def test_a_blank_docker_id_and_repository_fail(sandbox: Any, hub_course: Course) -> None:
    student = Enrolment.objects.create(course=hub_course, identifier="nobody@example.edu")

    student, report = _run(student)

    assert student.preflight_state == PreflightState.FAILED
    assert report["docker_id"]["level"] == "error"
    assert "owner/name" in report["github_repository"]["message"]


def test_a_repository_hubcourse_cannot_see_fails(sandbox: Any, hub_course: Course) -> None:
    student = _student(sandbox, hub_course, "kengthompson")
    Enrolment.objects.filter(pk=student.pk).update(github_repo="ken-thompson/no-such-repo")

    _after, report = _run(student)

    assert report["github_repository"]["level"] == "error"
    assert (
        "cannot see the GitHub repository ken-thompson/no-such-repo"
        in (report["github_repository"]["message"])
    )
    assert "branch" not in report  # later checks need the repository


def test_a_missing_branch_fails(sandbox: Any, hub_course: Course) -> None:
    student = _student(sandbox, hub_course, "barbaraliskov", default_branch="master")

    _after, report = _run(student)

    assert report["branch"]["level"] == "error"
    assert "has no branch main" in report["branch"]["message"]
    assert "dockerfile" not in report


def test_a_dockerfile_without_from_fails(sandbox: Any, hub_course: Course) -> None:
    student = _student(sandbox, hub_course, "dennisritchie", files={"DockerfileVolume": "RUN x\n"})

    student, report = _run(student)

    assert student.preflight_state == PreflightState.FAILED
    assert "has no FROM line" in report["base_images"]["message"]


@pytest.mark.parametrize(
    ("first_line", "said"),
    [
        ("FROM pyhton:3.12-slim", "there is no image called pyhton"),
        ("FROM python:3.99", "has no tag 3.99"),
        ("FROM someone/homemade:1", "neither a Docker Official Image nor a Verified Publisher"),
        ("FROM ghcr.io/owner/image:1", "comes from ghcr.io, not Docker Hub"),
        ("ARG BASE\nFROM ${BASE}", "uses the build argument BASE, which has no default"),
    ],
)
def test_a_base_image_that_is_not_official_or_verified_is_a_warning_naming_it(
    sandbox: Any, hub_course: Course, first_line: str, said: str
) -> None:
    dockerfile = GOOD_DOCKERFILE.replace("FROM python:3.12-slim", first_line)
    student = _student(
        sandbox, hub_course, "margarethamilton", files={"DockerfileVolume": dockerfile}
    )

    student, report = _run(student)

    assert student.preflight_state == PreflightState.WARNING
    assert report["base_images"]["level"] == "warning"
    assert said in report["base_images"]["message"]
    assert student.error_step == ""  # a warning holds nothing up


def test_verified_publisher_and_multi_stage_images_pass(sandbox: Any, hub_course: Course) -> None:
    dockerfile = (
        "ARG NODE=node:20\n"
        "FROM ${NODE} AS assets\nRUN build\n"
        "FROM bitnami/python:3.12 AS app\n"
        "COPY --from=assets /out /out\n"
        "FROM app\n"
    )
    student = _student(
        sandbox, hub_course, "edsgerdijkstra", files={"DockerfileVolume": dockerfile}
    )

    student, report = _run(student)

    assert student.preflight_state == PreflightState.PASSED, report
    assert "bitnami/python:3.12" in report["base_images"]["message"]


def test_a_dockerfile_under_the_build_context_is_looked_for_there(
    sandbox: Any, hub_course: Course
) -> None:
    hub_course.build_context = "/app/"
    hub_course.save()
    student = _student(sandbox, hub_course, "johnbackus")

    _after, report = _run(student)

    assert report["dockerfile"]["level"] == "error"
    assert "in the folder app/ of your repository" in report["dockerfile"]["message"]


def test_base_images_follow_arg_defaults_stages_and_continuations() -> None:
    images = base_images(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=python:3.12-slim\n"
        "FROM ${BASE} AS build\n"
        "ARG LATE=ignored\n"
        "FROM build AS test\n"
        "FROM scratch\n"
        "FROM --platform=linux/amd64 \\\n  node:20 AS web\n"
        "FROM ${MISSING:-alpine:3.20}\n"
    )

    assert [(i.line, i.image) for i in images] == [
        (3, "python:3.12-slim"),
        (7, "node:20"),
        (9, "alpine:3.20"),
    ]


def test_a_class_of_public_repositories_is_checked_past_githubs_anonymous_limit(
    sandbox: Any, hub_course: Course
) -> None:
    # GitHub lets an anonymous caller 60 requests an hour per server address, far less than
    # a class's pre-flight; public repositories are read with the course's token (as the
    # branch-head watcher reads them), so the anonymous budget is not the class's limit.
    sandbox.world.config.update({"github_anonymous_rate_limit": 1})
    students = [
        _student(sandbox, hub_course, name) for name in ("adalovelace", "alanturing", "gracehopper")
    ]

    for student in students:
        checked, report = _run(student)
        assert checked.preflight_state == PreflightState.PASSED, report
