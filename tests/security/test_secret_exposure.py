"""Secrets set on a course never come back out: not in any page the three roles open, not in
the API, not in a CSV, not in the audit log, not in a log line written during a whole
onboarding in the sandbox.

The course carries its own Docker Hub and GitHub tokens (the site-wide ones are emptied, so
every call the engine makes uses the course's), GitHub Actions builds (the Docker Hub token
travels to GitHub as a repository secret) and, once onboarding made the push hooks, a GitHub
webhook secret. Each known plaintext is then looked for in everything a person can read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, CourseRole, Enrolment, OnboardingState, User
from accounts.tokens import token_create
from builds.models import Build
from hubcourse.models import AuditEvent
from hubcourse.secrets import SecretValue
from onboarding.joining import join_link_for
from tests.engine.support import make_class
from tests.engine.test_converge import converge

pytestmark = pytest.mark.django_db(transaction=True)

CLASS_SIZE = 2


def _revealed(value: SecretValue | str) -> str:
    return value.reveal() if isinstance(value, SecretValue) else value


def _secrets(course: Course, extra: dict[str, str]) -> dict[str, str]:
    course.refresh_from_db()
    found = {
        "course Docker Hub token": _revealed(course.dockerhub_token),
        "course GitHub token": _revealed(course.github_token),
        "GitHub webhook secret": _revealed(course.github_webhook_secret),
        **extra,
    }
    missing = [name for name, value in found.items() if not value]
    assert not missing, f"the scan needs every secret set: {missing}"
    # Short values would match by chance; every secret here is a long random token.
    assert all(len(value) >= 16 for value in found.values())
    return found


@pytest.fixture
def onboarded(
    sandbox: Any, course: Course, settings: Any, caplog: pytest.LogCaptureFixture
) -> Iterator[dict[str, Any]]:
    """A small class onboarded with GitHub Actions on the course's own credentials, with
    every log record (DEBUG and up) captured from the first call to the last."""
    caplog.set_level(logging.DEBUG)
    hub, github = sandbox.seeded["dockerhub"], sandbox.seeded["github"]
    course.organisation = hub["org"]
    course.build_backend = "github-actions"
    course.dockerhub_username = hub["owner"]
    course.dockerhub_token = hub["owner_token"]
    course.github_token = github["instructor"]["token"]
    course.save()
    # Nothing falls back to the site's credentials: only the course's secrets are in play.
    settings.DOCKERHUB_TOKEN = ""
    settings.GITHUB_TOKEN = ""
    enrolments = make_class(sandbox, course, CLASS_SIZE)

    converge(sandbox, course)

    assert set(course.enrolments.values_list("state", flat=True)) == {
        OnboardingState.FIRST_BUILD_SUCCEEDED
    }
    yield {"course": course, "enrolments": enrolments}


def _assert_absent(secrets: dict[str, str], where: str, text: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"the {name} appears in {where}"


def test_no_secret_is_logged_during_a_full_onboarding(
    onboarded: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    secrets = _secrets(onboarded["course"], {})
    # The onboarding ran in the fixture: its records are the setup phase's.
    records = caplog.get_records("setup")
    assert len(records) > 50, "the onboarding logged almost nothing: is the capture working?"

    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        _assert_absent(secrets, f"a log record of {record.name}", text)


def test_no_secret_is_in_the_audit_log_or_stored_errors(onboarded: dict[str, Any]) -> None:
    course = onboarded["course"]
    secrets = _secrets(course, {})

    events = list(AuditEvent.objects.values_list("target", "message"))
    assert events
    for target, message in events:
        _assert_absent(secrets, "the audit log", f"{target}\n{message}")
    for row in Enrolment.objects.values_list("error_message", "preflight_report"):
        _assert_absent(secrets, "an enrolment's stored error", str(row))
    for row in Build.objects.values_list("log_excerpt", "log_url"):
        _assert_absent(secrets, "a stored build", str(row))
    _assert_absent(secrets, "the course's last sync error", course.last_sync_error)


def _get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_no_page_or_api_answer_shows_a_secret(
    onboarded: dict[str, Any], site_admin: User, client: Client
) -> None:
    course = onboarded["course"]
    enrolment = onboarded["enrolments"][0]
    instructor = User.objects.create_user("ines.instructor@example.edu")
    CourseRole.objects.create(course=course, user=instructor, role=CourseRole.Role.INSTRUCTOR)
    pupil = User.objects.create_user("student000@example.edu")
    Enrolment.objects.filter(pk=enrolment.pk).update(user=pupil)
    _token, api_token = token_create(user=instructor, name="script")
    secrets = _secrets(course, {"API token": api_token})
    join_link_for(course)
    build = Build.objects.filter(enrolment=enrolment).first()
    assert build is not None

    slug, eid = course.slug, enrolment.pk
    instructor_pages = [
        reverse("dashboard:board", args=[slug]),
        reverse("dashboard:board_live", args=[slug]),
        reverse("dashboard:export", args=[slug]),
        reverse("dashboard:settings", args=[slug]),
        reverse("dashboard:roster", args=[slug]),
        reverse("dashboard:plan", args=[slug]),
        reverse("dashboard:student", args=[slug, eid]),
        reverse("dashboard:as_student", args=[slug, eid]),
        reverse("dashboard:roles", args=[slug]),
        reverse("dashboard:audit", args=[slug]),
        reverse("dashboard:audit_export", args=[slug]),
        reverse("student:join_link", args=[slug]),
        reverse("course_list"),
        reverse("api:tokens"),
    ]
    student_pages = [
        reverse("student:status", args=[eid]),
        reverse("student:status_live", args=[eid]),
        reverse("student:builds", args=[eid]),
        reverse("student:build_log", args=[eid, build.pk]),
        reverse("my_courses"),
    ]
    admin_pages = [
        reverse("organisation:index"),
        reverse("organisation:members"),
        reverse("organisation:offboard", args=[slug]),
        reverse("admin:accounts_course_changelist"),
        reverse("admin:accounts_course_change", args=[course.pk]),
    ]
    api_answers = [
        reverse("api:course-list"),
        reverse("api:course-detail", args=[slug]),
        reverse("api:enrolment-list", args=[slug]),
        reverse("api:enrolment-detail", args=[slug, eid]),
        reverse("api:build-list"),
        reverse("api:audit-list"),
        reverse("api:plan", args=[slug]),
    ]

    client.force_login(instructor)
    for url in instructor_pages:
        _assert_absent(secrets, url, _get(client, url))
    client.force_login(pupil)
    for url in student_pages:
        _assert_absent(secrets, url, _get(client, url))
    response = client.get(reverse("api:my-enrolment-detail", args=[eid]))
    _assert_absent(secrets, "the student's API answer", response.content.decode())
    client.force_login(site_admin)
    for url in admin_pages:
        _assert_absent(secrets, url, _get(client, url))
    client.logout()
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    for url in api_answers:
        _assert_absent(secrets, url, _get(bearer, url))


def test_no_signed_log_address_is_logged(
    onboarded: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A job log's address (GitHub's redirect) is signed in its query, and opens the log to
    whoever holds it: hubcourse logs paths only, and so must the HTTP library underneath."""
    records = caplog.get_records("setup")
    assert any("/actions/jobs/" in record.getMessage() for record in records)

    for record in records:
        assert "sig=" not in record.getMessage(), f"{record.name}: {record.getMessage()}"
