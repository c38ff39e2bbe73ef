"""Courses applied at once take turns on the shared budget: no course queues more than its
window of students' chains, and the end of one of its chains queues its next students."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, PreflightState
from onboarding import engine
from onboarding.tasks import course as course_tasks
from onboarding.tasks import steps as step_tasks

pytestmark = pytest.mark.django_db(transaction=True)

WINDOW = 2


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[int]:
    """The enrolments whose chain was queued, in the broker's order (nothing runs)."""
    settings.HUBCOURSE_CHAINS_PER_COURSE = WINDOW
    cache.clear()
    sent: list[int] = []

    class Queued:
        def __init__(self, *signatures: Any) -> None:
            self.enrolment_id = signatures[0].args[0]

        def delay(self) -> None:
            sent.append(self.enrolment_id)

    monkeypatch.setattr(engine, "chain", Queued)
    return sent


def _course(n: int) -> Course:
    """A course whose students all passed pre-flight and joined: their repositories and
    builds are what is left, the chains a term's start queues."""
    course = Course.objects.create(
        name=f"Course {n}",
        slug=f"course{n}",
        organisation="revelare",
        team=f"c{n}-students",
        instructors_team=f"c{n}-instructors",
        team_id=1,
        instructors_team_id=2,
    )
    now = timezone.now()
    Enrolment.objects.bulk_create(
        Enrolment(
            course=course,
            identifier=f"c{n}s{i}@example.edu",
            docker_id=f"c{n}s{i}",
            github_repo=f"revelare-instructor/c{n}s{i}-course",
            preflight_state=PreflightState.PASSED,
            docker_id_verified_at=now - dt.timedelta(minutes=5),
            invite_state=InviteState.ACCEPTED,
            member_at=now,
            team_at=now,
        )
        for i in range(5)
    )
    return course


def _apply(course: Course) -> engine.Applied:
    return engine.apply_plan(engine.plan_course(course), follow_up=False)


def _course_of(enrolment_ids: list[int]) -> list[int]:
    by_id = dict(Enrolment.objects.values_list("pk", "course_id"))
    return [by_id[e] for e in enrolment_ids]


def test_a_course_applied_first_does_not_fill_the_queue_before_the_next_course(
    queued: list[int],
) -> None:
    first, second = _course(1), _course(2)

    applied = _apply(first)
    _apply(second)

    assert (applied.chains, applied.held_back) == (WINDOW, 3)
    # Both courses' chains are in the queue near its head, not five of the first course's.
    assert _course_of(queued) == [first.pk] * WINDOW + [second.pk] * WINDOW


def test_the_end_of_a_chain_queues_the_next_student_of_its_course(
    queued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    course = _course(1)
    refills: list[int] = []
    monkeypatch.setattr(
        course_tasks.refill_course_task,
        "apply_async",
        lambda args, countdown=None: refills.append(args[0]),
    )
    _apply(course)
    done = queued[0]
    token = engine.pipeline_lease(done)
    assert token is not None

    step_tasks.pipeline_done(done, token.token)
    # A second chain ending at the same moment shares the refill.
    step_tasks.pipeline_done(queued[1], engine.pipeline_lease(queued[1]).token)  # type: ignore[union-attr]

    assert refills == [course.pk]
    # The refill pass fills the places the ended chains left (here with the same students:
    # nothing ran, so their steps are still to do), and no more.
    course_tasks.refill_course_task(course.pk)
    assert len(queued) == 2 * WINDOW
    assert _course_of(queued) == [course.pk] * 2 * WINDOW


def test_without_a_window_every_student_is_queued_at_once(queued: list[int], settings: Any) -> None:
    settings.HUBCOURSE_CHAINS_PER_COURSE = 0
    course = _course(1)

    applied = _apply(course)

    assert (applied.chains, applied.held_back) == (5, 0)
