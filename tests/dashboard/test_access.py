"""Who reaches which staff page: instructors everything, TAs the board and retries, students
and outsiders nothing (404, so they learn nothing about the course)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment
from hubcourse.models import AuditEvent
from onboarding.models import ConnectionCheck, RosterImport

# (url name, needs an enrolment id, method, instructors only)
PAGES = [
    ("board", False, "get", False),
    ("board_live", False, "get", False),
    ("export", False, "get", False),
    ("plan", False, "get", False),
    ("roles", False, "get", False),
    ("audit", False, "get", False),
    ("audit_export", False, "get", False),
    ("student", True, "get", False),
    ("as_student", True, "get", False),
    ("settings", False, "get", True),
    ("roster", False, "get", True),
    ("student_correct", True, "post", True),
    ("plan", False, "post", True),
    ("roles", False, "post", True),
    ("check", False, "post", True),
]


def _url(name: str, course: Course, enrolment: Enrolment | None) -> str:
    args: list[Any] = [course.slug]
    if enrolment is not None:
        args.append(enrolment.pk)
    return reverse(f"dashboard:{name}", args=args)


def _call(client: Client, method: str, url: str) -> Any:
    return client.post(url, {}) if method == "post" else client.get(url)


@pytest.fixture
def enrolment(student: Any, course: Course) -> Enrolment:
    return Enrolment.objects.get(course=course, user=student)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "needs_enrolment", "method", "manage"), PAGES)
def test_an_instructor_reaches_every_page(
    client: Client,
    instructor: Any,
    course: Course,
    enrolment: Enrolment,
    name: str,
    needs_enrolment: bool,
    method: str,
    manage: bool,
) -> None:
    client.force_login(instructor)
    response = _call(client, method, _url(name, course, enrolment if needs_enrolment else None))

    # A POST with an empty form answers with the form again (400/200) or a redirect.
    assert response.status_code in ((200,) if method == "get" else (200, 302, 400))


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "needs_enrolment", "method", "manage"), PAGES)
def test_a_ta_sees_the_board_but_changes_no_settings(
    client: Client,
    ta: Any,
    course: Course,
    enrolment: Enrolment,
    name: str,
    needs_enrolment: bool,
    method: str,
    manage: bool,
) -> None:
    client.force_login(ta)
    response = _call(client, method, _url(name, course, enrolment if needs_enrolment else None))

    if manage:
        assert response.status_code == 403
    else:
        assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["student", "outsider"])
@pytest.mark.parametrize(("name", "needs_enrolment", "method", "manage"), PAGES)
def test_students_and_outsiders_get_404_everywhere(
    request: pytest.FixtureRequest,
    client: Client,
    course: Course,
    enrolment: Enrolment,
    who: str,
    name: str,
    needs_enrolment: bool,
    method: str,
    manage: bool,
) -> None:
    client.force_login(request.getfixturevalue(who))
    response = _call(client, method, _url(name, course, enrolment if needs_enrolment else None))

    assert response.status_code == 404


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client: Client, course: Course) -> None:
    response = client.get(reverse("dashboard:board", args=[course.slug]))

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.django_db
def test_a_student_of_another_course_is_404_on_this_one(
    client: Client, instructor: Any, course: Course
) -> None:
    other = Course.objects.create(name="Other", slug="other")
    stranger = Enrolment.objects.create(course=other, identifier="x@uni.example")
    client.force_login(instructor)

    url = reverse("dashboard:student", args=[course.slug, stranger.pk])

    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_objects_of_another_course_are_404(client: Client, instructor: Any, course: Course) -> None:
    other = Course.objects.create(name="Other", slug="other")
    preview = RosterImport.objects.create(
        course=other, source="x.csv", format="ours", encoding="UTF-8", delimiter=",", status="ready"
    )
    check = ConnectionCheck.objects.create(course=other)
    client.force_login(instructor)

    assert (
        client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk])).status_code
        == 404
    )
    assert (
        client.get(reverse("dashboard:check_live", args=[course.slug, check.pk])).status_code == 404
    )


@pytest.mark.django_db
def test_only_instructors_and_admins_may_create_courses(
    client: Client, instructor: Any, ta: Any, outsider: Any, site_admin: Any
) -> None:
    url = reverse("dashboard:course_new")
    for user, status in ((instructor, 200), (site_admin, 200), (ta, 403), (outsider, 403)):
        client.force_login(user)
        assert client.get(url).status_code == status, user


@pytest.mark.django_db
def test_a_ta_may_retry_a_student(
    client: Client, ta: Any, course: Course, enrolment: Enrolment
) -> None:
    Enrolment.objects.filter(pk=enrolment.pk).update(
        docker_id="samstudent", error_step="repository", error_message="boom", error_permanent=True
    )
    client.force_login(ta)

    response = client.post(reverse("dashboard:student_retry", args=[course.slug, enrolment.pk]))

    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.error_step == ""
    assert AuditEvent.objects.filter(action="enrolment.retry", actor=ta).exists()


@pytest.mark.django_db
def test_the_ta_sees_no_settings_link_and_no_apply_button(
    client: Client, ta: Any, course: Course
) -> None:
    client.force_login(ta)

    board = client.get(reverse("dashboard:board", args=[course.slug])).content.decode()
    plan = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()

    assert reverse("dashboard:settings", args=[course.slug]) not in board
    assert "Only the course's instructors can apply" in plan
