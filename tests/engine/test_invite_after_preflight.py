"""The class is invited in one bulk call as soon as its last student passes pre-flight, not
one reconcile pass later."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, InviteState
from accounts.services import course_ensure_teams
from onboarding import engine
from tests.engine.support import created, make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_last_student_to_pass_preflight_sends_the_class_invite(
    sandbox: Any, course: Course
) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    course_ensure_teams(course_id=course.pk)
    make_class(sandbox, course, 3)

    # No follow-up pass: only the pre-flight steps can have sent the invite.
    engine.apply_plan(engine.plan_course(course), follow_up=False)

    states = set(course.enrolments.values_list("invite_state", flat=True))
    assert states == {InviteState.PENDING}
    # The pre-flight's dry run of the class's Docker IDs, then the one invite.
    assert requests_to(sandbox, "POST", "/v2/invites/bulk") == 2
    assert created(sandbox)["dockerhub.invite"] == 3
