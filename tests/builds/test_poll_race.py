"""The idle-poll race: a first build recorded while a refresh that saw no build was writing
its next look must still be read within the polling interval, never after IDLE_POLL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds import moving, services
from builds.backends import BuildInfo
from builds.models import Build, BuildState
from builds.services import (
    EXPECT_FOR,
    IDLE_POLL,
    build_expected,
    build_record,
    builds_refresh,
    expect_poll_interval,
    next_poll_at,
    poll_interval,
)
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db


def _student(course: Course, name: str = "ada") -> Enrolment:
    enrolment = Enrolment.objects.create(course=course, identifier=name, docker_id=name)
    now = timezone.now()
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name=name,
        created_at=now,
        build_configured_at=now,
    )
    return Enrolment.objects.select_related("course").get(pk=enrolment.pk)


class _Backend:
    """A backend whose build list is read, then (before the refresh writes its next look)
    another worker records the first build: the interleaving that left builds "running"."""

    name = "dockerhub-autobuild"

    def __init__(self, student: Enrolment, during_read: list[BuildInfo]) -> None:
        self.student = student
        self.during_read = during_read
        self.listed: list[BuildInfo] = []

    def builds_since(self, enrolment: Enrolment, since: dt.datetime | None) -> list[BuildInfo]:
        listed = list(self.listed)
        for info in self.during_read:
            build_record(self.student, info)  # the trigger's worker, concurrently
        self.during_read = []
        return listed

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        return ""


def _next_poll(student: Enrolment) -> dt.datetime:
    value = StudentRepository.objects.get(enrolment=student).next_poll_at
    assert value is not None
    return value


def test_a_first_build_recorded_during_an_empty_refresh_is_polled_soon_not_idle(
    course: Course, monkeypatch: Any
) -> None:
    student = _student(course)
    monkeypatch.setattr(moving, "backend_of", lambda *args, **kwargs: _Backend(student, []))
    real_next_poll_at = services.next_poll_at
    raced: list[bool] = []

    def trigger_records_meanwhile(*args: Any) -> dt.datetime:
        # The refresh has worked out "idle" from no builds; before it writes that, the
        # first build's trigger (another worker) records the build it started.
        value = real_next_poll_at(*args)
        if not raced:
            raced.append(True)
            build_record(student, BuildInfo(external_id="first", state=BuildState.QUEUED))
        return value

    monkeypatch.setattr(services, "next_poll_at", trigger_records_meanwhile)
    before = timezone.now()

    builds_refresh(enrolment_id=student.pk)

    assert raced
    assert Build.objects.get(enrolment=student).state == BuildState.QUEUED
    # Before the fix the refresh wrote now + IDLE_POLL (6 hours) over the trigger's value,
    # and the build stayed "running" on the board until the next idle read.
    assert _next_poll(student) <= timezone.now() + poll_interval()
    assert _next_poll(student) < before + IDLE_POLL


def test_a_first_build_recorded_after_an_idle_refresh_brings_the_next_look_forward(
    course: Course, monkeypatch: Any
) -> None:
    student = _student(course)
    backend = _Backend(student, [])
    monkeypatch.setattr(moving, "backend_of", lambda *args, **kwargs: backend)
    builds_refresh(enrolment_id=student.pk)
    assert _next_poll(student) > timezone.now() + dt.timedelta(hours=5)

    build_record(student, BuildInfo(external_id="first", state=BuildState.RUNNING))

    assert _next_poll(student) <= timezone.now() + poll_interval()


def test_the_finished_first_build_is_shown_within_one_interval(
    course: Course, monkeypatch: Any
) -> None:
    student = _student(course)
    backend = _Backend(student, [BuildInfo(external_id="first", state=BuildState.QUEUED)])
    monkeypatch.setattr(moving, "backend_of", lambda *args, **kwargs: backend)
    builds_refresh(enrolment_id=student.pk)
    due = _next_poll(student)
    backend.listed = [BuildInfo(external_id="first", state=BuildState.FAILED)]

    assert services.builds_claim_due(now=due) == [student.pk]
    builds_refresh(enrolment_id=student.pk)

    assert Build.objects.get(enrolment=student).state == BuildState.FAILED


def test_a_pushed_commit_is_polled_fast_until_its_build_finished(
    course: Course, monkeypatch: Any
) -> None:
    student = _student(course)
    backend = _Backend(student, [])
    monkeypatch.setattr(moving, "backend_of", lambda *args, **kwargs: backend)
    pushed = timezone.now()

    assert build_expected(enrolment_id=student.pk, sha="abc123", pushed_at=pushed)
    assert not build_expected(enrolment_id=student.pk, sha="old", pushed_at=pushed - EXPECT_FOR)
    assert _next_poll(student) <= timezone.now()

    backend.listed = [
        BuildInfo(
            external_id="b1", state=BuildState.RUNNING, commit_sha="abc123", created_at=pushed
        )
    ]
    builds_refresh(enrolment_id=student.pk)
    assert _next_poll(student) <= timezone.now() + expect_poll_interval()
    assert StudentRepository.objects.get(enrolment=student).expected_sha == "abc123"

    backend.listed = [
        BuildInfo(external_id="b1", state=BuildState.FAILED, commit_sha="abc123", created_at=pushed)
    ]
    builds_refresh(enrolment_id=student.pk)
    repository = StudentRepository.objects.get(enrolment=student)
    assert repository.expected_sha == ""
    assert repository.expected_at is None
    assert _next_poll(student) > timezone.now() + dt.timedelta(hours=5)


def test_an_expected_commit_without_a_build_is_awaited_only_for_a_while(course: Course) -> None:
    student = _student(course)
    now = timezone.now()
    build_expected(enrolment_id=student.pk, sha="abc", pushed_at=now)

    assert next_poll_at(student.pk, now, now) == now + expect_poll_interval()
    later = now + EXPECT_FOR + dt.timedelta(minutes=1)
    assert next_poll_at(student.pk, now, later) == later + IDLE_POLL
