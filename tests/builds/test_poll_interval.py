"""How soon a build in flight is read again, and what a poll sweep costs with nothing due."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment, GitHubAccess
from builds.models import Build, BuildState
from builds.services import POLL_MAX, PUSH_POLL, builds_claim_due, next_poll_at
from repositories.models import StudentRepository

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"


def _student(course: Course, name: str, **repository: object) -> Enrolment:
    enrolment = Enrolment.objects.create(course=course, identifier=name, docker_id=name)
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name=name,
        created_at=timezone.now(),
        **repository,
    )
    return enrolment


@pytest.mark.django_db
def test_a_build_in_flight_is_read_at_the_poll_interval_setting(
    course: Course, settings: Any
) -> None:
    student = _student(course, "ada")
    now = timezone.now()
    Build.objects.create(
        enrolment=student,
        backend=AUTOBUILD,
        external_id="1",
        state=BuildState.QUEUED,
        created_at=now,
    )

    settings.BUILD_POLL_INTERVAL = 4
    short = next_poll_at(student.pk, None, now)
    settings.BUILD_POLL_INTERVAL = int(POLL_MAX.total_seconds()) * 2
    longer_than_the_cap = next_poll_at(student.pk, None, now)

    assert short == now + dt.timedelta(seconds=4)
    assert longer_than_the_cap == now + POLL_MAX * 2


@pytest.mark.django_db
def test_a_run_whose_result_comes_as_an_event_is_read_only_as_a_net(
    course: Course, settings: Any
) -> None:
    # GitHub Actions through the app: the run's workflow_run event brings the result, so the
    # run list is read only every PUSH_POLL in case that event is lost; without the app (or
    # on automated builds, which send nothing for a failure) at the poll interval.
    settings.BUILD_POLL_INTERVAL = 10
    Course.objects.filter(pk=course.pk).update(build_backend=ACTIONS)
    now = timezone.now()
    with_app = _student(course, "ada")
    Enrolment.objects.filter(pk=with_app.pk).update(
        github_access=GitHubAccess.APP, github_installation_id=7
    )
    without_app = _student(course, "alan")
    for student in (with_app, without_app):
        Build.objects.create(
            enrolment=student,
            backend=ACTIONS,
            external_id=f"run-{student.pk}",
            state=BuildState.RUNNING,
            created_at=now,
        )

    assert next_poll_at(with_app.pk, None, now) == now + PUSH_POLL
    assert next_poll_at(without_app.pk, None, now) == now + dt.timedelta(seconds=10)
    Course.objects.filter(pk=course.pk).update(build_backend=AUTOBUILD)
    assert next_poll_at(with_app.pk, None, now) == now + dt.timedelta(seconds=10)


@pytest.mark.django_db
def test_a_poll_sweep_with_nothing_due_is_one_query(
    course: Course, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    for name in ("ada", "alan", "grace"):
        _student(course, name, build_configured_at=now, next_poll_at=now + dt.timedelta(hours=6))

    with django_assert_num_queries(1):
        claimed = builds_claim_due(now=now)

    assert claimed == []
