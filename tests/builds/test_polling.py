"""Adaptive polling looks only at what can change; stuck builds are flagged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds.backends import BuildInfo
from builds.models import Build, BuildState
from builds.services import (
    IDLE_POLL,
    POLL_LEASE,
    POLL_MAX,
    PUSH_POLL,
    STUCK_AFTER,
    build_record,
    builds_claim_due,
    builds_flag_stuck,
    next_poll_at,
    poll_interval,
)
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db


def _student(course: Course, name: str, **repository: object) -> Enrolment:
    enrolment = Enrolment.objects.create(course=course, identifier=name, docker_id=name)
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name=name,
        created_at=timezone.now(),
        **repository,
    )
    return Enrolment.objects.select_related("course").get(pk=enrolment.pk)


def test_only_repositories_whose_time_has_come_are_claimed_and_only_once(course: Course) -> None:
    now = timezone.now()
    configured = now - dt.timedelta(hours=1)
    due = _student(course, "due", build_configured_at=configured, next_poll_at=now)
    later = _student(
        course, "later", build_configured_at=configured, next_poll_at=now + poll_interval()
    )
    _student(course, "idle", build_configured_at=configured, next_poll_at=None)
    _student(course, "unconfigured", next_poll_at=now)
    archived = Course.objects.create(name="Old", slug="old", archived_at=now)
    _student(archived, "archived", build_configured_at=configured, next_poll_at=now)

    first = builds_claim_due(now=now)
    second = builds_claim_due(now=now)
    after_lease = builds_claim_due(now=now + POLL_LEASE)

    assert first == [due.pk]
    assert second == []  # its refresh is queued: the next tick leaves it alone
    # Its refresh was lost: claimed again (with the one that has come due meanwhile).
    assert sorted(after_lease) == sorted([due.pk, later.pk])


def test_unfinished_builds_are_polled_often_then_less_often(course: Course) -> None:
    student = _student(course, "ada")
    now = timezone.now()
    build = Build.objects.create(
        enrolment=student,
        backend="github-actions",
        external_id="1",
        state=BuildState.RUNNING,
        created_at=now,
    )

    young = next_poll_at(student.pk, None, now)
    Build.objects.filter(pk=build.pk).update(created_at=now - dt.timedelta(hours=2))
    old = next_poll_at(student.pk, None, now)

    assert young == now + poll_interval()
    assert old == now + POLL_MAX


def test_a_recent_push_without_a_build_is_looked_for_then_the_repository_idles(
    course: Course,
) -> None:
    student = _student(course, "ada")
    now = timezone.now()

    waiting = next_poll_at(student.pk, now - dt.timedelta(minutes=1), now)
    Build.objects.create(
        enrolment=student,
        backend="github-actions",
        external_id="2",
        state=BuildState.SUCCESS,
        created_at=now,
    )
    built = next_poll_at(student.pk, now - dt.timedelta(minutes=1), now)
    quiet = next_poll_at(student.pk, None, now)

    assert waiting == now + PUSH_POLL
    assert built == now + IDLE_POLL
    assert quiet == now + IDLE_POLL


def test_builds_unfinished_past_the_limit_are_flagged_and_unflagged_when_they_end(
    course: Course,
) -> None:
    student = _student(course, "ada")
    now = timezone.now()
    old = now - STUCK_AFTER - dt.timedelta(minutes=1)
    stuck = Build.objects.create(
        enrolment=student,
        backend="dockerhub-autobuild",
        external_id="s",
        state=BuildState.RUNNING,
        created_at=old,
    )
    Build.objects.create(
        enrolment=student,
        backend="dockerhub-autobuild",
        external_id="fresh",
        state=BuildState.QUEUED,
        created_at=now,
    )
    Build.objects.create(
        enrolment=student,
        backend="dockerhub-autobuild",
        external_id="done",
        state=BuildState.FAILED,
        created_at=old,
    )

    assert builds_flag_stuck(now=now) == 1
    assert builds_flag_stuck(now=now) == 0
    stuck.refresh_from_db()
    assert stuck.stuck_at == now

    student.course.build_backend = "dockerhub-autobuild"
    _build, finished = build_record(
        student, BuildInfo(external_id="s", state=BuildState.SUCCESS, finished_at=now)
    )
    stuck.refresh_from_db()
    assert finished and stuck.stuck_at is None


def test_a_finished_build_never_goes_back_to_running(course: Course) -> None:
    student = _student(course, "ada")
    done = BuildInfo(external_id="r", state=BuildState.FAILED, finished_at=timezone.now())
    stale = BuildInfo(external_id="r", state=BuildState.RUNNING)

    _first, finished = build_record(student, done)
    _again, refinished = build_record(student, stale)

    assert finished and not refinished
    assert Build.objects.get(external_id="r").state == BuildState.FAILED
    assert Build.objects.count() == 1
