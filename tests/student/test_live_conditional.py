"""The polled status partial answers 304 when nothing the student could see has changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, GitHubAccess, OnboardingState, User
from builds.models import Build, BuildState
from hubcourse import conditional
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def sam(student: User) -> Enrolment:
    return Enrolment.objects.select_related("course").get(user=student)


def _url(enrolment: Enrolment) -> str:
    return reverse("student:status_live", args=[enrolment.pk])


def _build(enrolment: Enrolment, state: str, n: int) -> Build:
    at = NOW - dt.timedelta(minutes=n)
    return Build.objects.create(
        enrolment=enrolment,
        backend="github-actions",
        external_id=f"run-{n}",
        state=state,
        commit_sha="abc1234def5678",
        created_at=at,
        started_at=at,
    )


def _etag(client: Client, enrolment: Enrolment) -> str:
    # As in a browser: the status page was opened first (its badge and CSRF cookie exist).
    client.get(reverse("student:status", args=[enrolment.pk]))
    response = client.get(_url(enrolment))
    assert response.status_code == 200
    return str(response.headers["ETag"])


def test_an_unchanged_refresh_is_a_304_without_a_body(
    client: Client, sam: Enrolment, student: User
) -> None:
    _build(sam, BuildState.RUNNING, 1)
    client.force_login(student)
    etag = _etag(client, sam)

    again = client.get(_url(sam), headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert "no-store" in again.headers["Cache-Control"]


@pytest.mark.parametrize(
    "change",
    [
        # A build changes state through a bare update(), which leaves updated_at alone.
        lambda e, b: Build.objects.filter(pk=b.pk).update(state=BuildState.FAILED),
        lambda e, b: Build.objects.filter(pk=b.pk).update(log_excerpt="ERROR: failed to solve"),
        lambda e, b: _build(e, BuildState.QUEUED, 0),
        # A step of the onboarding, an error, the student's GitHub access.
        lambda e, b: Enrolment.objects.filter(pk=e.pk).update(state=OnboardingState.INVITED),
        lambda e, b: Enrolment.objects.filter(pk=e.pk).update(
            error_step="create_repository", error_message="Docker Hub said no."
        ),
        lambda e, b: Enrolment.objects.filter(pk=e.pk).update(github_access=GitHubAccess.APP),
        lambda e, b: StudentRepository.objects.create(
            enrolment=e, namespace="revelare", name="docker-101-sam", created_at=NOW
        ),
        # A course setting the page shows (the build backend, the organisation).
        lambda e, b: Course.objects.filter(pk=e.course_id).update(organisation="another-org"),
    ],
)
def test_any_change_the_student_could_see_gives_a_new_etag(
    client: Client, sam: Enrolment, student: User, change: Any
) -> None:
    build = _build(sam, BuildState.RUNNING, 1)
    client.force_login(student)
    before = _etag(client, sam)

    change(sam, build)
    response = client.get(_url(sam), headers={"If-None-Match": before})

    assert response.status_code == 200
    assert response.headers["ETag"] != before
    assert response.content.decode().lstrip().startswith('<div id="status-live"')


def test_a_setting_the_page_shows_gives_a_new_etag(
    client: Client, sam: Enrolment, student: User, settings: Any
) -> None:
    client.force_login(student)
    before = _etag(client, sam)

    settings.GITHUB_PUBLIC_CHECK_MINUTES = 17

    assert client.get(_url(sam), headers={"If-None-Match": before}).status_code == 200


def test_the_next_minute_renders_again_for_the_time_words(
    client: Client, sam: Enrolment, student: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "3 minutes ago" moves with the clock, not with any row.
    _build(sam, BuildState.SUCCESS, 3)
    client.force_login(student)
    minute = conditional.clock_bucket()
    monkeypatch.setattr(conditional, "clock_bucket", lambda: minute)
    monkeypatch.setattr("student.views.clock_bucket", lambda: minute)
    etag = _etag(client, sam)
    assert client.get(_url(sam), headers={"If-None-Match": etag}).status_code == 304

    monkeypatch.setattr("student.views.clock_bucket", lambda: minute + 1)

    assert client.get(_url(sam), headers={"If-None-Match": etag}).status_code == 200


def test_another_students_etag_gives_them_nothing(
    client: Client, sam: Enrolment, student: User, course: Course
) -> None:
    client.force_login(student)
    etag = _etag(client, sam)
    other = User.objects.create_user("alex@example.edu", "alex-password-123")
    Enrolment.objects.create(course=course, identifier="alex@example.edu", name="Alex", user=other)
    client.force_login(other)

    # Sam's page stays Sam's: 404 with or without Sam's ETag, never a 304 that confirms it.
    assert client.get(_url(sam), headers={"If-None-Match": etag}).status_code == 404
    client.logout()
    assert client.get(_url(sam), headers={"If-None-Match": etag}).status_code == 302


@pytest.mark.parametrize("builds", [1, 40])
def test_an_unchanged_refresh_reads_a_constant_number_of_queries(
    client: Client,
    sam: Enrolment,
    student: User,
    builds: int,
    django_assert_num_queries: Any,
) -> None:
    for n in range(builds):
        _build(sam, BuildState.SUCCESS, n + 1)
    client.force_login(student)
    etag = _etag(client, sam)

    # The signed-in user (the session is in the cache), the access check and the digest.
    with django_assert_num_queries(3):
        response = client.get(_url(sam), headers={"If-None-Match": etag})
    assert response.status_code == 304
