"""Each onboarding step against the sandbox over HTTP: it acts once, and running it again
(or after someone else did the work) changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.credentials import dockerhub_client_for
from accounts.models import Course, Enrolment, InviteState, OnboardingState
from accounts.services import course_ensure_teams, course_invite_students, enrolment_record_error
from hubcourse.errors import ServiceUnavailable
from hubcourse.models import AuditEvent
from onboarding.state import enrolment_refresh_state
from repositories.models import StudentRepository
from repositories.services import (
    enrolment_join_student_team,
    repository_ensure,
    repository_grant_permissions,
)
from sandbox.dockerhub import team_grants
from tests.engine.support import accept_all_invites, created, make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    return course


def test_it_creates_the_course_teams_once(sandbox: Any, hub_course: Course) -> None:
    before = created(sandbox).get("dockerhub.group", 0)  # the seed's "owners" team
    course_ensure_teams(course_id=hub_course.pk)
    course_ensure_teams(course_id=hub_course.pk)

    hub_course.refresh_from_db()
    assert hub_course.team_id is not None and hub_course.instructors_team_id is not None
    assert created(sandbox).get("dockerhub.group", 0) == before + 2
    names = {t.name for t in dockerhub_client_for(hub_course).list_teams(hub_course.organisation)}
    assert {"students", "instructors"} <= names


def test_it_invites_the_whole_class_in_one_bulk_call(sandbox: Any, hub_course: Course) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    enrolments = make_class(sandbox, hub_course, 5, checked=True)

    assert course_invite_students(course_id=hub_course.pk) == 5
    assert course_invite_students(course_id=hub_course.pk) == 0

    assert requests_to(sandbox, "POST", "/v2/invites/bulk") == 1
    assert created(sandbox)["dockerhub.invite"] == 5
    for enrolment in enrolments:
        enrolment.refresh_from_db()
        assert enrolment.invite_state == InviteState.PENDING
        assert enrolment.invite_id
        assert enrolment.state == OnboardingState.INVITED


def test_an_unknown_docker_id_stops_only_that_student(sandbox: Any, hub_course: Course) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    good, typo = make_class(sandbox, hub_course, 2, checked=True)
    Enrolment.objects.filter(pk=typo.pk).update(docker_id="nosuchstudent")

    course_invite_students(course_id=hub_course.pk)

    good.refresh_from_db()
    typo.refresh_from_db()
    assert good.invite_state == InviteState.PENDING
    assert typo.state == OnboardingState.ERROR
    assert typo.error_step == "invite" and typo.error_permanent
    assert "nosuchstudent" in typo.error_message
    # Stopped students are not invited again on the next pass.
    course_invite_students(course_id=hub_course.pk)
    assert requests_to(sandbox, "POST", "/v2/invites/bulk") == 1


def test_it_creates_the_repository_once_when_run_twice(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)

    first = repository_ensure(enrolment_id=enrolment.pk)
    assert first is not None
    StudentRepository.objects.filter(pk=first.pk).update(created_at=None)  # a lost answer
    second = repository_ensure(enrolment_id=enrolment.pk)

    assert second is not None
    assert second.full_name == "revelare/docker-101-student000"
    assert second.created_at is not None and second.is_private is True
    assert created(sandbox)["dockerhub.repository"] == 1
    hub = dockerhub_client_for(hub_course).get_repository("revelare", "docker-101-student000")
    assert hub.is_private
    outcomes = list(
        AuditEvent.objects.filter(action="repository.create").values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == ["noop", "ok"]


def test_it_grants_course_team_read_and_instructors_admin(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository_ensure(enrolment_id=enrolment.pk)

    repository_grant_permissions(enrolment_id=enrolment.pk)
    repository_grant_permissions(enrolment_id=enrolment.pk)

    hub_course.refresh_from_db()
    granted = team_grants(sandbox.world, "revelare", "docker-101-student000")
    assert granted == {"students": "read", "instructors": "admin"}
    assert requests_to(sandbox, "POST", "/groups") == 2 + 2  # two teams, two grants
    repository = StudentRepository.objects.get(enrolment=enrolment)
    assert repository.permission_granted_at and repository.instructors_permission_at


def test_it_repairs_a_permission_changed_by_hand(sandbox: Any, hub_course: Course) -> None:
    # Read per team: the list of a repository's team permissions is never needed (issue 18).
    sandbox.world.config.update({"unconfirmed_routes_405": True})
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository_ensure(enrolment_id=enrolment.pk)
    repository_grant_permissions(enrolment_id=enrolment.pk)
    hub_course.refresh_from_db()
    client = dockerhub_client_for(hub_course)
    assert hub_course.team_id is not None
    client.change_team_permission("revelare", "docker-101-student000", hub_course.team_id, "write")

    repository_grant_permissions(enrolment_id=enrolment.pk)

    granted = team_grants(sandbox.world, "revelare", "docker-101-student000")
    assert granted["students"] == "read"


def test_team_per_student_adds_the_student_after_accepting(
    sandbox: Any, hub_course: Course
) -> None:
    hub_course.access_policy = Course.AccessPolicy.TEAM_PER_STUDENT
    hub_course.save()
    course_ensure_teams(course_id=hub_course.pk)
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    course_invite_students(course_id=hub_course.pk)

    # Before accepting: the team exists (so the permission can be granted), without them.
    assert enrolment_join_student_team(enrolment_id=enrolment.pk) is False
    repository_ensure(enrolment_id=enrolment.pk)
    # The engine passes the student team's permission the course's backend needs (autobuild:
    # the student administers their own repository, to link their automated build).
    repository_grant_permissions(enrolment_id=enrolment.pk, student_team="admin")
    client = dockerhub_client_for(hub_course)
    granted = team_grants(sandbox.world, "revelare", "docker-101-student000")
    assert granted == {"docker-101-student000": "admin", "instructors": "admin"}

    accept_all_invites(sandbox, "revelare")
    Enrolment.objects.filter(pk=enrolment.pk).update(member_at=enrolment.created_at)
    assert enrolment_join_student_team(enrolment_id=enrolment.pk) is True
    assert enrolment_join_student_team(enrolment_id=enrolment.pk) is True

    members = client.list_team_members("revelare", "docker-101-student000")
    assert [m.username for m in members] == ["student000"]
    assert requests_to(sandbox, "POST", "/groups/<group_name>/members") == 1


def test_a_transient_error_keeps_the_state_and_says_when_it_retries(
    sandbox: Any, hub_course: Course
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    error = ServiceUnavailable("Docker Hub", "create repository x", 503, "busy")

    enrolment_record_error(enrolment_id=enrolment.pk, step="repository", error=error)
    enrolment_record_error(enrolment_id=enrolment.pk, step="repository", error=error)

    enrolment.refresh_from_db()
    assert enrolment.error_step == "repository" and not enrolment.error_permanent
    assert enrolment.attempts == 2
    assert enrolment.state != OnboardingState.ERROR
    progress = enrolment_refresh_state(enrolment_id=enrolment.pk)
    assert progress is not None and progress.state == enrolment.state


def test_an_expired_invite_is_sent_again_not_duplicated(sandbox: Any, hub_course: Course) -> None:
    import datetime as dt

    from onboarding.tasks.course import resend_expired_invites

    course_ensure_teams(course_id=hub_course.pk)
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    course_invite_students(course_id=hub_course.pk)
    # Age the invite on the sandbox (moving its clock would also move its rate-limit reset
    # headers, which the shared governor learns from).
    with sandbox.world.lock:
        for invite in sandbox.world.dockerhub["orgs"]["revelare"]["invites"].values():
            invite["sent_at"] -= 15 * 24 * 3600
    Enrolment.objects.filter(pk=enrolment.pk).update(
        invited_at=enrolment.created_at - dt.timedelta(days=15)
    )

    resend_expired_invites()

    enrolment.refresh_from_db()
    assert enrolment.invite_state == InviteState.PENDING
    assert requests_to(sandbox, "PATCH", "/resend") == 1
    assert created(sandbox)["dockerhub.invite"] == 1
    assert accept_all_invites(sandbox, "revelare") == ["student000"]


def test_an_instructor_retry_clears_the_error_and_runs_the_student_again(
    sandbox: Any, hub_course: Course
) -> None:
    from onboarding.tasks.course import retry_student_task

    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    enrolment_record_error(
        enrolment_id=enrolment.pk, step="repository", error="refused", permanent=True
    )
    enrolment.refresh_from_db()
    assert enrolment.state == OnboardingState.ERROR

    retry_student_task.delay(enrolment.pk)

    enrolment.refresh_from_db()
    assert not enrolment.error_step
    assert StudentRepository.objects.get(enrolment=enrolment).created_at is not None
