"""A student number is a weak secret: whoever has the course link could type numbers until one
matches and claim another student's roster entry. Each account gets a handful of tries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, JoinLink, JoinRequest
from onboarding.joining import JOIN_ATTEMPTS
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


def _join(client: Client, link: JoinLink, identifier: str) -> int:
    response = client.post(reverse("student:join", args=[link.token]), {"identifier": identifier})
    return response.status_code


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
