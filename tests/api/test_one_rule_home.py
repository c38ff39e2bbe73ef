"""Every validation rule has one home in the domain, and both floors reach it: the same bad
value sent through a page and through the API is refused with the same sentence, shown next
to the same field (the API's ``fields``) or above the form (the API's ``message``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.course_rules import COURSE_SETTINGS
from accounts.models import Course, Enrolment, User
from onboarding import joining

ROSTER = "identifier,name\nada@example.edu,Ada\n"


def _settings(**changes: Any) -> dict[str, Any]:
    defaults = Course()
    values = {name: getattr(defaults, name) for name in COURSE_SETTINGS}
    values.update({"name": "Networks", "slug": "", "team": ""} | changes)
    return values


def _form(values: dict[str, Any]) -> dict[str, Any]:
    """The same values as a browser posts them (an unticked box is not sent)."""
    return {k: v for k, v in values.items() if v is not False and v is not None}


@dataclass(frozen=True)
class Case:
    name: str
    who: str  # instructor, site_admin or student
    page: Callable[[Client, Course, Enrolment], Any]
    api: Callable[[Any, Course, Enrolment], Any]
    field: str  # in the API's ``fields``; empty for the input as a whole


def _course_new(**changes: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    values = _settings(**changes)
    return (
        lambda client, course, enrolment: client.post(
            reverse("dashboard:course_new"), _form(values)
        ),
        lambda api, course, enrolment: api.post("/api/v1/courses/", values, format="json"),
    )


def _course_change(**changes: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def page(client: Client, course: Course, enrolment: Enrolment) -> Any:
        values = {name: getattr(course, name) for name in COURSE_SETTINGS} | changes
        return client.post(reverse("dashboard:settings", args=[course.slug]), _form(values))

    def api(api: Any, course: Course, enrolment: Enrolment) -> Any:
        return api.patch(f"/api/v1/courses/{course.slug}/", changes, format="json")

    return page, api


CASES = [
    Case("reserved course short name", "instructor", *_course_new(slug="new"), field="slug"),
    Case("course short name spelling", "instructor", *_course_new(slug="bad slug!"), field="slug"),
    Case("course short name taken", "instructor", *_course_new(slug="docker-101"), field="slug"),
    Case(
        "repository template without {docker_id}",
        "instructor",
        *_course_new(slug="net", repo_name_template="{course}"),
        field="repo_name_template",
    ),
    Case(
        "repository template with a lone brace",
        "instructor",
        *_course_change(repo_name_template="{docker_id"),
        field="repo_name_template",
    ),
    Case(
        "repository name Docker Hub refuses",
        "instructor",
        *_course_change(repo_name_template="{docker_id}__x"),
        field="repo_name_template",
    ),
    Case(
        "student team template with an unknown placeholder",
        "instructor",
        *_course_change(student_team_template="{docker_id}-{term}"),
        field="student_team_template",
    ),
    Case(
        "a students' team another course reads every repository with",
        "instructor",
        *_course_new(team="students"),
        field="team",
    ),
    Case(
        "an image tag Docker refuses",
        "instructor",
        *_course_change(build_tag="week:1"),
        field="build_tag",
    ),
    Case(
        "a build branch Git refuses",
        "instructor",
        *_course_change(build_branch="feature..x"),
        field="build_branch",
    ),
    Case(
        "a space in the build branch",
        "instructor",
        *_course_change(build_branch="my branch"),
        field="build_branch",
    ),
    Case(
        "an empty roster",
        "instructor",
        lambda c, course, e: c.post(reverse("dashboard:roster", args=[course.slug]), {"text": ""}),
        lambda a, course, e: a.post(f"/api/v1/courses/{course.slug}/roster-imports/", {"text": ""}),
        field="",
    ),
    Case(
        "a GitHub Classroom repository without {github_username}",
        "instructor",
        lambda c, course, e: c.post(
            reverse("dashboard:roster", args=[course.slug]),
            {"text": ROSTER, "classroom_repo_template": "org/lab"},
        ),
        lambda a, course, e: a.post(
            f"/api/v1/courses/{course.slug}/roster-imports/",
            {"text": ROSTER, "classroom_repo_template": "org/lab"},
        ),
        field="classroom_repo_template",
    ),
    Case(
        "a staff member's email",
        "instructor",
        lambda c, course, e: c.post(
            reverse("dashboard:roles", args=[course.slug]), {"email": "tina@", "role": "ta"}
        ),
        lambda a, course, e: a.post(
            f"/api/v1/courses/{course.slug}/roles/", {"email": "tina@", "role": "ta"}
        ),
        field="email",
    ),
    Case(
        "a corrected Docker ID",
        "instructor",
        lambda c, course, e: c.post(
            reverse("dashboard:student_correct", args=[course.slug, e.pk]),
            {"docker_id": "no way!", "github_repo": ""},
        ),
        lambda a, course, e: a.patch(
            f"/api/v1/courses/{course.slug}/enrolments/{e.pk}/",
            {"docker_id": "no way!"},
            format="json",
        ),
        field="docker_id",
    ),
    Case(
        "a corrected GitHub repository",
        "instructor",
        lambda c, course, e: c.post(
            reverse("dashboard:student_correct", args=[course.slug, e.pk]),
            {"docker_id": "", "github_repo": "not a repo at all"},
        ),
        lambda a, course, e: a.patch(
            f"/api/v1/courses/{course.slug}/enrolments/{e.pk}/",
            {"github_repo": "not a repo at all"},
            format="json",
        ),
        field="github_repo",
    ),
    Case(
        "a bulk action on nobody",
        "instructor",
        lambda c, course, e: c.post(
            reverse("dashboard:bulk", args=[course.slug]),
            {"action": "retry", "scope": "selected"},
            follow=True,
        ),
        lambda a, course, e: a.post(
            f"/api/v1/courses/{course.slug}/enrolments/actions/",
            {"action": "retry", "ids": []},
            format="json",
        ),
        field="ids",
    ),
    Case(
        "the offboarding confirmation",
        "instructor",
        lambda c, course, e: c.post(
            reverse("organisation:offboard", args=[course.slug]),
            {"repository_action": "archive", "confirmation": "docker 101"},
        ),
        lambda a, course, e: a.post(
            f"/api/v1/courses/{course.slug}/offboardings/",
            {"repository_action": "archive", "confirmation": "docker 101"},
        ),
        field="confirmation",
    ),
    Case(
        "an empty invite list",
        "site_admin",
        lambda c, course, e: c.post(
            reverse("organisation:bulk_new"), {"invitees": "", "role": "member"}
        ),
        lambda a, course, e: a.post("/api/v1/invite-jobs/", {"invitees": "", "role": "member"}),
        field="",
    ),
    Case(
        "the student's Docker ID",
        "student",
        lambda c, course, e: c.post(
            reverse("student:link", args=[e.pk]), {"docker_id": "No Way!", "github_repo": "a/b"}
        ),
        lambda a, course, e: a.patch(
            f"/api/v1/me/enrolments/{e.pk}/",
            {"docker_id": "No Way!", "github_repo": "a/b"},
            format="json",
        ),
        field="docker_id",
    ),
    Case(
        "a Docker ID another student on the course gave",
        "student",
        lambda c, course, e: c.post(
            reverse("student:link", args=[e.pk]), {"docker_id": "takenid", "github_repo": "a/b"}
        ),
        lambda a, course, e: a.patch(
            f"/api/v1/me/enrolments/{e.pk}/",
            {"docker_id": "takenid", "github_repo": "a/b"},
            format="json",
        ),
        field="docker_id",
    ),
    Case(
        "the student's GitHub repository",
        "student",
        lambda c, course, e: c.post(
            reverse("student:link", args=[e.pk]),
            {"docker_id": "samstudent", "github_repo": "not a repo at all"},
        ),
        lambda a, course, e: a.patch(
            f"/api/v1/me/enrolments/{e.pk}/",
            {"docker_id": "samstudent", "github_repo": "not a repo at all"},
            format="json",
        ),
        field="github_repo",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_rule_refuses_the_same_value_with_the_same_words_on_the_page_and_in_the_api(
    case: Case,
    course: Course,
    instructor: User,
    student: User,
    site_admin: User,
    token_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(joining, "docker_id_exists", lambda course, docker_id: True)
    monkeypatch.setattr(
        joining, "own_repositories", lambda user, refresh=False: joining.OwnRepositories(False, [])
    )
    Enrolment.objects.create(course=course, identifier="taken@example.edu", docker_id="takenid")
    enrolment = Enrolment.objects.get(user=student)
    user = {"instructor": instructor, "student": student, "site_admin": site_admin}[case.who]
    page = Client()
    page.force_login(user)

    answer = case.api(token_client(user), course, enrolment)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    # A rule about the input as a whole is the error's message, with no field named.
    messages = error["fields"][case.field] if case.field else [error["message"]]
    assert messages and all(message.strip() for message in messages)

    html = case.page(page, course, enrolment).content.decode()
    for message in messages:
        assert escape(message) in html, f"the page does not say: {message}"


def test_every_broken_course_rule_is_named_in_one_api_answer(
    token_client: Any, instructor: User
) -> None:
    values = _settings(slug="new", build_branch="my branch")
    answer = token_client(instructor).post("/api/v1/courses/", values, format="json")
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert fields == {
        "slug": ["new is reserved: choose another short name."],
        "build_branch": ["No spaces, please."],
    }
