"""What a finished build costs to read: its log and pushed digest, once, and only when needed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds.backends import backend_for
from builds.models import Build, BuildState
from builds.services import (
    DETAILS_RETRY,
    build_configure,
    build_record,
    build_trigger_first,
    builds_refresh,
    digest_in_log,
)
from repositories.models import StudentRepository
from tests.builds.support import make_student, use_sandbox

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
ACTION_READ = "GET /api/audit/v1/action/<uuid>"
TAG_READ = "/tags/<tag>"
JOBS_READ = "/actions/runs/<int:run_id>/jobs"


def _requests(sandbox: Any, service: str, route_part: str) -> int:
    with sandbox.world.lock:
        routes = sandbox.world.stats["requests"].get(service, {})
        return sum(
            count
            for route, statuses in routes.items()
            if route_part in route
            for status, count in statuses.items()
            if status != "429"
        )


def _first_build(sandbox: Any, student: Enrolment) -> None:
    build_configure(enrolment_id=student.pk)
    build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)


# -- the log and digest of a finished build ------------------------------------------------------


def test_the_digest_is_the_last_one_a_push_printed_for_the_builds_tag() -> None:
    docker_push = (
        f"Step 3/3 : RUN echo latest: digest: {DIGEST_B}\nlatest: digest: {DIGEST_A} size: 1"
    )
    buildkit = f"#9 pushing manifest for docker.io/revelare/ada:latest@{DIGEST_A} done"
    other_tag = f"v1: digest: {DIGEST_B} size: 1"

    assert digest_in_log(docker_push, "latest") == DIGEST_A
    assert digest_in_log(buildkit, "latest") == DIGEST_A
    assert digest_in_log(other_tag, "latest") == ""
    assert digest_in_log("Build finished", "latest") == ""


@pytest.mark.django_db(transaction=True)
def test_an_automated_build_that_succeeds_costs_no_log_or_tag_read(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "gracehopper")
    _first_build(sandbox, student)
    actions, tags = (
        _requests(sandbox, "dockerhub", ACTION_READ),
        _requests(sandbox, "dockerhub", TAG_READ),
    )

    builds_refresh(enrolment_id=student.pk)

    build = Build.objects.get(enrolment=student)
    assert build.state == BuildState.SUCCESS
    assert "Build finished" in build.log_excerpt
    repository = StudentRepository.objects.get(enrolment=student)
    pushed = sandbox.world.dockerhub["repos"][repository.full_name.lower()]["tags"]["latest"]
    assert build.digest == pushed["digest"]
    # The listing carried the log, and the push's digest was in it.
    assert _requests(sandbox, "dockerhub", ACTION_READ) == actions
    assert _requests(sandbox, "dockerhub", TAG_READ) == tags


@pytest.mark.django_db(transaction=True)
def test_a_digest_the_log_does_not_show_is_read_from_the_tag(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "alanturing")
    _first_build(sandbox, student)
    with sandbox.world.lock:
        for action in sandbox.world.dockerhub["builds"]["actions"].values():
            action["logs"] = [line for line in action["logs"] if "digest" not in line]
    tags = _requests(sandbox, "dockerhub", TAG_READ)

    builds_refresh(enrolment_id=student.pk)

    build = Build.objects.get(enrolment=student)
    assert build.state == BuildState.SUCCESS
    assert build.digest.startswith("sha256:")
    assert _requests(sandbox, "dockerhub", TAG_READ) == tags + 1


@pytest.mark.django_db(transaction=True)
def test_a_run_recorded_from_its_webhook_gets_its_log_and_digest_on_the_next_look(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "dennisritchie")
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    # What the workflow_run webhook does: record the finished run from its (signed) payload.
    for info in backend_for(course).builds_since(student, None):
        build_record(student, info)
    assert Build.objects.get(enrolment=student).log_excerpt == ""

    builds_refresh(enrolment_id=student.pk)

    build = Build.objects.get(enrolment=student)
    assert build.state == BuildState.SUCCESS, build.log_excerpt
    assert "Login Succeeded" in build.log_excerpt
    assert build.digest.startswith("sha256:")


@pytest.mark.django_db(transaction=True)
def test_a_log_still_missing_long_after_the_build_ended_is_not_asked_for_again(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "barbaraliskov")
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    for info in backend_for(course).builds_since(student, None):
        build_record(student, info)
    Build.objects.filter(enrolment=student).update(
        updated_at=timezone.now() - DETAILS_RETRY - dt.timedelta(minutes=1)
    )
    jobs = _requests(sandbox, "github", JOBS_READ)

    builds_refresh(enrolment_id=student.pk)

    assert Build.objects.get(enrolment=student).log_excerpt == ""
    assert _requests(sandbox, "github", JOBS_READ) == jobs
