"""The polled board answers 304 when nothing on it has changed, and only to staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, OnboardingState, User
from builds.models import Build, BuildState
from tests.dashboard.test_board import _make_class

pytestmark = pytest.mark.django_db


def _url(course: Course) -> str:
    return reverse("dashboard:board_live", args=[course.slug])


def _etag(client: Client, course: Course) -> str:
    response = client.get(_url(course))
    assert response.status_code == 200
    return str(response.headers["ETag"])


def test_an_unchanged_board_refresh_is_a_304_without_a_body(
    client: Client, instructor: User, course: Course
) -> None:
    _make_class(course, 5)
    client.force_login(instructor)
    etag = _etag(client, course)

    again = client.get(_url(course), headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag


@pytest.mark.parametrize(
    "change",
    [
        # Bare update()s, as the engine writes: nothing announces them.
        lambda e: Build.objects.filter(enrolment=e).update(state=BuildState.FAILED),
        lambda e: Enrolment.objects.filter(pk=e.pk).update(
            state=OnboardingState.ERROR, error_step="team", error_message="No seat left."
        ),
        lambda e: Enrolment.objects.filter(pk=e.pk).update(name="Renamed Student"),
    ],
)
def test_any_change_on_the_board_gives_a_new_etag(
    client: Client, instructor: User, course: Course, change: Any
) -> None:
    first = _make_class(course, 5)[0]
    client.force_login(instructor)
    before = _etag(client, course)

    change(first)
    response = client.get(_url(course), headers={"If-None-Match": before})

    assert response.status_code == 200
    assert response.headers["ETag"] != before


def test_a_students_etag_opens_nothing(
    client: Client, instructor: User, student: User, course: Course
) -> None:
    _make_class(course, 3)
    client.force_login(instructor)
    etag = _etag(client, course)
    client.force_login(student)

    response = client.get(_url(course), headers={"If-None-Match": etag})

    assert response.status_code in (403, 404)


def test_each_staff_member_has_their_own_etag(
    client: Client, instructor: User, ta: User, course: Course
) -> None:
    _make_class(course, 3)
    client.force_login(instructor)
    theirs = _etag(client, course)
    client.force_login(ta)

    assert client.get(_url(course), headers={"If-None-Match": theirs}).status_code == 200


@pytest.mark.parametrize("size", [8, 160])
def test_an_unchanged_board_refresh_reads_a_constant_number_of_queries(
    client: Client,
    instructor: User,
    course: Course,
    size: int,
    django_assert_num_queries: Any,
) -> None:
    _make_class(course, size)
    client.force_login(instructor)
    etag = _etag(client, course)

    # The board's own reads (no rendering, no body): the same at any class size.
    with django_assert_num_queries(7):
        response = client.get(_url(course), headers={"If-None-Match": etag})
    assert response.status_code == 304
