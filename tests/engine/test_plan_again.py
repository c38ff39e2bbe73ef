"""A student whose chain is still running when something changes (the first build their move
waits for finishes) is planned again when that chain ends: once, and with nothing polling
meanwhile. A poll at the broker's default priority is served before the chain's own steps, so
polling kept the chain, and the poll itself, waiting (a class of 50 stalled mid-move)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course
from onboarding import engine
from onboarding.tasks import steps as step_tasks
from onboarding.tasks.course import reconcile_student_task
from tests.engine.support import make_class

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def planned_again(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The students a new one-student pass was queued for (not run: that is another test's)."""
    queued: list[int] = []
    monkeypatch.setattr(
        reconcile_student_task, "delay", lambda enrolment_id: queued.append(enrolment_id)
    )
    return queued


def test_a_student_held_by_a_chain_is_planned_again_once_when_it_ends(
    sandbox: Any, hub_course: Course, planned_again: list[int]
) -> None:
    (ada,) = make_class(sandbox, hub_course, 1, checked=True)
    token = engine.pipeline_claim(ada.pk)  # her chain, queued or running

    reconcile_student_task.apply(args=(ada.pk,))
    reconcile_student_task.apply(args=(ada.pk,))

    assert planned_again == []  # nothing looks again while the chain holds her
    step_tasks.pipeline_done.apply(args=(ada.pk,), kwargs={"lease": token})
    assert planned_again == [ada.pk]
    step_tasks.pipeline_done.apply(args=(ada.pk,), kwargs={"lease": token})
    assert planned_again == [ada.pk]  # asked for once, planned once


def test_a_chain_that_ended_between_the_look_and_the_note_is_not_waited_for(
    sandbox: Any, hub_course: Course, planned_again: list[int]
) -> None:
    (ada,) = make_class(sandbox, hub_course, 1, checked=True)

    # The pass found her chain running; by the time it notes so, the chain has ended.
    assert engine.pipeline_again(ada.pk)
    engine.pipeline_ended(ada.pk)

    assert planned_again == []  # the caller plans now; the ended chain asks for nothing


def test_a_chain_ending_without_a_request_plans_nobody_again(
    sandbox: Any, hub_course: Course, planned_again: list[int]
) -> None:
    (ada,) = make_class(sandbox, hub_course, 1, checked=True)
    token = engine.pipeline_claim(ada.pk)

    step_tasks.pipeline_done.apply(args=(ada.pk,), kwargs={"lease": token})

    assert planned_again == []
