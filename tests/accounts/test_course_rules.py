"""The course rules live in the domain: the services that save a course refuse a bad
setting themselves, with hubcourse's ValidationError naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.course_rules import course_validate
from accounts.models import Course, User
from hubcourse.errors import ValidationError
from onboarding import courses
from onboarding.roster_changes import enrolment_create


def test_every_broken_course_rule_is_reported_at_once_each_under_its_setting(db: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        course_validate(
            {
                "name": "Networks",
                "slug": "new",
                "student_team_template": "{x}",
                "build_context": "a b",
            },
            course=None,
        )
    problems = {p.key: str(p) for p in caught.value.problems}
    assert problems == {
        "slug": "new is reserved: choose another short name.",
        "student_team_template": "Unknown placeholder {x}: use {course} and {docker_id}.",
        "build_context": "No spaces, please.",
    }


def test_a_new_course_is_named_from_its_name_and_a_stored_one_keeps_its_short_name(
    course: Course,
) -> None:
    assert course_validate({"name": "Cloud Native 2"}, course=None)["slug"] == "cloud-native-2"
    assert course_validate({"slug": "other"}, course=course)["slug"] == course.slug


def test_creating_a_course_refuses_a_taken_short_name_without_a_form(
    course: Course, instructor: User
) -> None:
    with pytest.raises(ValidationError) as caught:
        courses.course_create(actor=instructor, values={"name": "Again", "slug": course.slug})
    assert caught.value.key == "slug"
    assert Course.objects.count() == 1


def test_changing_a_course_refuses_a_template_docker_hub_would_refuse(
    course: Course, instructor: User
) -> None:
    with pytest.raises(ValidationError) as caught:
        courses.course_update(
            course=course, actor=instructor, values={"repo_name_template": "{docker_id}..x"}
        )
    assert caught.value.key == "repo_name_template"
    course.refresh_from_db()
    assert course.repo_name_template == "{course}-{docker_id}"


def test_adding_a_student_refuses_a_bad_docker_id_naming_the_input(
    course: Course, instructor: User
) -> None:
    with pytest.raises(ValidationError) as caught:
        enrolment_create(
            course=course, actor=instructor, identifier="x@example.edu", docker_id="A!"
        )
    assert caught.value.key == "docker_id"
    assert not course.enrolments.exists()
