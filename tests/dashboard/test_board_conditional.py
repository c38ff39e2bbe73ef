"""The polled board answers 304 when nothing on it has changed, and only to staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, OnboardingState, User
from builds.models import Build, BuildState
from onboarding.models import BoardChange
from repositories.models import StudentRepository
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


def _new_build(e: Enrolment, n: int = 99) -> Build:
    return Build(
        enrolment=e,
        backend="dockerhub-autobuild",
        external_id=f"{e.pk}-{n}",
        state=BuildState.RUNNING,
        created_at=timezone.now(),
    )


def _new_student(e: Enrolment) -> None:
    Enrolment.objects.create(course=e.course, identifier="late@uni.example", name="Late")


@pytest.mark.parametrize(
    "change",
    [
        # Bare update()s, as the engine writes: nothing announces them.
        lambda e: Build.objects.filter(enrolment=e).update(state=BuildState.FAILED),
        lambda e: Enrolment.objects.filter(pk=e.pk).update(
            state=OnboardingState.ERROR, error_step="team", error_message="No seat left."
        ),
        lambda e: Enrolment.objects.filter(pk=e.pk).update(name="Renamed Student"),
        # Every other way a row the board shows can change: students, their pre-flight,
        # repositories and builds, created, changed, removed, one by one or in bulk.
        lambda e: Enrolment.objects.filter(pk=e.pk).update(preflight_state="failed"),
        _new_student,
        lambda e: Enrolment.objects.filter(pk=e.pk).delete(),
        lambda e: StudentRepository.objects.filter(enrolment=e).update(
            last_pushed_at=timezone.now()
        ),
        lambda e: StudentRepository.objects.filter(enrolment=e).delete(),
        lambda e: _new_build(e).save(),
        lambda e: Build.objects.bulk_create([_new_build(e, 98), _new_build(e, 99)]),
        lambda e: Build.objects.filter(enrolment=e).order_by("-created_at")[0].delete(),
        lambda e: Course.objects.filter(pk=e.course_id).update(name="Docker 102"),
    ],
    ids=[
        "build update",
        "error update",
        "name update",
        "pre-flight update",
        "student added",
        "student removed",
        "repository update",
        "repository removed",
        "build saved",
        "builds bulk-created",
        "build deleted",
        "course renamed",
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


def test_a_change_to_another_course_keeps_the_board_unchanged(
    client: Client, instructor: User, course: Course
) -> None:
    _make_class(course, 3)
    other = Course.objects.create(name="Other", slug="other")
    theirs = Enrolment.objects.create(course=other, identifier="o@uni.example", name="Other")
    client.force_login(instructor)
    etag = _etag(client, course)

    Enrolment.objects.filter(pk=theirs.pk).update(name="Renamed")
    _new_build(theirs).save()

    assert client.get(_url(course), headers={"If-None-Match": etag}).status_code == 304


def test_an_update_that_changes_nothing_keeps_the_board_unchanged(
    client: Client, instructor: User, course: Course
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's triggers log every row written, changed or not")
    first = _make_class(course, 3)[0]
    client.force_login(instructor)
    etag = _etag(client, course)

    Enrolment.objects.filter(pk=first.pk).update(name=first.name)

    assert client.get(_url(course), headers={"If-None-Match": etag}).status_code == 304


def test_the_change_log_keeps_each_courses_newest_entries_only(course: Course) -> None:
    enrolment = _make_class(course, 1)[0]
    for n in range(1300):
        Enrolment.objects.filter(pk=enrolment.pk).update(name=f"Name {n}")

    kept = BoardChange.objects.filter(course_id=course.pk).count()

    assert 1024 <= kept < 1024 + 128 + 2


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


@pytest.mark.parametrize("size", [1, 100])
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

    # The user, the course and the role (the access check), the course's version: no read
    # of the board itself, the same at any class size.
    with django_assert_num_queries(4):
        response = client.get(_url(course), headers={"If-None-Match": etag})
    assert response.status_code == 304
