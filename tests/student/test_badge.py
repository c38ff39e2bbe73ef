"""The public build badge: four states, an unguessable token, a snippet for the README."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Enrolment, User
from builds.models import Build, BuildState, StudentBadge

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(student: User) -> Enrolment:
    return Enrolment.objects.get(user=student)


def _build(enrolment: Enrolment, state: str, minutes_ago: int) -> None:
    Build.objects.create(
        enrolment=enrolment,
        backend="github-actions",
        external_id=f"{state}-{minutes_ago}",
        state=state,
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def _badge_text(client: Client, token: str) -> str:
    response = client.get(reverse("student:badge", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "no-cache" in response["Cache-Control"]
    return response.content.decode()


@pytest.mark.parametrize(
    ("builds", "expected"),
    [
        ([], "unknown"),
        ([(BuildState.SUCCESS, 5)], "passing"),
        ([(BuildState.SUCCESS, 10), (BuildState.FAILED, 5)], "failing"),
        ([(BuildState.FAILED, 10), (BuildState.RUNNING, 1)], "building"),
        ([(BuildState.SUCCESS, 10), (BuildState.CANCELED, 1)], "passing"),
    ],
)
def test_the_badge_shows_the_newest_meaningful_build(
    client: Client, sam: Enrolment, builds: list[tuple[str, int]], expected: str
) -> None:
    for state, minutes in builds:
        _build(sam, state, minutes)
    badge = StudentBadge.objects.create(enrolment=sam)

    svg = _badge_text(client, badge.token)

    assert f"docker build: {expected}" in svg
    assert svg.startswith("<svg")


def test_the_token_is_long_and_random(sam: Enrolment, course: object) -> None:
    other = Enrolment.objects.create(course=sam.course, identifier="other")
    first = StudentBadge.objects.create(enrolment=sam).token
    second = StudentBadge.objects.create(enrolment=other).token

    assert first != second
    assert len(first) >= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", first)
    assert str(sam.pk) not in first.split("-")


def test_an_unknown_token_is_404(client: Client) -> None:
    assert client.get(reverse("student:badge", args=["guessed"])).status_code == 404


def test_the_status_page_gives_the_markdown_snippet_linking_to_the_image(
    client: Client, sam: Enrolment, student: User, settings: Any
) -> None:
    settings.DOCKERHUB_WEB_URL = "https://hub.docker.com"
    settings.SITE_URL = "https://hubcourse.school.edu"
    Enrolment.objects.filter(pk=sam.pk).update(docker_id="samstudent")
    client.force_login(student)

    html = client.get(reverse("student:status", args=[sam.pk])).content.decode()

    token = StudentBadge.objects.get(enrolment=sam).token
    assert (
        f"[![Docker build](https://hubcourse.school.edu/badge/{token}.svg)]"
        "(https://hub.docker.com/r/revelare/docker-101-samstudent)"
    ) in html
    assert f'src="/badge/{token}.svg?state=unknown"' in html  # the live preview


def test_a_new_badge_address_retires_the_old_one(
    client: Client, sam: Enrolment, student: User
) -> None:
    old = StudentBadge.objects.create(enrolment=sam).token
    client.force_login(student)

    client.post(reverse("student:badge_regenerate", args=[sam.pk]))

    new = StudentBadge.objects.get(enrolment=sam).token
    assert new != old
    assert client.get(reverse("student:badge", args=[old])).status_code == 404
    assert client.get(reverse("student:badge", args=[new])).status_code == 200
