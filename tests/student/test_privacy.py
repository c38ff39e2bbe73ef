"""A student sees only their own enrolments and builds: every other one answers 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, User
from builds.models import Build, StudentBadge
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def sams(student: User) -> Enrolment:
    return Enrolment.objects.get(user=student)


@pytest.fixture
def eves(course: Course) -> tuple[Enrolment, Build]:
    eve = User.objects.create_user("eve@example.edu", PASSWORD)
    enrolment = Enrolment.objects.create(course=course, identifier="eve", user=eve)
    build = Build.objects.create(enrolment=enrolment, backend="github-actions", external_id="1")
    return enrolment, build


def _student_urls(enrolment: Enrolment, build: Build) -> list[tuple[str, str]]:
    e = enrolment.pk
    return [
        ("get", reverse("student:status", args=[e])),
        ("get", reverse("student:status_live", args=[e])),
        ("get", reverse("student:link", args=[e])),
        ("post", reverse("student:link", args=[e])),
        ("post", reverse("student:check_again", args=[e])),
        ("get", reverse("student:builds", args=[e])),
        ("get", reverse("student:build_log", args=[e, build.pk])),
        ("post", reverse("student:badge_regenerate", args=[e])),
    ]


def test_every_page_of_another_student_is_404(
    client: Client, student: User, sams: Enrolment, eves: tuple[Enrolment, Build]
) -> None:
    enrolment, build = eves
    client.force_login(student)

    answers = {
        url: getattr(client, method)(url).status_code
        for method, url in _student_urls(enrolment, build)
    }

    assert set(answers.values()) == {404}, answers


def test_a_build_of_another_student_under_my_enrolment_is_404(
    client: Client, student: User, sams: Enrolment, eves: tuple[Enrolment, Build]
) -> None:
    _, build = eves
    client.force_login(student)

    assert client.get(reverse("student:build_log", args=[sams.pk, build.pk])).status_code == 404


def test_staff_and_outsiders_get_404_on_a_students_pages_too(
    client: Client, instructor: User, outsider: User, eves: tuple[Enrolment, Build]
) -> None:
    enrolment, build = eves
    for user in (instructor, outsider):
        client.force_login(user)
        for method, url in _student_urls(enrolment, build):
            assert getattr(client, method)(url).status_code == 404, (user, url)


def test_signed_out_visitors_are_sent_to_sign_in(
    client: Client, eves: tuple[Enrolment, Build]
) -> None:
    enrolment, _ = eves

    response = client.get(reverse("student:status", args=[enrolment.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_my_own_pages_answer(client: Client, student: User, sams: Enrolment) -> None:
    build = Build.objects.create(enrolment=sams, backend="github-actions", external_id="2")
    client.force_login(student)

    for method, url in _student_urls(sams, build):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_the_badge_says_nothing_but_the_state(
    client: Client, eves: tuple[Enrolment, Build]
) -> None:
    enrolment, _ = eves
    token = StudentBadge.objects.create(enrolment=enrolment).token

    svg = client.get(reverse("student:badge", args=[token])).content.decode()

    assert "eve" not in svg and "Docker 101" not in svg
