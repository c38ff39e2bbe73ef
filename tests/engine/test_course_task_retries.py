"""A course task that the database refused for a moment (a deadlock victim) runs again
instead of leaving the class to the next periodic pass."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from accounts.models import Course, InviteState
from accounts.services import course_ensure_teams
from hubcourse import tasks as policy
from hubcourse.celery import app
from onboarding.tasks import course as course_tasks
from tests.engine.support import make_class

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_deadlocked_bulk_invite_is_retried(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(policy, "BACKOFF_BASE", 0)
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    course_ensure_teams(course_id=course.pk)
    make_class(sandbox, course, 2, checked=True)
    real = course_tasks.course_invite_students  # type: ignore[attr-defined]
    calls: list[int] = []

    def deadlocked_once(**kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    monkeypatch.setattr(course_tasks, "course_invite_students", deadlocked_once)

    course_tasks.course_invite_task.delay(course.pk)

    assert len(calls) == 2
    assert set(course.enrolments.values_list("invite_state", flat=True)) == {InviteState.PENDING}
