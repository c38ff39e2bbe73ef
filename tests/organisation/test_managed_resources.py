"""hubcourse changes only what a course made, or what a site admin let it adopt (issue 21).

A second instructor's course whose repository template names a repository that already
exists (made by another course, or by nobody hubcourse knows) must not take it over, and its
offboarding must neither delete that repository nor remove a member it never invited.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from accounts import managed
from accounts.models import Course, CourseRole, Enrolment, InviteState, ManagedResource, User
from accounts.services import course_ensure_teams
from hubcourse.errors import NotFound, ValidationError
from integrations.dockerhub.client import DockerHubClient
from onboarding import offboarding
from onboarding.engine import observe_course, plan_course
from onboarding.models import Offboarding
from repositories.models import StudentRepository
from repositories.services import repository_ensure
from tests.organisation.support import make_docker_ids

pytestmark = pytest.mark.django_db


def _members(sandbox: Any) -> set[str]:
    org = sandbox.seeded["dockerhub"]["org"]
    state = requests.get(f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}", timeout=10).json()
    return {name.lower() for name in state["members"]}


def _accept(sandbox: Any, invitee: str) -> None:
    org = sandbox.seeded["dockerhub"]["org"]
    requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}/accept", json={"invitee": invitee}, timeout=10
    ).raise_for_status()


@pytest.fixture
def two_courses(sandbox: Any, course: Course) -> dict[str, Any]:
    """Course A (archived: its term is over) made ``learner0000``'s repository and invited
    them; ``learner0001`` and repository ``learner0001`` were made by hand, by nobody
    hubcourse knows. Course B, of a second instructor, names its repositories ``{docker_id}``
    and enrols both."""
    org = sandbox.seeded["dockerhub"]["org"]
    client = DockerHubClient.from_settings()
    ids = make_docker_ids(sandbox, 2)
    Course.objects.filter(pk=course.pk).update(organisation=org)
    course_a = course_ensure_teams(course_id=course.pk)
    assert course_a is not None
    client.bulk_invite(org, ids, team=course_a.team)
    for docker_id in ids:
        _accept(sandbox, docker_id)
    managed.record_created(course_a, ManagedResource.Kind.INVITATION, ids[0])
    for docker_id in ids:
        client.create_repository(org, docker_id, is_private=True)
    managed.record_created(course_a, ManagedResource.Kind.REPOSITORY, f"{org}/{ids[0]}")
    Course.objects.filter(pk=course_a.pk).update(archived_at=course_a.created_at)

    new_course = Course.objects.create(
        name="Docker 202",
        slug="docker-202",
        organisation=org,
        team="students-202",
        instructors_team="instructors-202",
        repo_name_template="{docker_id}",
    )
    bea = User.objects.create_user("bea.instructor@example.edu", "pw-for-bea-0123")
    CourseRole.objects.create(course=new_course, user=bea, role=CourseRole.Role.INSTRUCTOR)
    course_b = course_ensure_teams(course_id=new_course.pk)
    assert course_b is not None
    enrolments = [
        Enrolment.objects.create(
            course=course_b,
            identifier=f"{docker_id}@example.edu",
            docker_id=docker_id,
            invite_state=InviteState.ACCEPTED,
            member_at=course_b.created_at,
        )
        for docker_id in ids
    ]
    return {"org": org, "ids": ids, "a": course_a, "b": course_b, "bea": bea, "e": enrolments}


def test_a_course_does_not_take_over_a_repository_it_did_not_create(two_courses):
    org, ids, course_b = two_courses["org"], two_courses["ids"], two_courses["b"]
    for enrolment in two_courses["e"]:
        with pytest.raises(managed.NotOurs) as caught:
            repository_ensure(enrolment_id=enrolment.pk)
        assert "did not create" in str(caught.value)
        assert "site admin" in str(caught.value)
        row = StudentRepository.objects.filter(enrolment=enrolment).first()
        assert row is None or row.created_at is None
    assert not managed.owned(course_b, ManagedResource.Kind.REPOSITORY, f"{org}/{ids[0]}")
    assert managed.found(course_b, ManagedResource.Kind.REPOSITORY, f"{org}/{ids[1]}")


def test_the_plan_offers_an_existing_repository_for_adoption_and_plans_nothing_on_it(
    two_courses,
):
    course_b = two_courses["b"]
    observe_course(course_b)
    for enrolment in two_courses["e"]:
        enrolment.refresh_from_db()
        row = StudentRepository.objects.filter(enrolment=enrolment).first()
        assert row is None or row.created_at is None
    plan = plan_course(course_b)
    for enrolment in two_courses["e"]:
        steps = {s.step: s for s in plan.for_enrolment(enrolment.pk)}
        assert steps["repository"].kind == "adopt"
        assert not steps["repository"].actionable
        # Nothing that would touch the repository is planned until it is adopted.
        assert "permissions" not in steps
        assert "configure_build" not in steps


def test_only_a_site_admin_adopts_and_then_the_course_may_use_it(two_courses, site_admin):
    org, ids, course_b = two_courses["org"], two_courses["ids"], two_courses["b"]
    observe_course(course_b)
    found = ManagedResource.objects.get(
        course=course_b, kind=ManagedResource.Kind.REPOSITORY, name=f"{org}/{ids[1]}".lower()
    )
    with pytest.raises(managed.AdoptionRefused):
        managed.adopt(found, by=two_courses["bea"])
    assert not managed.owned(course_b, ManagedResource.Kind.REPOSITORY, found.name)
    managed.adopt(found, by=site_admin)
    row = repository_ensure(enrolment_id=two_courses["e"][1].pk)
    assert row is not None and row.created_at is not None
    steps = {s.step: s for s in plan_course(course_b).for_enrolment(two_courses["e"][1].pk)}
    assert steps["repository"].kind == "no-op"


def test_a_second_course_cannot_delete_repositories_or_remove_members_it_never_made(
    two_courses, sandbox, django_capture_on_commit_callbacks
):
    org, ids, course_b = two_courses["org"], two_courses["ids"], two_courses["b"]
    client = DockerHubClient.from_settings()
    # As the old code left it: the rows say the repositories are the students' own.
    for enrolment in two_courses["e"]:
        StudentRepository.objects.create(
            enrolment=enrolment,
            namespace=org.lower(),
            name=enrolment.docker_id,
            created_at=enrolment.created_at,
        )
    preview = offboarding.offboarding_preview(course_b)
    rows = {row.docker_id: row for row in preview.rows}
    for docker_id in ids:
        assert rows[docker_id].repository == ""
        assert "not created or adopted by this course" in rows[docker_id].keep_repository
        assert rows[docker_id].keep_in_organisation == offboarding.REASON_NOT_OURS
    assert preview.counts["repositories"] == 0
    assert preview.counts["organisation"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        job = offboarding.offboarding_start(
            course=course_b,
            repository_action="delete",
            confirmation=course_b.name,
            actor=two_courses["bea"],
        )
    job.refresh_from_db()
    assert job.status == "done", job.error
    for docker_id in ids:
        client.get_repository(org, docker_id)  # still there (NotFound would fail the test)
    assert set(ids) <= _members(sandbox)
    assert offboarding.offboarding_report(job)["removed_from_organisation"] == 0


def test_the_typed_confirmation_is_still_required(two_courses):
    with pytest.raises((offboarding.ConfirmationError, ValidationError)):
        offboarding.offboarding_start(
            course=two_courses["b"],
            repository_action=Offboarding.RepositoryAction.DELETE,
            confirmation="docker 202",
            actor=two_courses["bea"],
        )


def test_a_course_deletes_the_repositories_it_created_and_removes_whom_it_invited(
    sandbox, course, django_capture_on_commit_callbacks
):
    org = sandbox.seeded["dockerhub"]["org"]
    client = DockerHubClient.from_settings()
    (docker_id,) = make_docker_ids(sandbox, 1, prefix="own")
    Course.objects.filter(pk=course.pk).update(organisation=org)
    course = course_ensure_teams(course_id=course.pk)
    assert course is not None
    enrolment = Enrolment.objects.create(
        course=course, identifier="own@example.edu", docker_id=docker_id
    )
    from accounts.models import PreflightState
    from accounts.services import course_invite_students

    Enrolment.objects.filter(pk=enrolment.pk).update(preflight_state=PreflightState.PASSED)
    assert course_invite_students(course_id=course.pk) == 1
    _accept(sandbox, docker_id)
    Enrolment.objects.filter(pk=enrolment.pk).update(member_at=enrolment.created_at)
    row = repository_ensure(enrolment_id=enrolment.pk)
    assert row is not None and row.created_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        job = offboarding.offboarding_start(
            course=course, repository_action="delete", confirmation=course.name, actor=None
        )
    job.refresh_from_db()
    assert job.status == "done", job.error
    with pytest.raises(NotFound):
        client.get_repository(org, row.name)
    assert docker_id not in _members(sandbox)
