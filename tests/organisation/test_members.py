"""Members and invites: read from Docker Hub, shown from the database, resent and cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts import bulk_invites, membership
from accounts.models import Enrolment, OrgInvite, OrgMember, OrgSnapshot
from hubcourse.models import AuditEvent, JobStatus
from tests.engine.support import requests_to
from tests.organisation.support import accept_all_invites, make_docker_ids, make_team, parse_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, site_admin):
    client.force_login(site_admin)
    return client


def _invite(sandbox, text, team="students"):
    job = bulk_invites.bulk_invite_create(
        rows=parse_text(text), organisation=sandbox.seeded["dockerhub"]["org"], team=team
    )
    while bulk_invites.bulk_invite_run_chunk(job_id=job.pk):
        pass
    bulk_invites.bulk_invite_confirm(job_id=job.pk)
    while bulk_invites.bulk_invite_run_chunk(job_id=job.pk):
        pass


def _sandbox_invites(sandbox):
    org = sandbox.seeded["dockerhub"]["org"]
    body = requests.get(f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}", timeout=10).json()
    return {i["invitee"]: i["status"] for i in body["invites"]}


@pytest.fixture
def organisation(sandbox):
    """An organisation with an owner, two accepted members and two pending invites."""
    make_team(sandbox)
    make_docker_ids(sandbox, 4)
    _invite(sandbox, "learner0000 learner0001")
    accept_all_invites(sandbox, sandbox.seeded["dockerhub"]["org"])
    _invite(sandbox, "learner0002 learner0003")
    return sandbox.seeded["dockerhub"]["org"]


@pytest.mark.parametrize("who", ["instructor", "ta", "student", "outsider"])
def test_only_site_admins_see_the_members(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("organisation:members")).status_code == 403


def test_a_read_copies_members_invites_and_teams_as_docker_hub_reports_them(organisation):
    snapshot = membership.organisation_sync(organisation=organisation)
    assert snapshot.status == JobStatus.DONE and snapshot.synced_at is not None
    roles = dict(OrgMember.objects.values_list("username", "role"))
    assert roles == {"revelareowner": "Owner", "learner0000": "Member", "learner0001": "Member"}
    assert sorted(OrgInvite.objects.values_list("invitee", flat=True)) == [
        "learner0002",
        "learner0003",
    ]
    assert all(i.team == "students" and i.created_at for i in OrgInvite.objects.all())


def test_the_page_reads_only_the_database_and_flags_members_in_no_course(
    admin_client, organisation, course, sandbox
):
    membership.organisation_sync(organisation=organisation)
    Enrolment.objects.create(course=course, identifier="l0@example.edu", docker_id="Learner0000")
    calls = requests_to(sandbox, "GET", "/")
    page = admin_client.get(reverse("organisation:members")).content.decode()
    assert requests_to(sandbox, "GET", "/") == calls  # nothing asked of Docker Hub
    assert "<strong>1</strong> member (owners aside) is in no active course" in page
    flagged = admin_client.get(
        reverse("organisation:members") + "?flag=unenrolled"
    ).content.decode()
    listed = flagged.split('id="members"')[1]
    assert "learner0001" in listed and "learner0000" not in listed


def test_the_page_makes_the_same_queries_for_3_or_300_members(admin_client, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (3, 300):
        OrgMember.objects.all().delete()
        OrgInvite.objects.all().delete()
        OrgMember.objects.bulk_create(
            OrgMember(organisation="Revelare", username=f"m{size}x{i}", role="Member")
            for i in range(size)
        )
        OrgInvite.objects.bulk_create(
            OrgInvite(organisation="Revelare", invite_id=f"i{size}x{i}", invitee=f"p{i}@x.edu")
            for i in range(size)
        )
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse("organisation:members")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_invites_show_their_age_and_the_expired_ones_are_marked(admin_client, organisation):
    membership.organisation_sync(organisation=organisation)
    OrgInvite.objects.filter(invitee="learner0002").update(
        created_at=timezone.now() - dt.timedelta(days=15)
    )
    page = admin_client.get(reverse("organisation:members")).content.decode()
    assert page.count("Expired") == 1
    assert "2\xa0weeks, 1\xa0day ago" in page
    assert page.count("Pending</span> until") == 1


def test_a_resend_starts_a_new_14_day_link_that_survives_the_next_read(organisation):
    membership.organisation_sync(organisation=organisation)
    row = OrgInvite.objects.get(invitee="learner0002")
    OrgInvite.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(days=15))
    counts = membership.invites_act(
        organisation=organisation, action=membership.RESEND, invite_ids=[row.invite_id]
    )
    membership.organisation_sync(organisation=organisation)
    row.refresh_from_db()
    assert counts == {"done": 1, "gone": 0, "failed": 0}
    assert row.resent_at is not None and not row.is_expired
    assert AuditEvent.objects.filter(action="invite.resend", outcome="ok").count() == 1


def test_cancelling_several_invites_from_the_page_cancels_them_on_docker_hub(
    admin_client, organisation, sandbox, django_capture_on_commit_callbacks
):
    membership.organisation_sync(organisation=organisation)
    ids = list(OrgInvite.objects.values_list("invite_id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("organisation:invites_action"), {"action": "cancel", "invite": ids}
        )
    assert response.status_code == 302
    statuses = _sandbox_invites(sandbox)
    assert statuses["learner0002"] == statuses["learner0003"] == "cancelled"
    assert not OrgInvite.objects.exists()  # the read after the action no longer lists them
    assert AuditEvent.objects.filter(action="invite.cancel", outcome="ok").count() == 2
    assert OrgSnapshot.objects.get(organisation=organisation).status == JobStatus.DONE


def test_an_invite_gone_meanwhile_is_not_an_error(organisation, sandbox):
    membership.organisation_sync(organisation=organisation)
    row = OrgInvite.objects.get(invitee="learner0002")
    accept_all_invites(sandbox, organisation)
    counts = membership.invites_act(
        organisation=organisation, action=membership.CANCEL, invite_ids=[row.invite_id]
    )
    assert counts == {"done": 0, "gone": 1, "failed": 0}
    assert AuditEvent.objects.filter(action="invite.cancel", outcome="noop").exists()


def test_ticking_nothing_says_so(admin_client, organisation):
    response = admin_client.post(
        reverse("organisation:invites_action"), {"action": "resend"}, follow=True
    )
    assert "Tick at least one invite first." in response.content.decode()


def test_the_read_button_queues_a_read_and_the_status_follows_it(
    admin_client, organisation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(reverse("organisation:members"))
    status_url = reverse("organisation:members_status")
    waiting = admin_client.get(status_url).content.decode()
    assert "Reading the members and invites from Docker Hub" in waiting
    assert f'data-poll-url="{status_url}"' in waiting
    for callback in callbacks:
        callback()
    done = admin_client.get(status_url).content.decode()
    assert "data-poll-stop" in done and "Show the new lists" in done
    assert OrgMember.objects.count() == 3
    assert AuditEvent.objects.filter(action="organisation.sync").exists()


@pytest.mark.django_db
def test_before_the_first_read_the_lists_say_unknown_not_zero(admin_client):
    page = admin_client.get(reverse("organisation:members")).content.decode()

    assert "Not read from Docker Hub yet." in page
    assert "Members (0)" not in page and "Pending invites (0)" not in page
    assert "Every member is in an active course" not in page
    assert "No pending invite" not in page


def test_invites_a_bulk_add_sends_are_listed_at_once_until_a_read_lists_them(
    admin_client, organisation, sandbox
):
    membership.organisation_sync(organisation=organisation)
    make_docker_ids(sandbox, 1, prefix="newcomer")
    calls = requests_to(sandbox, "GET", "/v2/orgs/<org_name>/invites")

    _invite(sandbox, "newcomer0000")

    row = OrgInvite.objects.get(invitee="newcomer0000")
    assert row.sent_by_hubcourse_at is not None and row.team == "students" and row.invite_id
    page = admin_client.get(reverse("organisation:members")).content.decode()
    listed = page.split('id="invites"')[1].split('id="members"')[0]
    assert "newcomer0000" in listed
    assert listed.count("Sent by hubcourse, not read back from Docker Hub yet") == 1
    # The bulk add read the pending invites for its own rows; the page itself read nothing.
    assert requests_to(sandbox, "GET", "/v2/orgs/<org_name>/invites") == calls + 2

    membership.organisation_sync(organisation=organisation)
    row.refresh_from_db()
    assert row.sent_by_hubcourse_at is None
    page = admin_client.get(reverse("organisation:members")).content.decode()
    assert "Sent by hubcourse" not in page


def test_an_invite_sent_while_a_read_runs_survives_that_read(organisation):
    from accounts.models import OrgInvite as Row

    membership.organisation_sync(organisation=organisation)
    later = timezone.now() + dt.timedelta(minutes=1)
    Row.objects.create(
        organisation=organisation,
        invite_id="sent-during-the-read",
        invitee="someone@example.edu",
        sent_by_hubcourse_at=later,
    )
    membership.organisation_sync(organisation=organisation)
    assert Row.objects.filter(invite_id="sent-during-the-read").exists()


def test_course_invitations_are_listed_at_once(admin_client, sandbox, course):
    from accounts.services import course_ensure_teams, course_invite_students
    from tests.engine.support import make_class

    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    course_ensure_teams(course_id=course.pk)
    make_class(sandbox, course, 2, checked=True)

    course_invite_students(course_id=course.pk)

    rows = OrgInvite.objects.filter(organisation=course.organisation)
    assert rows.count() == 2
    assert all(r.sent_by_hubcourse_at and r.team == course.team for r in rows)
    page = admin_client.get(reverse("organisation:members")).content.decode()
    assert page.count("Sent by hubcourse, not read back from Docker Hub yet") == 2


def test_the_course_column_names_the_courses(admin_client, organisation, course):
    from accounts.models import Course

    membership.organisation_sync(organisation=organisation)
    other = Course.objects.create(name="Docker 101 (2026)", slug="docker-101-2026")
    Enrolment.objects.create(course=course, identifier="a@example.edu", docker_id="Learner0000")
    Enrolment.objects.create(course=other, identifier="b@example.edu", docker_id="learner0000")

    page = admin_client.get(reverse("organisation:members")).content.decode()

    row = page.split("<td>learner0000</td>")[1].split("</tr>")[0]
    assert "Docker 101 (2026)</a>" in row and f"{course.name}</a>" in row
    assert "<td>enrolled</td>" not in page


def test_when_the_read_ends_nothing_still_says_reading(
    admin_client, organisation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("organisation:members"))

    page = admin_client.get(reverse("organisation:members")).content.decode()
    assert "Reading" not in page and "Show the new lists" not in page
    assert 'data-refresh-when="sync-status"' not in page
    assert "data-poll-stop" in page


def test_a_read_that_never_finished_stops_saying_reading(admin_client, organisation):
    OrgSnapshot.objects.create(
        organisation=organisation,
        status=JobStatus.QUEUED,
        requested_at=timezone.now() - dt.timedelta(hours=1),
    )

    status = admin_client.get(reverse("organisation:members_status")).content.decode()

    assert "Reading" not in status and "data-poll-stop" in status
    assert "did not finish" in status


def test_an_invite_action_whose_read_is_refused_ends_the_read_as_failed(
    organisation, sandbox, settings
):
    from accounts.tasks import invite_action_task

    membership.organisation_sync(organisation=organisation)
    OrgSnapshot.objects.filter(organisation=organisation).update(
        status=JobStatus.QUEUED, requested_at=timezone.now()
    )
    settings.DOCKERHUB_TOKEN = "dckr_pat_revokedRevokedRevokedRevoked00"

    invite_action_task.apply(args=(organisation, membership.RESEND, []))

    snapshot = OrgSnapshot.objects.get(organisation=organisation)
    assert snapshot.status == JobStatus.FAILED and snapshot.error
    assert not snapshot.reading
