"""A failed first build needs the student's attention: the board counts it so, not "running"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, OnboardingState, PreflightState
from builds.models import Build, BuildState
from onboarding import board
from onboarding.state import enrolment_refresh_state
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db


def _configured(course: Course, name: str) -> Enrolment:
    now = timezone.now()
    enrolment = Enrolment.objects.create(
        course=course,
        identifier=f"{name}@uni.example",
        docker_id=name,
        preflight_state=PreflightState.PASSED,
        docker_id_verified_at=now,
        invite_state=InviteState.ACCEPTED,
        member_at=now,
        team_at=now,
    )
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name=name,
        created_at=now,
        permission_granted_at=now,
        build_configured_at=now,
    )
    return enrolment


def _build(enrolment: Enrolment, n: int, state: BuildState) -> None:
    Build.objects.create(
        enrolment=enrolment,
        backend="dockerhub-autobuild",
        external_id=f"{enrolment.pk}-{n}",
        state=state,
        created_at=timezone.now() + dt.timedelta(seconds=n),
    )


def test_a_failed_first_build_is_counted_as_needing_attention(course: Course) -> None:
    failed = _configured(course, "failed")
    _build(failed, 1, BuildState.FAILED)
    running = _configured(course, "running")
    _build(running, 1, BuildState.RUNNING)
    fixed = _configured(course, "fixed")
    _build(fixed, 1, BuildState.FAILED)
    _build(fixed, 2, BuildState.SUCCESS)
    broken_later = _configured(course, "later")
    _build(broken_later, 1, BuildState.SUCCESS)
    _build(broken_later, 2, BuildState.FAILED)
    for enrolment in (failed, running, fixed, broken_later):
        enrolment_refresh_state(enrolment_id=enrolment.pk)

    total, counts = board.state_counts(course)

    assert total == 4
    assert {c.state: c.count for c in counts} == {
        "attention": 1,
        "5": 1,
        "done": 2,
    }
    filtered = board.board_queryset(course, board.BoardFilters.from_query(QueryDict("errors=1")))
    # "Problems only" also lists a student done with onboarding whose latest build failed.
    assert [e.pk for e in filtered] == [failed.pk, broken_later.pk]
    row = board.board_rows(course, filtered)[0]
    assert row.summary == "The first build failed: read its log; the next push builds again."
    assert Enrolment.objects.get(pk=failed.pk).state == OnboardingState.ERROR


def test_a_good_push_after_a_failed_first_build_moves_the_student_on(course: Course) -> None:
    student = _configured(course, "ada")
    _build(student, 1, BuildState.FAILED)
    enrolment_refresh_state(enrolment_id=student.pk)
    _build(student, 2, BuildState.SUCCESS)

    progress = enrolment_refresh_state(enrolment_id=student.pk)

    assert progress is not None
    assert progress.state == OnboardingState.FIRST_BUILD_SUCCEEDED
