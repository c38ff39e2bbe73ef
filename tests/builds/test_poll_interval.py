"""How soon a build in flight is read again, and what a poll sweep costs with nothing due."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds.models import Build, BuildState
from builds.services import POLL_MAX, builds_claim_due, next_poll_at
from repositories.models import StudentRepository

AUTOBUILD = "dockerhub-autobuild"


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
def test_a_poll_sweep_with_nothing_due_is_one_query(
    course: Course, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    for name in ("ada", "alan", "grace"):
        _student(course, name, build_configured_at=now, next_poll_at=now + dt.timedelta(hours=6))

    with django_assert_num_queries(1):
        claimed = builds_claim_due(now=now)

    assert claimed == []
