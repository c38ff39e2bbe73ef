"""Courses still on automated builds are shown with the day Docker retires them and what
moving involves: on the course list beside each such course, and on the admin's organisation
page as one list. The words and the date come from the build backends' registry."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Course, CourseRole, User
from builds import retiring
from builds.backends import moving_note, retires_on

AUTOBUILD = "dockerhub-autobuild"


def _courses(instructor: User) -> dict[str, Course]:
    made = {
        "actions": Course.objects.create(
            name="Networks",
            slug="networks",
            team="networks-students",
            build_backend="github-actions",
        ),
        "archived": Course.objects.create(
            name="Old term", slug="old-term", team="old-students", archived_at=timezone.now()
        ),
    }
    for course in made.values():
        CourseRole.objects.create(course=course, user=instructor, role=CourseRole.Role.INSTRUCTOR)
    return made


def test_the_note_names_the_registrys_day_and_the_way_to_move() -> None:
    day = retires_on(AUTOBUILD)
    note = moving_note(AUTOBUILD)

    assert day is not None and f"{day.day} {day:%B %Y}" in note
    assert "settings" in note and "GitHub App" in note and "automated-build rule" in note
    assert moving_note("github-actions") == ""


@pytest.mark.django_db
def test_the_course_list_shows_the_note_beside_each_course_still_on_automated_builds(
    client: Client, course: Course, instructor: User
) -> None:
    others = _courses(instructor)
    client.force_login(instructor)

    html = client.get(reverse("course_list")).content.decode()

    assert html.count('class="backend-retirement"') == 1
    assert escape(moving_note(AUTOBUILD)) in html
    assert reverse("dashboard:settings", args=[course.slug]) in html
    assert reverse("dashboard:settings", args=[others["actions"].slug]) not in html
    assert reverse("dashboard:settings", args=[others["archived"].slug]) not in html


@pytest.mark.django_db
def test_the_organisation_page_lists_every_active_course_on_automated_builds(
    client: Client, course: Course, instructor: User, site_admin: User
) -> None:
    others = _courses(instructor)
    Course.objects.create(name="Legacy", slug="legacy", team="legacy-students")
    client.force_login(site_admin)

    html = client.get(reverse("organisation:index")).content.decode()

    assert html.count("backend-retirement") == 1
    assert escape(moving_note(AUTOBUILD)) in html
    for slug in (course.slug, "legacy"):
        assert reverse("dashboard:settings", args=[slug]) in html
    for other in others.values():
        assert reverse("dashboard:settings", args=[other.slug]) not in html


@pytest.mark.django_db
def test_the_courses_to_move_are_read_in_one_query(course: Course) -> None:
    for n in range(5):
        Course.objects.create(name=f"Course {n}", slug=f"course-{n}", team=f"c{n}-students")

    with CaptureQueriesContext(connection) as queries:
        found = retiring.courses_to_move()

    assert len(queries) == 1
    assert [r.backend for r in found] == [AUTOBUILD]
    assert len(found[0].courses) == 6


@pytest.mark.django_db
def test_nothing_is_shown_when_no_course_is_on_automated_builds(
    client: Client, site_admin: User
) -> None:
    Course.objects.create(name="Networks", slug="networks", build_backend="github-actions")
    client.force_login(site_admin)

    assert "backend-retirement" not in client.get(reverse("organisation:index")).content.decode()
    assert "backend-retirement" not in client.get(reverse("course_list")).content.decode()
