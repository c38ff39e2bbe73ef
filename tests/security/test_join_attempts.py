"""A student number is a weak secret: whoever has the course link could type numbers until one
matches. Each account gets a handful of tries, and typed identifiers that match nothing are
also limited per client address (new accounts buy no more guesses) and per course (nor do
many addresses). A match is only a claim the instructor approves (tests/student/test_staff.py),
and every kind of mismatch gets the same answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Course, Enrolment, JoinLink, JoinRequest
from onboarding import joining
from onboarding.joining import JOIN_ATTEMPTS, JOIN_MISSES_PER_ADDRESS, JOIN_MISSES_PER_COURSE
from tests.conftest import PASSWORD
from tests.student.conftest import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(course: Course) -> JoinLink:
    return JoinLink.objects.create(course=course)


@pytest.fixture
def alan(course: Course) -> Enrolment:
    """A roster entry with a student number and no email: the identifier is all it takes."""
    return Enrolment.objects.create(course=course, identifier="s1234567", name="Alan")


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    # Counts live in the cache, keyed by row ids that the next test's database reuses.
    cache.clear()
    yield
    cache.clear()


def _join(client: Client, link: JoinLink, identifier: str, **meta: Any) -> int:
    response = client.post(
        reverse("student:join", args=[link.token]), {"identifier": identifier}, **meta
    )
    return response.status_code


PROXY = "10.0.0.2"  # the TLS proxy in front of hubcourse
ATTACKER = "203.0.113.66"


def _through_proxy(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": address}


def test_guessing_student_numbers_stops_before_it_finds_one(
    client: Client, link: JoinLink, alan: Enrolment
) -> None:
    person("mallory@gmail.example")
    client.login(email="mallory@gmail.example", password=PASSWORD)
    for n in range(JOIN_ATTEMPTS):
        assert _join(client, link, f"s{1000000 + n}") == 200

    status = _join(client, link, "s1234567")

    assert status == 429
    alan.refresh_from_db()
    assert alan.user is None


def test_a_student_who_mistypes_a_few_times_still_asks_for_their_entry(
    client: Client, link: JoinLink, alan: Enrolment
) -> None:
    person("alan@gmail.example")
    client.login(email="alan@gmail.example", password=PASSWORD)
    for typo in ("s123456", "s12345678", "S1234576"):
        assert _join(client, link, typo) == 200

    assert _join(client, link, "s1234567") == 200
    assert JoinRequest.objects.get(status=JoinRequest.Status.PENDING).claimed == alan


def test_new_accounts_from_one_address_stop_at_the_address_limit(
    client: Client, link: JoinLink, alan: Enrolment, settings: Any
) -> None:
    # Behind the proxy: the limit is the client's (X-Forwarded-For, believed only from the
    # proxy), so the attacker's new accounts stop, and a student elsewhere is not locked out.
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    guesses = (f"s{1000000 + n}" for n in range(10 * JOIN_MISSES_PER_ADDRESS))
    accounts = 0
    for n in range(JOIN_MISSES_PER_ADDRESS):
        if n % JOIN_ATTEMPTS == 0:  # each account's own tries are used up: a new one
            accounts += 1
            client.force_login(person(f"sock{accounts}@gmail.example"))
        assert _join(client, link, next(guesses), **_through_proxy(ATTACKER)) == 200
    client.force_login(person("sock-fresh@gmail.example"))

    status = _join(client, link, "s1234567", **_through_proxy(ATTACKER))

    assert accounts > 1
    assert status == 429
    assert not JoinRequest.objects.filter(claimed=alan).exists()
    client.force_login(person("alan@gmail.example"))
    assert _join(client, link, "s1234567", **_through_proxy("198.51.100.7")) == 200
    assert JoinRequest.objects.get(claimed=alan).user.email == "alan@gmail.example"


def test_a_forged_forwarded_header_does_not_buy_a_new_address(
    client: Client, link: JoinLink, alan: Enrolment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No trusted proxy: whatever the caller writes in X-Forwarded-For is ignored.
    monkeypatch.setattr(joining, "JOIN_MISSES_PER_ADDRESS", 3)
    for n in range(3):
        client.force_login(person(f"sock{n}@gmail.example"))
        meta = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": f"192.0.2.{n}"}
        assert _join(client, link, f"s100000{n}", **meta) == 200
    client.force_login(person("sock-fresh@gmail.example"))

    meta = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": "192.0.2.99"}
    assert _join(client, link, "s1234567", **meta) == 429


def test_addresses_of_one_ipv6_network_share_their_misses(
    client: Client, link: JoinLink, alan: Enrolment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One IPv6 host has a whole /64 to pick addresses from.
    monkeypatch.setattr(joining, "JOIN_MISSES_PER_ADDRESS", 3)
    for n in range(3):
        client.force_login(person(f"sock{n}@gmail.example"))
        assert _join(client, link, f"s100000{n}", REMOTE_ADDR=f"2001:db8:1:2::{n + 1}") == 200
    client.force_login(person("sock-fresh@gmail.example"))

    assert _join(client, link, "s1234567", REMOTE_ADDR="2001:db8:1:2:ffff::9") == 429
    assert _join(client, link, "s1234567", REMOTE_ADDR="2001:db8:1:3::1") == 200


def test_many_accounts_from_many_addresses_stop_at_the_course_limit(
    client: Client,
    link: JoinLink,
    alan: Enrolment,
    course: Course,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert JOIN_MISSES_PER_COURSE > JOIN_MISSES_PER_ADDRESS
    limit = 25  # the real one is larger; a smaller one keeps the test quick
    monkeypatch.setattr(joining, "JOIN_MISSES_PER_COURSE", limit)
    per_address = JOIN_MISSES_PER_ADDRESS // 2
    accounts = 0
    for n in range(limit):
        if n % JOIN_ATTEMPTS == 0:
            accounts += 1
            client.force_login(person(f"sock{accounts}@gmail.example"))
        address = f"198.51.100.{n // per_address + 1}"
        assert _join(client, link, f"s{1000000 + n}", REMOTE_ADDR=address) == 200
    client.force_login(person("sock-fresh@gmail.example"))

    status = _join(client, link, "s1234567", REMOTE_ADDR="192.0.2.200")

    assert status == 429
    assert not JoinRequest.objects.filter(claimed=alan).exists()
    # Another course's link is its own count.
    other = Course.objects.create(name="Docker 102", slug="docker-102")
    Enrolment.objects.create(course=other, identifier="s1234567", name="Alan")
    other_link = JoinLink.objects.create(course=other)
    assert _join(client, other_link, "s1234567", REMOTE_ADDR="192.0.2.200") == 200


def test_a_class_behind_one_address_joins_by_student_number(
    client: Client, link: JoinLink, course: Course
) -> None:
    # Only misses count per address: a lecture hall behind the school's address is not a
    # guesser, however many of its students give their number.
    students = JOIN_MISSES_PER_ADDRESS + 5
    for n in range(students):
        Enrolment.objects.create(course=course, identifier=f"s20{n:05d}")
    for n in range(students):
        client.force_login(person(f"student{n}@gmail.example"))
        assert _join(client, link, f"s20{n:05d}", REMOTE_ADDR="192.0.2.10") == 200

    assert JoinRequest.objects.filter(claimed__isnull=False).count() == students


# -- one answer for every mismatch ------------------------------------------------------------


def _answer(client: Client, link: JoinLink, identifier: str) -> tuple[int, str, int]:
    """The status, the page (without what changes per request) and how many queries."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("student:join", args=[link.token]), {"identifier": identifier}
        )
    page = response.content.decode()
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
    page = page.replace(f'value="{identifier}"', 'value=""')
    return response.status_code, page, len(queries)


