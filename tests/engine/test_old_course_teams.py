"""A renamed course team or instructors' team is desired state too: apply moves everyone to
the new team, and the old one is deleted once the new one holds every member and permission
it gave, unless another active course uses it or this course did not make it (then the plan
says so). Against the sandbox over HTTP, on whatever database and broker the settings give."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, ManagedResource, User
from hubcourse.models import AuditEvent
from onboarding.courses import course_apply, course_update
from onboarding.engine import PlanStep, apply_plan, plan_course
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from tests.engine.support import accept_all_invites
from tests.engine.test_converge import converge
from tests.engine.test_desired_state import _change, _onboard, _settled_again

pytestmark = pytest.mark.django_db(transaction=True)

NEW_TEAM = "docker-101-2026"
STAFF = "docker-101-staff"
# An instructor the organisation's owner put in the instructors' team by hand.
INES = "ines"


def _teams(sandbox: Any, org: str) -> dict[str, list[str]]:
    """Team name -> its members, read from the sandbox."""
    with sandbox.world.lock:
        groups = sandbox.world.dockerhub["orgs"][org.lower()]["groups"]
        return {str(g["name"]): sorted(g["members"]) for g in groups.values()}


def _course_rows(steps: list[PlanStep]) -> set[tuple[str, str, str]]:
    return {(s.kind, s.target, s.reason) for s in steps if s.enrolment_id is None}


def _students(course: Course) -> list[str]:
    return sorted(course.enrolments.values_list("docker_id", flat=True))


def _grants(sandbox: Any, course: Course) -> list[dict[str, str]]:
    return [
        hub_state.team_grants(sandbox.world, r.namespace, r.name)
        for r in StudentRepository.objects.filter(enrolment__course=course)
    ]


def test_a_renamed_course_team_is_deleted_once_the_new_one_holds_every_student(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, size=4)
    org, old = course.organisation, course.team

    _change(course, team=NEW_TEAM)
    plan = plan_course(course, observe=True)

    assert (
        "delete",
        f"{org}/{old}",
        f"delete old team {old} (renamed to {NEW_TEAM}) once {NEW_TEAM} holds every student "
        "and permission it gave",
    ) in _course_rows(plan.steps)
    # One apply: the old team goes when the last student's chain has moved them.
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    teams = _teams(sandbox, org)
    assert old not in teams
    assert teams[NEW_TEAM] == _students(course)
    assert _grants(sandbox, course) == [{NEW_TEAM: "read", "instructors": "admin"}] * 4
    course.refresh_from_db()
    assert course.old_teams == {}
    assert AuditEvent.objects.filter(
        action="team.delete", target=f"{org}/{old}", outcome="ok"
    ).exists()
    _settled_again(sandbox, course)
    assert _teams(sandbox, org) == teams


def test_an_old_team_another_active_course_uses_stays_and_the_plan_says_why(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, size=3)
    org, old = course.organisation, course.team
    Course.objects.create(
        name="Docker 201",
        slug="docker-201",
        organisation=org,
        team="docker-201-students",
        instructors_team=old,
    )

    _change(course, team=NEW_TEAM)
    plan = plan_course(course, observe=True)

    said = (
        "no-op",
        f"{org}/{old}",
        f"the old team {old} stays: the course Docker 201 (docker-201) uses it as its "
        "instructors' team",
    )
    assert said in _course_rows(plan.steps)
    assert not [s for s in plan.actionable if s.kind == "delete"]
    converge(sandbox, course)
    teams = _teams(sandbox, org)
    assert old in teams
    assert teams[NEW_TEAM] == _students(course)
    assert _grants(sandbox, course) == [{NEW_TEAM: "read", "instructors": "admin"}] * 3
    assert not AuditEvent.objects.filter(action="team.delete").exists()
    _settled_again(sandbox, course)
    assert said in _course_rows(plan_course(course, observe=True).steps)

    # Once that course is archived, nothing else holds the team: the next apply deletes it.
    Course.objects.filter(slug="docker-201").update(archived_at=course.created_at)
    converge(sandbox, course)
    assert old not in _teams(sandbox, org)


def test_an_old_team_the_course_did_not_make_stays(sandbox: Any, course: Course) -> None:
    _onboard(sandbox, course, size=3)
    org, old = course.organisation, course.team
    # It existed before the course, and no site admin let the course adopt it.
    ManagedResource.objects.filter(
        course=course, kind=ManagedResource.Kind.TEAM, name=f"{org}/{old}".lower()
    ).update(origin=ManagedResource.Origin.FOUND)

    _change(course, team=NEW_TEAM)
    plan = plan_course(course, observe=True)

    said = ("no-op", f"{org}/{old}", f"the old team {old} stays: this course did not create it")
    assert said in _course_rows(plan.steps)
    converge(sandbox, course)
    teams = _teams(sandbox, org)
    assert old in teams and teams[NEW_TEAM] == _students(course)
    _settled_again(sandbox, course)
    assert said in _course_rows(plan_course(course, observe=True).steps)


def test_a_renamed_instructors_team_takes_its_members_along_before_it_goes(
    sandbox: Any, course: Course, instructor: User
) -> None:
    _onboard(sandbox, course, size=3)
    org = course.organisation
    hub_state.create_user(sandbox.world, INES, f"{INES}-password", f"{INES}@example.edu")
    hub_state.make_member(sandbox.world, org, INES, teams=("instructors",))

    # Saved on the settings page; the plan page's Apply reads the rows only.
    assert course_update(course=course, actor=instructor, values={"instructors_team": STAFF}) == [
        "instructors_team"
    ]
    plan = plan_course(course)
    assert (
        "delete",
        f"{org}/instructors",
        f"delete old team instructors (renamed to {STAFF}) once {STAFF} holds every instructor "
        "and permission it gave",
    ) in _course_rows(plan.steps)
    course_apply(course=course, actor=instructor)
    accept_all_invites(sandbox, org)
    sandbox.world.wait_idle(timeout=30)

    teams = _teams(sandbox, org)
    assert "instructors" not in teams
    assert INES in teams[STAFF]
    assert _grants(sandbox, course) == [{course.team: "read", STAFF: "admin"}] * 3
    _settled_again(sandbox, course)


def test_a_deletion_whose_record_was_lost_resumes_as_done(sandbox: Any, course: Course) -> None:
    _onboard(sandbox, course, size=3)
    org, old = course.organisation, course.team
    _change(course, team=NEW_TEAM)
    converge(sandbox, course)
    assert old not in _teams(sandbox, org)
    # The worker deleted the team and died before the row said so.
    Course.objects.filter(pk=course.pk).update(old_teams={old: "team"})
    course.refresh_from_db()

    plan = plan_course(course, observe=True)
    assert [s.kind for s in plan.actionable] == ["delete"]
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)

    course.refresh_from_db()
    assert course.old_teams == {}
    assert AuditEvent.objects.filter(
        action="team.delete", target=f"{org}/{old}", outcome="noop", message="already gone"
    ).exists()
    assert _teams(sandbox, org)[NEW_TEAM] == _students(course)
    _settled_again(sandbox, course)
