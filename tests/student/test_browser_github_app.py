"""In a browser: a student signs in with GitHub, gives a private repository, installs the
course's GitHub App on it on the sandbox's GitHub, and comes back to a page that says
hubcourse hears their pushes. Screenshots go to test-artifacts/student-app/."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.core.cache import cache

from accounts.models import Course, Enrolment, GitHubAccess, JoinLink, JoinRequest, User
from onboarding.joining import join_request_approve
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import student_files
from tests.browser_fixtures import save_screenshot
from tests.builds.support import use_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOGIN = "sam-private"
EMAIL = "sam.private@students.example"
DOCKER_ID = "samprivate"
NUMBER = "s2026042"
SHOTS = "student-app"


def _arrive(page: Any, pattern: str, step: str) -> None:
    try:
        # Tests run Celery eagerly: the confirm request runs the student's whole onboarding
        # chain before it answers, which on a loaded machine takes longer than a page load.
        page.wait_for_url(re.compile(pattern), timeout=60_000)
    except Exception:
        save_screenshot(page, SHOTS, f"stuck-{step}")
        raise


def test_a_student_installs_the_app_on_a_private_repository_and_comes_back(
    sandbox: Any, course: Course, instructor: User, settings: Any, page: Any, live_server: Any
) -> None:
    cache.clear()
    course = use_sandbox(sandbox, course, "github-actions", settings)
    settings.SITE_URL = live_server.url
    app = sandbox.seeded["github"]["app"]
    requests.patch(
        f"{sandbox.url}/_sandbox/github/apps/{app['slug']}",
        json={
            "setup_url": f"{live_server.url}/github/app/setup/",
            "callback_urls": [
                f"{live_server.url}/github/app/confirm/",
                f"{live_server.url}/accounts/github/login/callback/",
            ],
            "hook_url": f"{live_server.url}/webhooks/github/app/",
        },
        timeout=10,
    ).raise_for_status()
    roster = Enrolment.objects.create(course=course, identifier=NUMBER, name="Sam Private")
    link = JoinLink.objects.create(course=course)
    github_state.create_user(sandbox.world, LOGIN, EMAIL, "Sam Private")
    github_state.create_repo(
        sandbox.world, LOGIN, "docker-course", student_files(None), private=True
    )
    hub_state.create_user(sandbox.world, DOCKER_ID, "pw-samprivate", EMAIL)

    # Sign in with GitHub from the course link, and give the student number: a claim that
    # the instructor confirms (anyone with the link could type it), then the link leads in.
    page.goto(f"/join/{link.token}/")
    page.get_by_role("button", name="Sign in with GitHub").click()
    page.wait_for_url(re.compile(r".*/login/oauth/authorize.*"))
    page.locator(f'button[name="login"][value="{LOGIN}"]').click()
    page.get_by_label(re.compile("Your student number")).fill(NUMBER)
    page.get_by_role("button", name="Join").click()
    page.get_by_text("waiting for your instructor").wait_for()
    join_request_approve(
        request_id=JoinRequest.objects.get(claimed=roster).pk,
        course=course,
        actor=instructor,
        enrolment_id=roster.pk,
    )
    page.goto(f"/join/{link.token}/")
    _arrive(page, rf".*/my/{roster.pk}/$", "sign-in")
    save_screenshot(page, SHOTS, "01-signed-in")

    # A private repository is not listed (a sign-in token has no scope to see it): typed.
    page.goto(f"/my/{roster.pk}/link/")
    page.get_by_label("Docker ID").fill(DOCKER_ID)
    page.locator("#id_github_repo").fill(f"{LOGIN}/docker-course")
    save_screenshot(page, SHOTS, "02-link-typed")
    page.get_by_role("button", name="Save and check").click()
    page.wait_for_url(re.compile(rf".*/my/{roster.pk}/$"))
    panel = page.locator("#github-access")
    assert "cannot be watched: private repository without the app" in panel.inner_text()
    save_screenshot(page, SHOTS, "03-cannot-be-watched")

    # Install the app on GitHub (the sandbox's install page), only on this repository.
    panel.get_by_role("button", name=re.compile("Install the course's GitHub App")).click()
    _arrive(page, r".*/apps/[^/]+/installations/new.*", "install-page")
    page.get_by_label("Only select repositories").check()
    page.get_by_label(re.compile(rf"{LOGIN}/docker-course")).check()
    save_screenshot(page, SHOTS, "04-github-install")
    page.get_by_role("button", name="Install").click()

    # GitHub asks the student to confirm who they are (hubcourse checks the installation).
    _arrive(page, r".*/login/oauth/authorize.*", "confirm-page")
    save_screenshot(page, SHOTS, "05-github-confirm")
    page.locator(f'button[name="login"][value="{LOGIN}"]').click()

    _arrive(page, rf".*/my/{roster.pk}/$", "back")
    assert "is installed on sam-private/docker-course" in page.locator("body").inner_text()
    assert "push events" in page.locator("#github-access").inner_text()
    save_screenshot(page, SHOTS, "06-installed")
    roster.refresh_from_db()
    assert roster.github_access == GitHubAccess.APP
    assert roster.github_installation_id is not None