@pytest.fixture
def three_reasons(course: Course) -> dict[str, str]:
    """A typed identifier for each way of not matching: no such entry, an entry linked to
    someone else, an entry that names another email address."""
    owner = person("owner@gmail.example")
    Enrolment.objects.create(course=course, identifier="s2000001", user=owner)
    Enrolment.objects.create(course=course, identifier="s2000002", email="grace@school.edu")
    return {"no entry": "s2000000", "linked": "s2000001", "other email": "s2000002"}


def test_every_mismatch_gets_the_same_refusal(
    client: Client, link: JoinLink, three_reasons: dict[str, str]
) -> None:
    mallory = person("mallory@gmail.example")
    client.force_login(mallory)

    answers = {reason: _answer(client, link, typed) for reason, typed in three_reasons.items()}

    statuses = {status for status, _, _ in answers.values()}
    pages = {page for _, page, _ in answers.values()}
    queries = {count for _, _, count in answers.values()}
    assert statuses == {200}
    assert len(pages) == 1, "the three reasons must read the same"
    assert "does not match a roster entry" in pages.pop()
    assert len(queries) == 1, f"the three reasons query differently: {answers}"
    assert not Enrolment.objects.filter(user=mallory).exists()
    assert not JoinRequest.objects.exists()


def test_with_approval_every_mismatch_and_a_claim_wait_alike(
    client: Client, course: Course, three_reasons: dict[str, str]
) -> None:
    link = JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)
    Enrolment.objects.create(course=course, identifier="s2000003")  # a free entry: a claim
    typed = {**three_reasons, "claim": "s2000003"}
    notices = {}
    for reason, identifier in typed.items():
        client.force_login(person(f"{reason.replace(' ', '-')}@gmail.example"))
        status, page, _ = _answer(client, link, identifier)
        notice = re.search(r'<p class="notice"[^>]*>(.*?)</p>', page, re.S)
        assert status == 200 and notice is not None
        notices[reason] = re.sub(r"\(asked [^)]*\)", "", notice.group(1))

    assert len(set(notices.values())) == 1, notices
    assert "waiting for your instructor" in notices["claim"]
    assert JoinRequest.objects.filter(status=JoinRequest.Status.PENDING).count() == 4
    assert (
        not Enrolment.objects.filter(user__email__endswith="@gmail.example")
        .exclude(identifier="s2000001")
        .exists()
    )
