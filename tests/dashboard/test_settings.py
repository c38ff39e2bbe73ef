"""Course setup: defaults from the handout, write-only credentials, template checks with a
preview, and the Check connection button against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, CourseRole
from hubcourse.models import AuditEvent
from hubcourse.secrets import SecretValue
from onboarding.models import ConnectionCheck

TOKEN = "dckr_pat_do-not-show-me-0123456789"


def _form(course: Course | None = None, **changes: Any) -> dict[str, Any]:
    values = {
        "name": "Docker 202",
        "slug": "",
        "organisation": "Revelare",
        "team": "",
        "instructors_team": "instructors",
        "access_policy": "course_team",
        "repo_name_template": "{course}-{docker_id}",
        "student_team_template": "{course}-{docker_id}",
        "repo_private": "on",
        "build_backend": "dockerhub-autobuild",
        "build_branch": "main",
        "build_dockerfile": "DockerfileVolume",
        "build_context": "/",
        "build_tag": "latest",
        "dockerhub_username": "",
        "dockerhub_token": "",
        "github_token": "",
    }
    if course is not None:
        values.update(name=course.name, slug=course.slug, team=course.team)
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


@pytest.mark.django_db
def test_the_new_course_form_starts_from_the_handouts_defaults(
    client: Client, instructor: Any
) -> None:
    client.force_login(instructor)

    form = client.get(reverse("dashboard:course_new")).context["form"]

    assert form["organisation"].value() == "revelare"
    assert form["build_branch"].value() == "main"
    assert form["build_dockerfile"].value() == "DockerfileVolume"
    assert form["build_context"].value() == "/"


@pytest.mark.django_db
def test_creating_a_course_makes_its_creator_an_instructor(client: Client, instructor: Any) -> None:
    client.force_login(instructor)

    response = client.post(reverse("dashboard:course_new"), _form(dockerhub_token=TOKEN))

    course = Course.objects.get(slug="docker-202")
    assert response["Location"] == reverse("dashboard:settings", args=["docker-202"])
    assert CourseRole.objects.get(course=course, user=instructor).role == "instructor"
    assert isinstance(course.dockerhub_token, SecretValue)
    assert course.dockerhub_token.reveal() == TOKEN
    assert course.dockerhub_token_set_at is not None


@pytest.mark.django_db
def test_a_short_name_with_spaces_says_which_characters_work(
    client: Client, instructor: Any
) -> None:
    client.force_login(instructor)

    response = client.post(reverse("dashboard:course_new"), _form(slug="Docker 202!"))

    assert response.status_code == 200
    assert "Use only letters, digits, dashes and underscores" in response.content.decode()
    assert "valid “slug”" not in response.content.decode()
    assert not Course.objects.filter(name="Docker 202").exists()


@pytest.mark.django_db
def test_a_stored_token_is_never_shown_back_only_when_it_was_set(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    client.post(
        reverse("dashboard:settings", args=[course.slug]), _form(course, github_token=TOKEN)
    )

    page = client.get(reverse("dashboard:settings", args=[course.slug])).content.decode()

    assert TOKEN not in page
    assert "A token is stored (set on" in page
    event = AuditEvent.objects.get(action="course.settings")
    assert "github_token" in event.message and TOKEN not in event.message


@pytest.mark.django_db
def test_an_empty_token_field_keeps_the_stored_token_and_clear_forgets_it(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    url = reverse("dashboard:settings", args=[course.slug])
    client.post(url, _form(course, dockerhub_token=TOKEN))

    client.post(url, _form(course, build_branch="trunk"))
    course.refresh_from_db()
    assert course.build_branch == "trunk"
    assert course.dockerhub_token.reveal() == TOKEN

    client.post(url, _form(course, build_branch="trunk", clear_dockerhub_token="on"))
    course.refresh_from_db()
    assert course.dockerhub_token == ""
    assert course.dockerhub_token_set_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{course}", "Include {docker_id}"),
        ("{course}-{student}", "Unknown placeholder {student}"),
        ("{docker_id", "Braces must come in pairs"),
        ("{docker_id}__x", "which Docker Hub refuses"),
    ],
)
def test_a_bad_repository_template_says_what_to_fix(
    client: Client, instructor: Any, course: Course, template: str, message: str
) -> None:
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:settings", args=[course.slug]),
        _form(course, repo_name_template=template),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    course.refresh_from_db()
    assert course.repo_name_template == "{course}-{docker_id}"


@pytest.mark.django_db
def test_the_settings_page_previews_repository_names(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)

    page = client.get(reverse("dashboard:settings", args=[course.slug])).content.decode()

    assert "revelare/docker-101-adalovelace" in page


@pytest.mark.django_db
def test_the_short_name_cannot_change_once_the_course_exists(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)

    client.post(reverse("dashboard:settings", args=[course.slug]), _form(course, slug="renamed"))

    assert Course.objects.filter(slug="docker-101").exists()


@pytest.mark.django_db(transaction=True)
def test_check_connection_reports_each_check_in_plain_words(
    client: Client, instructor: Any, course: Course, sandbox: Any
) -> None:
    hub = sandbox.seeded["dockerhub"]
    client.force_login(instructor)
    url = reverse("dashboard:settings", args=[course.slug])
    client.post(
        url,
        _form(course, dockerhub_username=hub["owner"], dockerhub_token=hub["owner_token"]),
    )

    response = client.post(reverse("dashboard:check", args=[course.slug]))
    check = ConnectionCheck.objects.get()
    live = client.get(reverse("dashboard:check_live", args=[course.slug, check.pk]))
    page = live.content.decode()

    assert response.status_code == 302
    assert check.__class__.objects.get().finished_at is not None
    names = [r["name"] for r in ConnectionCheck.objects.get().results]
    assert names[:4] == [
        "Docker Hub reachable",
        "Docker Hub login",
        "Organisation",
        "Docker Hub role",
    ]
    assert f"{hub['owner']} is an Owner of revelare" in page
    assert "data-poll-stop" in page
    assert hub["owner_token"] not in page


@pytest.mark.django_db(transaction=True)
def test_check_connection_explains_a_refused_token(
    client: Client, instructor: Any, course: Course, sandbox: Any
) -> None:
    client.force_login(instructor)
    client.post(
        reverse("dashboard:settings", args=[course.slug]),
        _form(course, dockerhub_username="revelareowner", dockerhub_token="dckr_pat_wrong"),
    )

    client.post(reverse("dashboard:check", args=[course.slug]))
    page = client.get(reverse("dashboard:settings", args=[course.slug])).content.decode()

    assert "Docker Hub refused the token for revelareowner" in page
    assert "What to do:" in page
