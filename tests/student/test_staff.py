"""The instructor's controls: the course link, requests to join, unlinking a wrong match."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, JoinLink, JoinRequest, User
from builds.models import StudentBadge
from hubcourse.models import AuditEvent
from onboarding.joining import JoinResult, join_course, join_request_approve
from tests.student.conftest import person

pytestmark = pytest.mark.django_db


def _page(course: Course) -> str:
    return reverse("student:join_link", args=[course.slug])


def test_the_instructor_sees_the_link_to_share(
    client: Client, instructor: User, course: Course, settings: Any
) -> None:
    settings.SITE_URL = "https://hubcourse.school.edu"
    client.force_login(instructor)

    html = client.get(_page(course)).content.decode()

    link = JoinLink.objects.get(course=course)
    assert f"https://hubcourse.school.edu/join/{link.token}/" in html


def test_turning_the_link_off_and_on(client: Client, instructor: User, course: Course) -> None:
    client.force_login(instructor)
    client.get(_page(course))
    token = JoinLink.objects.get(course=course).token

    client.post(_page(course), {"policy": "approval"})  # unchecked box: off
    off = client.get(reverse("student:join", args=[token])).status_code
    client.post(_page(course), {"enabled": "on", "policy": "refuse"})
    on = client.get(reverse("student:join", args=[token])).status_code

    assert (off, on) == (404, 200)
    assert AuditEvent.objects.filter(action="join_link.update").count() == 2


def test_regenerating_retires_the_old_link(
    client: Client, instructor: User, course: Course
) -> None:
    client.force_login(instructor)
    client.get(_page(course))
    old = JoinLink.objects.get(course=course).token

    client.post(_page(course), {"action": "regenerate"})

    new = JoinLink.objects.get(course=course).token
    assert new != old
    assert client.get(reverse("student:join", args=[old])).status_code == 404
    assert client.get(reverse("student:join", args=[new])).status_code == 200


def test_a_ta_sees_the_link_but_cannot_change_it(client: Client, ta: User, course: Course) -> None:
    client.force_login(ta)

    assert client.get(_page(course)).status_code == 200
    assert client.post(_page(course), {"action": "regenerate"}).status_code == 403


def test_students_and_outsiders_get_404(
    client: Client, student: User, outsider: User, course: Course
) -> None:
    for user in (student, outsider):
        client.force_login(user)
        assert client.get(_page(course)).status_code == 404


def test_approving_a_request_adds_the_student_to_the_roster(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    stranger = person("new@gmail.example", first_name="Nina")
    assert join_course(user=stranger, link=link, identifier="s999").result is JoinResult.PENDING
    request = JoinRequest.objects.get()
    client.force_login(instructor)

    html = client.get(_page(course)).content.decode()
    client.post(
        reverse("student:join_request_decide", args=[course.slug, request.pk]),
        {"decision": "approve", "enrolment": ""},
    )

    assert "new@gmail.example" in html and "s999" in html
    entry = Enrolment.objects.get(user=stranger)
    assert entry.identifier == "s999" and entry.email == "new@gmail.example"
    assert StudentBadge.objects.filter(enrolment=entry).exists()
    assert join_course(user=stranger, link=link).result is JoinResult.ALREADY


def test_approving_can_link_an_existing_roster_entry(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    entry = Enrolment.objects.create(course=course, identifier="s111", email="old@school.edu")
    grown_up = person("personal@gmail.example")
    join_course(user=grown_up, link=link, identifier="s111")  # names another email: waits
    request = JoinRequest.objects.get()
    client.force_login(instructor)

    client.post(
        reverse("student:join_request_decide", args=[course.slug, request.pk]),
        {"decision": "approve", "enrolment": str(entry.pk)},
    )

    entry.refresh_from_db()
    assert entry.user == grown_up
    assert JoinRequest.objects.get().status == JoinRequest.Status.APPROVED


def test_refusing_a_request_is_shown_to_the_student(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    stranger = person("new@gmail.example")
    join_course(user=stranger, link=link, identifier="s999")
    request = JoinRequest.objects.get()
    client.force_login(instructor)
    client.post(
        reverse("student:join_request_decide", args=[course.slug, request.pk]),
        {"decision": "refuse"},
    )
    client.force_login(stranger)

    html = client.get(reverse("student:join", args=[link.token])).content.decode()

    assert "Your instructor refused your earlier request" in html
    assert not Enrolment.objects.filter(user=stranger).exists()


def test_a_ta_cannot_decide(client: Client, ta: User, course: Course) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    join_course(user=person("new@gmail.example"), link=link, identifier="x")
    client.force_login(ta)

    response = client.post(
        reverse("student:join_request_decide", args=[course.slug, JoinRequest.objects.get().pk]),
        {"decision": "approve"},
    )

    assert response.status_code == 403
    assert JoinRequest.objects.get().status == JoinRequest.Status.PENDING


def test_unlinking_a_wrong_match_frees_the_entry_for_the_right_student(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course)
    entry = Enrolment.objects.create(course=course, identifier="s222")
    wrong = person("wrong@gmail.example")
    join_course(user=wrong, link=link, identifier="s222")
    join_request_approve(
        request_id=JoinRequest.objects.get().pk,
        course=course,
        actor=instructor,
        enrolment_id=entry.pk,
    )
    Enrolment.objects.filter(pk=entry.pk).update(docker_id="wrongperson", github_repo="w/x")
    old_badge = StudentBadge.objects.get(enrolment=entry).token
    client.force_login(instructor)
    url = reverse("student:unlink", args=[course.slug, entry.pk])

    confirm = client.get(url).content.decode()
    client.post(url, {"forget_links": "on"})

    assert "wrong@gmail.example" in confirm
    entry.refresh_from_db()
    assert entry.user is None and entry.docker_id == "" and entry.github_repo == ""
    assert StudentBadge.objects.get(enrolment=entry).token != old_badge
    assert (
        "unlinked wrong@gmail.example" in AuditEvent.objects.get(action="enrolment.unlink").message
    )
    right = person("right@gmail.example")
    assert join_course(user=right, link=link, identifier="s222").result is JoinResult.PENDING
    assert JoinRequest.objects.get(user=right).claimed == entry
    client.force_login(wrong)
    assert client.get(reverse("student:status", args=[entry.pk])).status_code == 404


def test_a_ta_cannot_unlink(client: Client, ta: User, student: User, course: Course) -> None:
    entry = Enrolment.objects.get(user=student)
    client.force_login(ta)

    response = client.post(reverse("student:unlink", args=[course.slug, entry.pk]))

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.user == student


def test_the_course_pages_lead_to_the_course_link_and_back(
    client: Client, ta: User, course: Course
) -> None:
    # A teaching assistant too: they see the link (read-only) and the course's other pages.
    client.force_login(ta)

    board = client.get(reverse("dashboard:board", args=[course.slug])).content.decode()
    link_page = client.get(_page(course)).content.decode()

    assert f'href="{_page(course)}"' in board
    assert f'href="{reverse("dashboard:board", args=[course.slug])}"' in link_page
    assert f'href="{_page(course)}" aria-current="page"' in link_page


def test_a_request_made_a_moment_ago_was_asked_just_now(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    join_course(user=person("new@gmail.example"), link=link, identifier="s999")
    client.force_login(instructor)

    html = client.get(_page(course)).content.decode()

    assert "<td>just now</td>" in html
    assert "0\xa0minutes" not in html


# -- claims by identifier: the instructor decides --------------------------------------------


@pytest.fixture
def claimed_by_mallory(course: Course) -> tuple[Enrolment, User]:
    """Alan's entry is known by his student number only; Mallory, who has the course link,
    types it first (on a link that refuses strangers)."""
    from allauth.socialaccount.models import SocialAccount

    link = JoinLink.objects.create(course=course)
    alan = Enrolment.objects.create(course=course, identifier="s1234567", name="Alan Turing")
    mallory = person("mallory@gmail.example", first_name="Mallory")
    SocialAccount.objects.create(
        user=mallory, provider="github", uid="4242", extra_data={"login": "mallory-gh"}
    )
    assert join_course(user=mallory, link=link, identifier="s1234567").result is (
        JoinResult.PENDING
    )
    return alan, mallory


def test_a_typed_student_number_waits_for_the_instructor_who_sees_who_asked(
    client: Client, instructor: User, course: Course, claimed_by_mallory: tuple[Enrolment, User]
) -> None:
    alan, _ = claimed_by_mallory
    client.force_login(instructor)

    html = client.get(_page(course)).content.decode()

    alan.refresh_from_db()
    assert alan.user is None
    request = JoinRequest.objects.get()
    assert request.claimed == alan and request.status == JoinRequest.Status.PENDING
    row = html[html.index("mallory@gmail.example") :]
    row = row[: row.index("</tr>")]
    assert "GitHub: mallory-gh" in row  # who asked
    assert "<strong>s1234567</strong> (Alan Turing)" in row  # the entry they claim
    assert "<td>just now</td>" in row  # when
    assert f'<option value="{alan.pk}" selected>' in row  # approving links that entry


def test_two_accounts_claiming_one_entry_are_shown_as_rivals(
    client: Client, instructor: User, course: Course, claimed_by_mallory: tuple[Enrolment, User]
) -> None:
    real = person("alan.t@gmail.example")
    join_course(user=real, link=JoinLink.objects.get(course=course), identifier="s1234567")
    client.force_login(instructor)

    html = client.get(_page(course)).content.decode()

    assert html.count("1 other account claims it too") == 2
    assert "no GitHub sign-in" in html  # the second account signed up with an email


def test_approving_a_claim_links_the_entry(
    client: Client, instructor: User, course: Course, claimed_by_mallory: tuple[Enrolment, User]
) -> None:
    alan, claimant = claimed_by_mallory
    client.force_login(instructor)

    client.post(
        reverse("student:join_request_decide", args=[course.slug, JoinRequest.objects.get().pk]),
        {"decision": "approve", "enrolment": str(alan.pk)},
    )

    alan.refresh_from_db()
    assert alan.user == claimant
    assert JoinRequest.objects.get().status == JoinRequest.Status.APPROVED
    assert "approved by ines.instructor@example.edu" in (
        AuditEvent.objects.get(action="enrolment.link").message
    )
    link = JoinLink.objects.get(course=course)
    assert join_course(user=claimant, link=link).result is JoinResult.ALREADY


def test_refusing_a_claim_leaves_the_entry_free(
    client: Client, instructor: User, course: Course, claimed_by_mallory: tuple[Enrolment, User]
) -> None:
    alan, mallory = claimed_by_mallory
    client.force_login(instructor)

    client.post(
        reverse("student:join_request_decide", args=[course.slug, JoinRequest.objects.get().pk]),
        {"decision": "refuse"},
    )

    alan.refresh_from_db()
    assert alan.user is None
    assert JoinRequest.objects.get().status == JoinRequest.Status.REFUSED
    client.force_login(mallory)
    page = client.get(reverse("student:join", args=[JoinLink.objects.get(course=course).token]))
    assert "Your instructor refused your earlier request" in page.content.decode()


def test_the_real_student_with_a_verified_email_joins_at_once_despite_a_waiting_claim(
    client: Client, instructor: User, course: Course
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    grace = Enrolment.objects.create(
        course=course, identifier="s7654321", email="grace@school.edu", name="Grace"
    )
    mallory = person("mallory@gmail.example")
    assert join_course(user=mallory, link=link, identifier="s7654321").result is (
        JoinResult.PENDING
    )
    real = person("grace@school.edu")

    outcome = join_course(user=real, link=link)

    assert outcome.result is JoinResult.LINKED and outcome.enrolment == grace
    grace.refresh_from_db()
    assert grace.user == real
    client.force_login(instructor)
    html = client.get(_page(course)).content.decode()
    assert "now linked to grace@school.edu" in html  # beside Mallory's claim, still waiting
    assert JoinRequest.objects.get(user=mallory).status == JoinRequest.Status.PENDING
