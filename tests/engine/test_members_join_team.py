"""Students already in the organisation join a new course's team without an invitation.

Docker Hub answers a bulk invite for a member with "existing_org_member" and sends nothing:
no acceptance will ever come, so hubcourse adds them with the team-members route."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, Enrolment, InviteState, OnboardingState
from accounts.services import course_ensure_teams, course_invite_students
from onboarding.engine import apply_plan, plan_course
from sandbox import dockerhub as hub_state
from tests.engine.support import make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.team = "docker-101-students"
    course.save()
    return course


def _team_members(sandbox: Any, course: Course) -> set[str]:
    with sandbox.world.lock:
        org = sandbox.world.dockerhub["orgs"][course.organisation.lower()]
        return set(org["groups"][course.team]["members"])


def _invites(sandbox: Any, course: Course) -> set[str]:
    with sandbox.world.lock:
        org = sandbox.world.dockerhub["orgs"][course.organisation.lower()]
        return {i["invitee"] for i in org["invites"].values()}


def test_members_found_by_the_plan_are_added_to_the_team_and_nobody_waits(
    sandbox: Any, hub_course: Course
) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    students = make_class(sandbox, hub_course, 6, checked=True)
    members = [e.docker_id for e in students[:5]]
    for name in members:
        hub_state.make_member(sandbox.world, hub_course.organisation, name)

    plan = plan_course(hub_course, observe=True)
    team_steps = {
        plan.labels[s.enrolment_id]: s for s in plan.steps if s.step == "team" and s.enrolment_id
    }
    for enrolment in students[:5]:
        step = team_steps[enrolment.identifier]
        assert (step.kind, step.reason) == (
            "change",
            "in the organisation: add to the team directly",
        )
    assert team_steps[students[5].identifier].kind == "no-op"

    apply_plan(plan, follow_up=False)
    sandbox.world.wait_idle(timeout=20)

    assert _team_members(sandbox, hub_course) == set(members)
    assert _invites(sandbox, hub_course) == {students[5].docker_id}  # only the non-member
    for enrolment in Enrolment.objects.filter(docker_id__in=members):
        assert enrolment.team_at is not None
        assert enrolment.state not in (OnboardingState.MEMBER, OnboardingState.INVITED)
    again = plan_course(hub_course, observe=True)
    assert [s for s in again.steps if s.step == "team" and s.kind != "no-op"] == []


def test_the_bulk_invite_adds_existing_members_to_the_team_at_once(
    sandbox: Any, hub_course: Course
) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    ada, bob = make_class(sandbox, hub_course, 2, checked=True)
    # In the organisation (in another course's team), but hubcourse has not looked yet.
    hub_state.make_member(sandbox.world, hub_course.organisation, ada.docker_id)
    before = requests_to(sandbox, "POST", "/groups/<group_name>/members")

    invited = course_invite_students(course_id=hub_course.pk)

    assert invited == 1
    assert requests_to(sandbox, "POST", "/groups/<group_name>/members") - before == 1
    assert _team_members(sandbox, hub_course) == {ada.docker_id}
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert ada.invite_state == InviteState.ACCEPTED
    assert ada.member_at is not None and ada.team_at is not None
    assert ada.state == OnboardingState.IN_TEAM
    assert bob.invite_state == InviteState.PENDING and bob.team_at is None


def test_a_member_taken_out_of_the_team_by_hand_is_put_back(
    sandbox: Any, hub_course: Course
) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    (ada,) = make_class(sandbox, hub_course, 1, checked=True)
    hub_state.make_member(
        sandbox.world, hub_course.organisation, ada.docker_id, teams=(hub_course.team,)
    )
    plan_course(hub_course, observe=True)
    ada.refresh_from_db()
    assert ada.team_at is not None
    with sandbox.world.lock:
        org = sandbox.world.dockerhub["orgs"][hub_course.organisation.lower()]
        org["groups"][hub_course.team]["members"].remove(ada.docker_id)

    plan = plan_course(hub_course, observe=True)
    assert [s.kind for s in plan.for_enrolment(ada.pk) if s.step == "team"] == ["change"]
    apply_plan(plan, follow_up=False)

    assert _team_members(sandbox, hub_course) == {ada.docker_id}
