"""Seats: every member and pending invitation holds one of the organisation's paid seats. The
pages that invite show the seats in use and free and, before sending, how many invitations
would not fit; a refusal for lack of seats is shown per invitee in words; offboarding says how
many seats it frees. The sandbox plays the seat limit over HTTP (its refusal is unconfirmed:
tests/fidelity/STATUSES.md)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts import membership, organisations
from accounts.managed import record_created
from accounts.models import (
    BulkInvite,
    Course,
    Enrolment,
    InviteState,
    ManagedResource,
    Outcome,
    PreflightState,
)
from accounts.seats import seat_usage
from accounts.services import course_invite_students
from onboarding import courses, offboarding
from tests.organisation.support import make_docker_ids, make_team

pytestmark = pytest.mark.django_db


def _limit_seats(sandbox: Any, seats: int | None) -> None:
    org = sandbox.seeded["dockerhub"]["org"]
    response = requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}/seats", json={"seats": seats}, timeout=10
    )
    response.raise_for_status()


def _register_seats(seats: int) -> None:
    org = organisations.site_organisation()
    org.seats = seats
    org.save()


@pytest.fixture
def admin_client(client: Any, site_admin: Any) -> Any:
    client.force_login(site_admin)
    return client


def test_the_bulk_add_page_shows_seats_in_use_and_free_as_read_from_docker_hub(
    admin_client: Any, sandbox: Any
) -> None:
    _register_seats(5)
    org = sandbox.seeded["dockerhub"]["org"]
    make_team(sandbox)
    page = admin_client.get(reverse("organisation:bulk_new")).content.decode()
    assert "not read from Docker Hub yet" in page
    membership.organisation_sync(organisation=org)  # its owner only
    page = admin_client.get(reverse("organisation:bulk_new")).content.decode()
    assert "1 seat of 5 in use" in page and "1 member and 0 pending invitations" in page
    assert "4 free" in page


def test_before_sending_the_page_says_how_many_invitations_would_not_fit(
    admin_client: Any, sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _register_seats(3)
    _limit_seats(sandbox, 3)  # the owner holds one: two are free
    make_team(sandbox)
    names = make_docker_ids(sandbox, 4)
    membership.organisation_sync(organisation=sandbox.seeded["dockerhub"]["org"])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("organisation:bulk_new"),
            {"invitees": "\n".join(names), "team": "students", "role": "member"},
        )
    job = BulkInvite.objects.get()
    page = admin_client.get(reverse("organisation:bulk_detail", args=[job.pk])).content.decode()
    assert "2 free" in page
    assert "2 invitations of 4 would not fit" in page
    assert "Send 2 invites" in page
    refused = job.rows.filter(dry_run=Outcome.NO_SEAT)
    assert refused.count() == 2
    for row in refused:
        assert f"Docker Hub would not invite {row.invitee}: " in row.message
        assert "has no free seat" in row.message


def test_without_a_dry_run_refusal_the_free_seats_as_read_say_what_would_not_fit(
    admin_client: Any, sandbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # The sandbox knows no limit (as if Docker Hub's dry run did not check seats): the page
    # still warns from the seats recorded and read.
    _register_seats(2)
    make_team(sandbox)
    names = make_docker_ids(sandbox, 3)
    membership.organisation_sync(organisation=sandbox.seeded["dockerhub"]["org"])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("organisation:bulk_new"),
            {"invitees": "\n".join(names), "team": "students", "role": "member"},
        )
    job = BulkInvite.objects.get()
    page = admin_client.get(reverse("organisation:bulk_detail", args=[job.pk])).content.decode()
    assert "2 invitations of 3 would not fit" in page


def test_a_refusal_for_lack_of_seats_is_shown_per_invitee_in_words(sandbox: Any) -> None:
    _register_seats(2)
    _limit_seats(sandbox, 2)  # the owner holds one: one is free
    course = Course.objects.create(name="Docker 101", slug="docker-101")
    make_team(sandbox)
    names = make_docker_ids(sandbox, 3)
    for name in names:
        Enrolment.objects.create(
            course=course,
            identifier=f"{name}@example.edu",
            docker_id=name,
            preflight_state=PreflightState.PASSED,
        )
    assert course_invite_students(course_id=course.pk) == 1
    invited = Enrolment.objects.filter(course=course, invite_state=InviteState.PENDING)
    assert invited.count() == 1
    refused = Enrolment.objects.filter(course=course).exclude(invite_state=InviteState.PENDING)
    assert refused.count() == 2
    for enrolment in refused:
        assert enrolment.error_message.startswith(
            f"Docker Hub did not invite {enrolment.docker_id}: "
        )
        assert "has no free seat" in enrolment.error_message
        assert "2 paid seats" in enrolment.error_message


def test_the_plan_and_roster_pages_show_seats_and_the_would_not_fit_warning(
    client: Any, instructor: Any, course: Course, sandbox: Any
) -> None:
    _register_seats(2)
    make_team(sandbox)
    for name in make_docker_ids(sandbox, 3):
        Enrolment.objects.create(course=course, identifier=f"{name}@example.edu", docker_id=name)
    membership.organisation_sync(organisation=course.organisation)
    client.force_login(instructor)
    page = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()
    assert "1 seat of 2 in use" in page
    assert "2 invitations of 3 would not fit" in page
    assert seat_usage(course.organisation).free == 1


def test_offboarding_says_how_many_seats_it_frees(course: Course, db: Any) -> None:
    Enrolment.objects.create(
        course=course, identifier="a@example.edu", docker_id="ada", member_at=timezone.now()
    )
    Enrolment.objects.create(
        course=course,
        identifier="b@example.edu",
        docker_id="bob",
        invite_state=InviteState.PENDING,
    )
    Enrolment.objects.create(course=course, identifier="c@example.edu", docker_id="cy")
    for name in ("ada", "bob", "cy"):  # the course invited them: offboarding removes them
        record_created(course, ManagedResource.Kind.INVITATION, name)
    preview = offboarding.offboarding_preview(course)
    assert preview.counts["seats"] == 2


def test_the_roster_preview_shows_seats_and_how_many_new_students_would_not_fit(
    client: Any, instructor: Any, course: Course, sandbox: Any
) -> None:
    _register_seats(2)
    names = make_docker_ids(sandbox, 3)
    membership.organisation_sync(organisation=course.organisation)  # the owner: one free
    roster_text = "identifier,name,docker_id\n" + "".join(
        f"{n}@example.edu,{n},{n}\n" for n in names
    )
    preview = courses.roster_preview(
        course=course, actor=instructor, data=roster_text, source="pasted text"
    )
    while preview.status == "checking":
        courses.roster_check(import_id=preview.pk)
        preview.refresh_from_db()
    client.force_login(instructor)
    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk]))
    text = page.content.decode()
    assert "1 seat of 2 in use" in text
    assert "2 invitations of 3 would not fit" in text


def test_a_whole_request_refused_for_lack_of_seats_is_told_per_invitee(sandbox: Any) -> None:
    # The other shape Docker Hub's refusal might take (UNCONFIRMED): the whole request, 403.
    assert not sandbox.world.config.update({"seat_refusal_whole_request": True})
    _register_seats(2)
    _limit_seats(sandbox, 2)
    course = Course.objects.create(name="Docker 101", slug="docker-101")
    make_team(sandbox)
    for name in make_docker_ids(sandbox, 2):
        Enrolment.objects.create(
            course=course,
            identifier=f"{name}@example.edu",
            docker_id=name,
            preflight_state=PreflightState.PASSED,
        )
    assert course_invite_students(course_id=course.pk) == 0
    for enrolment in Enrolment.objects.filter(course=course):
        assert enrolment.invite_state == InviteState.NONE
        assert f"Docker Hub did not invite {enrolment.docker_id}: " in enrolment.error_message
        assert "has no free seat" in enrolment.error_message
