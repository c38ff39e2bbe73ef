"""Teams are private by default: a new course gets a students' team of its own, a team that
would let one course's students read another's repositories is refused in words that name
the other course, and courses that share one already are flagged to the site admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.course_rules import TEAM_NAME_MAX, course_validate, default_team
from accounts.models import Course, User
from hubcourse.errors import ValidationError
from onboarding import courses

PER_STUDENT = Course.AccessPolicy.TEAM_PER_STUDENT


def _team_problem(values: dict[str, Any], *, course: Course | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        course_validate(values, course=course)
    return next(str(p) for p in caught.value.problems if p.key == "team")


def test_a_new_course_gets_a_team_of_its_own_unless_one_is_named(
    course: Course, instructor: User
) -> None:
    made = courses.course_create(actor=instructor, values={"name": "Networks"})
    named = courses.course_create(actor=instructor, values={"name": "Cloud", "team": "cloud-class"})

    assert made.team == "networks-students"
    assert named.team == "cloud-class"
    long = default_team("a-very-long-course-short-name-for-the-autumn-term")
    assert len(long) <= TEAM_NAME_MAX and long.endswith("-students")
    assert not long.startswith("-") and "--" not in long


def test_a_team_another_course_reads_every_repository_with_is_refused_by_name(
    course: Course,
) -> None:
    # The fixture course: team "students", one course team reading every repository.
    problem = _team_problem({"name": "Networks", "team": "Students"})

    assert "The team Students is already the students' team of the course Docker 101" in problem
    assert "every student of this course would see the repositories of all of" in problem
    assert "Docker 101's students, private ones included" in problem
    assert "like networks-students" in problem


def test_a_course_team_is_refused_where_the_other_course_has_one_team_per_student(
    course: Course,
) -> None:
    course.access_policy = PER_STUDENT
    course.save()

    problem = _team_problem({"name": "Networks", "team": "students"})
    allowed = course_validate(
        {"name": "Networks", "team": "students", "access_policy": PER_STUDENT}, course=None
    )

    assert "Docker 101's students would see the repositories of all of this course's" in problem
    assert allowed["team"] == "students"  # neither team reads anything: nothing leaks


def test_an_archived_course_or_another_organisation_keeps_no_team(course: Course) -> None:
    other_org = course_validate(
        {"name": "Networks", "team": "students", "organisation": "Elsewhere"}, course=None
    )
    course.archived_at = timezone.now()
    course.save()
    archived = course_validate({"name": "Networks", "team": "students"}, course=None)

    assert other_org["team"] == archived["team"] == "students"


def test_courses_that_share_a_team_already_save_other_settings_but_cannot_widen_it(
    course: Course, instructor: User
) -> None:
    legacy = Course.objects.create(
        name="Legacy", slug="legacy", team="students", access_policy=PER_STUDENT
    )

    courses.course_update(course=legacy, actor=instructor, values={"build_tag": "week1"})
    problem = _team_problem({"access_policy": Course.AccessPolicy.COURSE_TEAM}, course=legacy)

    assert Course.objects.get(pk=legacy.pk).build_tag == "week1"
    assert "already the students' team of the course Docker 101" in problem


@pytest.mark.django_db
def test_the_organisation_page_flags_courses_that_share_a_team(
    client: Client, course: Course, site_admin: User
) -> None:
    Course.objects.create(name="Legacy", slug="legacy", team="STUDENTS")
    Course.objects.create(name="Own", slug="own", team="own-students")
    Course.objects.create(name="Old", slug="old", team="students", archived_at=timezone.now())
    client.force_login(site_admin)

    page = client.get(reverse("organisation:index"))
    html = page.content.decode()

    shared = page.context["shared_teams"]
    assert [[c.slug for c in s.courses] for s in shared] == [["docker-101", "legacy"]]
    assert "Courses that share a students&#x27; team" in html or "share a students' team" in html
    assert "revelare/students" in html


@pytest.mark.django_db
def test_the_organisation_page_says_nothing_when_every_course_has_its_own_team(
    client: Client, course: Course, site_admin: User
) -> None:
    Course.objects.create(name="Own", slug="own", team="own-students")
    client.force_login(site_admin)

    page = client.get(reverse("organisation:index"))

    assert page.context["shared_teams"] == []
    assert 'id="shared-teams"' not in page.content.decode()
