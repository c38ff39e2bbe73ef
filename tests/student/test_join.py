"""Joining with the course link: who is matched to which roster entry, and who is not."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, JoinLink, JoinRequest, User
from builds.models import StudentBadge
from hubcourse.models import AuditEvent
from onboarding.joining import JoinResult, join_course
from tests.conftest import PASSWORD
from tests.student.conftest import person

pytestmark = pytest.mark.django_db


def test_a_verified_email_matches_its_roster_entry(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    ada = person("ADA@school.edu")

    outcome = join_course(user=ada, link=link)

    assert outcome.result is JoinResult.LINKED
    assert outcome.enrolment == roster["ada"]
    roster["ada"].refresh_from_db()
    assert roster["ada"].user == ada
    assert StudentBadge.objects.filter(enrolment=roster["ada"]).exists()
    event = AuditEvent.objects.get(action="enrolment.link")
    assert "verified email" in event.message


def test_the_roster_email_field_matches_too(link: JoinLink, roster: dict[str, Enrolment]) -> None:
    grace = person("grace@school.edu")

    assert join_course(user=grace, link=link).enrolment == roster["grace"]


def test_an_unverified_email_does_not_match(link: JoinLink, roster: dict[str, Enrolment]) -> None:
    eve = person("ada@school.edu", verified=False)

    outcome = join_course(user=eve, link=link)

    assert outcome.result is JoinResult.NEED_IDENTIFIER
    roster["ada"].refresh_from_db()
    assert roster["ada"].user is None


def test_typing_an_email_entry_without_having_verified_it_asks_to_confirm_the_email(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    ada = person("ada@school.edu", verified=False)

    outcome = join_course(user=ada, link=link, identifier="ada@school.edu")

    assert outcome.result is JoinResult.VERIFY_EMAIL
    assert "confirm your email" in outcome.message
    roster["ada"].refresh_from_db()
    assert roster["ada"].user is None


def test_a_student_number_without_email_is_a_claim_for_the_instructor_to_approve(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    # Anyone with the course link can type someone else's student number: even with a link
    # that refuses strangers, it files a request naming the entry, and links nothing.
    alan = person("alan@gmail.example")

    outcome = join_course(user=alan, link=link, identifier=" S1234567 ")

    assert outcome.result is JoinResult.PENDING
    assert "waiting for your instructor" in outcome.message
    request = JoinRequest.objects.get()
    assert request.user == alan and request.status == JoinRequest.Status.PENDING
    assert request.claimed == roster["alan"] and request.identifier == "S1234567"
    roster["alan"].refresh_from_db()
    assert roster["alan"].user is None
    assert not AuditEvent.objects.filter(action="enrolment.link").exists()


def test_nobody_claims_an_entry_that_names_someone_elses_email(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    mallory = person("mallory@gmail.example")

    by_number = join_course(user=mallory, link=link, identifier="s7654321")
    by_email = join_course(user=mallory, link=link, identifier="ada@school.edu")

    assert by_number.result is JoinResult.REFUSED
    assert by_email.result is JoinResult.REFUSED
    assert "does not match a roster entry" in by_number.message
    assert by_email.message == by_number.message
    assert not Enrolment.objects.filter(user=mallory).exists()
    assert not JoinRequest.objects.exists()


def test_nobody_takes_over_an_entry_already_linked(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    alan = person("alan@gmail.example")
    Enrolment.objects.filter(pk=roster["alan"].pk).update(user=alan)
    mallory = person("mallory@gmail.example")

    outcome = join_course(user=mallory, link=link, identifier="s1234567")

    assert outcome.result is JoinResult.REFUSED
    assert "does not match a roster entry" in outcome.message
    roster["alan"].refresh_from_db()
    assert roster["alan"].user == alan


def test_a_verified_email_whose_entry_is_taken_is_refused_not_moved(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    impostor = person("impostor@gmail.example")
    Enrolment.objects.filter(pk=roster["ada"].pk).update(user=impostor)
    ada = person("ada@school.edu")

    outcome = join_course(user=ada, link=link)

    assert outcome.result is JoinResult.REFUSED
    assert "ask your instructor to unlink" in outcome.message
    roster["ada"].refresh_from_db()
    assert roster["ada"].user == impostor


def test_someone_not_on_the_roster_is_refused_with_what_to_do(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    stranger = person("stranger@gmail.example")

    outcome = join_course(user=stranger, link=link, identifier="s0000000")

    assert outcome.result is JoinResult.REFUSED
    assert "does not match a roster entry of Docker 101" in outcome.message
    assert "ask your instructor" in outcome.message
    assert not JoinRequest.objects.exists()


def test_with_approval_someone_not_on_the_roster_waits_once(
    approval_link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    stranger = person("stranger@gmail.example")

    first = join_course(user=stranger, link=approval_link, identifier="s0000000")
    again = join_course(user=stranger, link=approval_link, identifier="s0000001")

    assert first.result is again.result is JoinResult.PENDING
    request = JoinRequest.objects.get()
    assert request.user == stranger and request.status == JoinRequest.Status.PENDING
    assert request.identifier == "s0000001"
    assert not Enrolment.objects.filter(user=stranger).exists()


def test_with_approval_a_mismatched_email_entry_waits_instead_of_linking(
    approval_link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    mallory = person("mallory@gmail.example")

    outcome = join_course(user=mallory, link=approval_link, identifier="s7654321")

    assert outcome.result is JoinResult.PENDING
    roster["grace"].refresh_from_db()
    assert roster["grace"].user is None
    assert "another email" in JoinRequest.objects.get().reason


def test_opening_the_link_never_files_a_request_by_itself(
    approval_link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    stranger = person("stranger@gmail.example")

    outcome = join_course(user=stranger, link=approval_link, may_ask=False)

    assert outcome.result is JoinResult.NEED_IDENTIFIER
    assert not JoinRequest.objects.exists()


def test_a_student_already_on_the_course_goes_to_their_page(
    link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    ada = person("ada@school.edu")
    join_course(user=ada, link=link)

    outcome = join_course(user=ada, link=link, identifier="s1234567")

    assert outcome.result is JoinResult.ALREADY
    assert outcome.enrolment == roster["ada"]
    assert Enrolment.objects.filter(user=ada).count() == 1


# -- the page -------------------------------------------------------------------------------------


def test_the_link_page_offers_github_and_email_sign_in(client: Client, link: JoinLink) -> None:
    response = client.get(reverse("student:join", args=[link.token]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sign in with GitHub" in html
    assert f'name="next" value="/join/{link.token}/"' in html
    assert "Join Docker 101" in html


def test_opening_the_link_signed_in_links_and_goes_to_the_status_page(
    client: Client, link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    person("ada@school.edu")
    client.login(email="ada@school.edu", password=PASSWORD)

    response = client.get(reverse("student:join", args=[link.token]))

    assert response.status_code == 302
    assert response["Location"] == reverse("student:status", args=[roster["ada"].pk])


def test_the_identifier_form_sends_a_student_number_to_the_instructor(
    client: Client, link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    person("alan@gmail.example")
    client.login(email="alan@gmail.example", password=PASSWORD)

    shown = client.get(reverse("student:join", args=[link.token]))
    response = client.post(reverse("student:join", args=[link.token]), {"identifier": "s1234567"})
    again = client.get(reverse("student:join", args=[link.token]))

    assert "student number or school email" in shown.content.decode()
    assert "A student number is checked by your instructor first" in shown.content.decode()
    assert response.status_code == 200
    assert "waiting for your instructor" in response.content.decode()
    assert "waiting for your instructor" in again.content.decode()
    roster["alan"].refresh_from_db()
    assert roster["alan"].user is None


def test_a_refusal_is_shown_in_plain_words(
    client: Client, link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    person("stranger@gmail.example")
    client.login(email="stranger@gmail.example", password=PASSWORD)

    response = client.post(reverse("student:join", args=[link.token]), {"identifier": "nobody"})

    assert response.status_code == 200
    assert "That does not match a roster entry of Docker 101" in response.content.decode()


@pytest.mark.parametrize("state", ["off", "regenerated", "archived"])
def test_a_link_that_is_off_retired_or_of_an_archived_course_does_not_work(
    client: Client, link: JoinLink, course: Course, outsider: User, state: str
) -> None:
    token = link.token
    if state == "off":
        JoinLink.objects.filter(pk=link.pk).update(enabled=False)
    elif state == "regenerated":
        JoinLink.objects.filter(pk=link.pk).update(token="a-new-token")
    else:
        from django.utils import timezone

        Course.objects.filter(pk=course.pk).update(archived_at=timezone.now())
    client.force_login(outsider)

    response = client.get(reverse("student:join", args=[token]))

    assert response.status_code == 404
    assert "Ask your instructor for the current course link" in response.content.decode()


def test_email_and_password_students_join_once_their_email_is_confirmed(
    client: Client, link: JoinLink, roster: dict[str, Enrolment]
) -> None:
    import re

    from django.core import mail

    join_url = reverse("student:join", args=[link.token])
    signed_up = client.post(
        reverse("account_signup"),
        {"email": "ada@school.edu", "password1": PASSWORD, "password2": PASSWORD, "next": join_url},
    )
    assert signed_up.status_code == 302

    before = client.get(join_url)
    assert before.status_code == 200  # not matched on an unconfirmed email
    asked = client.post(join_url, {"identifier": "ada@school.edu"})
    assert "confirm your email address" in asked.content.decode()

    body = str(mail.outbox[-1].body)
    confirm = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", body)
    assert confirm is not None
    client.post(confirm.group(1))
    after = client.get(join_url)

    assert after.status_code == 302
    assert after["Location"] == reverse("student:status", args=[roster["ada"].pk])
