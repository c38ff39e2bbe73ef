"""Offboarding a course against the sandbox: preview, safeguards, the steps, resume, record."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import requests
from django.urls import reverse

from accounts import managed
from accounts.models import Course, CourseRole, Enrolment, InviteState, ManagedResource, User
from accounts.services import course_ensure_teams
from builds.models import Build, BuildState
from hubcourse.errors import Forbidden
from hubcourse.models import AuditEvent, JobStatus
from integrations.dockerhub.client import DockerHubClient
from onboarding import offboarding
from onboarding.models import Offboarding
from repositories.models import StudentRepository
from sandbox.dockerhub import team_grants
from tests.engine.support import requests_to
from tests.organisation.support import make_docker_ids

pytestmark = pytest.mark.django_db


def _org_state(sandbox):
    org = sandbox.seeded["dockerhub"]["org"]
    return requests.get(f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}", timeout=10).json()


def _accept(sandbox, invitee):
    org = sandbox.seeded["dockerhub"]["org"]
    response = requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}/accept", json={"invitee": invitee}, timeout=10
    )
    response.raise_for_status()


@pytest.fixture
def term(sandbox, course):
    """A course at the end of term in the sandbox:

    * ``learner0000``: member, in the team, a repository with a pushed image and a build;
    * ``learner0001``: the same, and also a student of another active course;
    * ``learner0002``: invited, never accepted;
    * the organisation's owner, enrolled by mistake (and the account hubcourse uses).
    """
    org = sandbox.seeded["dockerhub"]["org"]
    owner = sandbox.seeded["dockerhub"]["owner"]
    Course.objects.filter(pk=course.pk).update(organisation=org)
    course.refresh_from_db()
    course = course_ensure_teams(course_id=course.pk)
    client = DockerHubClient.from_settings()
    ids = make_docker_ids(sandbox, 3)
    results = {r.invitee: r for r in client.bulk_invite(org, ids, team=course.team)}
    _accept(sandbox, ids[0])
    _accept(sandbox, ids[1])
    for docker_id in ids:
        # What the course's own bulk invite records (made here by hand, as the rest).
        managed.record_created(course, ManagedResource.Kind.INVITATION, docker_id)
    enrolments = {}
    for docker_id in [*ids, owner]:
        member = docker_id != ids[2]
        enrolment = Enrolment.objects.create(
            course=course,
            identifier=f"{docker_id}@example.edu",
            name=docker_id.title(),
            docker_id=docker_id,
            invite_state=InviteState.ACCEPTED if member else InviteState.PENDING,
            invite_id="" if member else _invite_id(results[docker_id]),
        )
        if member and docker_id != owner:
            Enrolment.objects.filter(pk=enrolment.pk).update(member_at=enrolment.created_at)
            name = course.repository_name(docker_id)
            client.create_repository(org, name, is_private=True)
            managed.record_created(course, ManagedResource.Kind.REPOSITORY, f"{org}/{name}")
            client.grant_team_permission(org, name, course.team_id, "write")
            client.grant_team_permission(org, name, course.instructors_team_id, "admin")
            StudentRepository.objects.create(
                enrolment=enrolment, namespace=org, name=name, created_at=enrolment.created_at
            )
            push = requests.post(
                f"{sandbox.url}/_sandbox/dockerhub/repositories/{org}/{name}/push",
                json={"tag": "latest"},
                timeout=10,
            )
            push.raise_for_status()
            Build.objects.create(
                enrolment=enrolment,
                backend=course.build_backend,
                external_id=f"b-{docker_id}",
                state=BuildState.SUCCESS,
                commit_sha=f"{docker_id}c0ffee",
                tag="latest",
            )
        enrolments[docker_id] = enrolment
    other = Course.objects.create(
        name="Docker 201", slug="docker-201", organisation=org, team="students-201"
    )
    Enrolment.objects.create(course=other, identifier="l1@other.edu", docker_id=ids[1].upper())
    return {"course": course, "org": org, "owner": owner, "ids": ids, "enrolments": enrolments}


def _start(course, capture, action="archive", actor=None):
    with capture(execute=True):
        return offboarding.offboarding_start(
            course=course, repository_action=action, confirmation=course.name, actor=actor
        )


def test_the_preview_says_what_will_happen_without_calling_docker_hub(term, sandbox):
    calls_before = sum(
        sum(statuses.values())
        for routes in sandbox.world.stats["requests"].values()
        for statuses in routes.values()
    )
    preview = offboarding.offboarding_preview(term["course"])
    calls_after = sum(
        sum(statuses.values())
        for routes in sandbox.world.stats["requests"].values()
        for statuses in routes.values()
    )
    assert calls_after == calls_before
    rows = {row.docker_id: row for row in preview.rows}
    assert (
        rows["learner0001"].keep_in_organisation
        == "a student of another active course (Docker 201)"
    )
    assert rows["learner0001"].keep_in_team == ""  # the other course has its own team
    assert rows["learner0002"].invite_pending
    assert rows["learner0000"].repository.endswith("docker-101-learner0000")
    # Never read from Docker Hub here, but the owner is the account hubcourse signs in with.
    assert rows[term["owner"]].keep_in_organisation == "the account hubcourse signs in with"
    assert preview.counts["organisation"] == 2 and preview.counts["kept"] == 2


def test_offboarding_removes_students_keeps_the_safeguarded_and_archives(
    term, sandbox, django_capture_on_commit_callbacks, site_admin
):
    # Nothing here needs the routes nobody has seen on Docker Hub (issue 18).
    sandbox.world.config.update({"unconfirmed_routes_405": True})
    course = term["course"]
    job = _start(course, django_capture_on_commit_callbacks, actor=site_admin)
    job.refresh_from_db()
    course.refresh_from_db()

    assert job.status == JobStatus.DONE, job.error
    assert course.archived_at is not None
    state = _org_state(sandbox)
    assert set(state["members"]) == {term["owner"], "learner0001"}
    assert state["teams"][course.team]["members"] == []
    invites = {i["invitee"]: i["status"] for i in state["invites"]}
    assert invites["learner0002"] == "cancelled"

    client = DockerHubClient.from_settings()
    for docker_id in ("learner0000", "learner0001"):
        name = course.repository_name(docker_id)
        assert team_grants(sandbox.world, term["org"], name) == {
            course.team: "read",
            course.instructors_team: "admin",
        }
        assert client.get_repository(term["org"], name).description.startswith(
            "Archived: Docker 101"
        )

    items = {i.docker_id: i for i in job.items.all()}
    assert items[term["owner"]].keep_in_organisation == "an owner of the organisation"
    assert items["learner0001"].keep_in_organisation.startswith(
        "a student of another active course"
    )
    assert items["learner0000"].image_digest.startswith("sha256:")
    assert items["learner0000"].commit_sha == "learner0000c0ffee"
    assert items["learner0000"].build_state == BuildState.SUCCESS
    assert offboarding.offboarding_report(job) == {
        "students": 4,
        "snapshots": 2,
        "removed_from_team": 2,
        "removed_from_organisation": 1,
        "invites_cancelled": 1,
        "kept": 2,
        "repositories": 2,
    }
    assert AuditEvent.objects.filter(action="member.remove", outcome="ok").count() == 1
    assert AuditEvent.objects.filter(action="course.offboard_finish").exists()
    assert not AuditEvent.objects.filter(
        action="member.remove", target__contains=term["owner"], outcome="ok"
    ).exists()


def test_deleting_repositories_deletes_them_after_the_snapshot(
    term, sandbox, django_capture_on_commit_callbacks
):
    from hubcourse.errors import NotFound

    course = term["course"]
    job = _start(course, django_capture_on_commit_callbacks, action="delete")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    client = DockerHubClient.from_settings()
    with pytest.raises(NotFound):
        client.get_repository(term["org"], course.repository_name("learner0000"))
    assert job.items.get(docker_id="learner0000").image_digest.startswith("sha256:")


def test_an_owner_is_never_removed_even_when_promoted_after_the_preview(
    term, sandbox, django_capture_on_commit_callbacks
):
    course = term["course"]
    DockerHubClient.from_settings().update_member_role(term["org"], "learner0000", "owner")
    job = _start(course, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert "learner0000" in _org_state(sandbox)["members"]
    assert (
        job.items.get(docker_id="learner0000").keep_in_organisation
        == "an owner of the organisation"
    )


def test_the_account_hubcourse_signs_in_with_is_never_removed(db, settings, course):
    settings.DOCKERHUB_USERNAME = "hubbot"
    Enrolment.objects.create(course=course, identifier="bot@example.edu", docker_id="HubBot")
    row = offboarding.offboarding_preview(course).rows[0]
    assert row.keep_in_organisation == "the account hubcourse signs in with"


def test_a_failure_mid_way_stops_with_a_sentence_and_resume_does_only_what_is_left(
    term, sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    course = term["course"]
    real_remove = DockerHubClient.remove_member

    def refuse_learner0002(self, org, username):
        if username == "learner0002":
            raise Forbidden("Docker Hub", f"remove {username} from {org}", 403, "not allowed")
        return real_remove(self, org, username)

    monkeypatch.setattr(DockerHubClient, "remove_member", refuse_learner0002)
    job = _start(course, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "not allowed" in job.error
    assert job.step == Offboarding.Step.ORGANISATION
    assert "learner0002" in job.items.get(docker_id="learner0002").error
    team_removals = requests_to(sandbox, "DELETE", "/groups/<group_name>/members/")
    snapshots = requests_to(sandbox, "GET", "/tags/<tag>")
    assert team_removals == 3 and snapshots == 2

    monkeypatch.setattr(DockerHubClient, "remove_member", real_remove)
    with django_capture_on_commit_callbacks(execute=True):
        assert offboarding.offboarding_resume(job_id=job.pk, actor=None)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    # Nothing done before the failure was done again.
    assert requests_to(sandbox, "DELETE", "/groups/<group_name>/members/") == team_removals
    assert requests_to(sandbox, "GET", "/tags/<tag>") == snapshots
    assert set(_org_state(sandbox)["members"]) == {term["owner"], "learner0001"}
    assert job.items.filter(error="").count() == 4


def test_build_configurations_are_removed_through_the_backend_once_each(
    term, sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    from builds import backends

    removed = []

    class Recorder:
        name = "recorder"

        name = term["course"].build_backend
        label = "recorder"
        removal_note = ""

        def has_configuration(self, repository):
            # The backend, not a column, says what of a build is left (here: one student's).
            return repository.enrolment.docker_id == "learner0000"

        def remove(self, enrolment):
            removed.append(enrolment.docker_id)

    monkeypatch.setitem(backends.BACKENDS, term["course"].build_backend, Recorder())
    _start(term["course"], django_capture_on_commit_callbacks)
    assert removed == ["learner0000"]


def test_the_record_says_what_the_backend_did_with_the_build(
    term, sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    from builds import backends
    from onboarding.models import OffboardingItem

    said = "Docker Hub refused to remove the automated build; its rules were switched off"

    class Disabling:
        name = "disabling"

        label = "a backend that can only switch builds off"
        removal_note = ""

        def has_configuration(self, repository):
            return True

        def remove(self, enrolment):
            return said

    monkeypatch.setitem(backends.BACKENDS, term["course"].build_backend, Disabling())
    _start(term["course"], django_capture_on_commit_callbacks)

    item = OffboardingItem.objects.get(docker_id="learner0000")
    assert said in item.notes and "build configuration removed" not in item.notes


# -- the wizard's pages --------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", [("ta", 403), ("student", 404), ("outsider", 404)])
def test_only_instructors_and_admins_reach_the_wizard(client, course, who, status, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("organisation:offboard", args=[course.slug])).status_code == status


def test_an_instructor_of_another_course_gets_404(client, course):
    other = Course.objects.create(name="Other", slug="other")
    user = User.objects.create_user("x@example.edu", "pw")
    CourseRole.objects.create(course=other, user=user, role=CourseRole.Role.INSTRUCTOR)
    client.force_login(user)
    assert client.get(reverse("organisation:offboard", args=[course.slug])).status_code == 404


def test_a_wrong_course_name_changes_nothing(client, instructor, course):
    client.force_login(instructor)
    response = client.post(
        reverse("organisation:offboard", args=[course.slug]),
        {"repository_action": "archive", "confirmation": "docker 101"},
    )
    assert response.status_code == 200
    assert "This does not match the course name" in response.content.decode()
    course.refresh_from_db()
    assert course.archived_at is None and not Offboarding.objects.exists()


def test_the_instructor_runs_the_wizard_and_downloads_the_record(
    client, instructor, term, django_capture_on_commit_callbacks
):
    course = term["course"]
    client.force_login(instructor)
    page = client.get(reverse("organisation:offboard", args=[course.slug])).content.decode()
    assert "What will happen, in this order" in page and "Type the course name to confirm" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("organisation:offboard", args=[course.slug]),
            {"repository_action": "archive", "confirmation": course.name},
        )
    job = Offboarding.objects.get()
    assert response["Location"] == reverse(
        "organisation:offboarding_detail", args=[course.slug, job.pk]
    )
    progress = client.get(
        reverse("organisation:offboarding_progress", args=[course.slug, job.pk])
    ).content.decode()
    assert "data-poll-stop" in progress and "Report" in progress
    download = client.get(
        reverse("organisation:offboarding_snapshot_csv", args=[course.slug, job.pk])
    )
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    by_id = {r[2]: r for r in rows[1:]}
    assert by_id["learner0000"][5].startswith("sha256:")
    assert by_id["learner0000"][7] == "learner0000c0ffee"
    assert by_id["learner0001"][10].startswith("kept: a student of another active course")
    # A second visit to the wizard shows the finished job's record, not a second start.
    again = client.get(reverse("organisation:offboard", args=[course.slug])).content.decode()
    assert "Earlier offboardings" in again


def _invite_id(result: Any) -> str:
    assert result.invite is not None, f"{result.invitee} was not invited"
    return str(result.invite.id)
