"""In a browser: a student signs in with GitHub, gives a private repository, installs the
course's GitHub App on it on the sandbox's GitHub, and comes back to a page that says
hubcourse hears their pushes. Then a push whose build fails: the page, which updates by
itself, says the build failed and what to do, the log says where it stopped, the badge says
failing; a good push shows it fixed. Screenshots go to test-artifacts/student-app/."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.core import mail
from django.core.cache import cache
from playwright.sync_api import expect

from accounts.models import Course, Enrolment, GitHubAccess, JoinLink, JoinRequest, User
from onboarding.engine import apply_plan, plan_course
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
# The page polls every 3 s while a build runs, every 10 s otherwise: a change shows within one
# poll of hubcourse hearing of it, and the sandbox's build takes well under a second.
SEEN_WITHIN_MS = 30_000


def _arrive(page: Any, pattern: str, step: str) -> None:
    try:
        # Tests run Celery eagerly: the confirm request runs the student's whole onboarding
        # chain before it answers, which on a loaded machine takes longer than a page load.
        page.wait_for_url(re.compile(pattern), timeout=60_000)
    except Exception:
        save_screenshot(page, SHOTS, f"stuck-{step}")
        raise


def _push(sandbox: Any, problem: str | None, message: str) -> str:
    """A push to the student's main branch (GitHub then runs hubcourse's workflow)."""
    pushed = requests.post(
        f"{sandbox.url}/_sandbox/github/repos/{LOGIN}/docker-course/push",
        json={
            "files": {"DockerfileVolume": student_files(problem)["DockerfileVolume"]},
            "message": message,
        },
        timeout=10,
    )
    pushed.raise_for_status()
    return str(pushed.json()["sha"])


def _badge(page: Any) -> str:
    """What the student's badge says, fetched as a README would (no session needed)."""
    src = page.locator(".badge-now img").get_attribute("src")
    assert src
    answer = page.context.request.get(src.split("?", 1)[0])
    assert answer.ok
    return str(answer.text())


def test_a_student_installs_the_app_then_sees_a_failing_push_and_its_fix(
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

    # The student accepts Docker Hub's invitation (by email, on Docker Hub); the periodic
    # reconcile sees it. The first build ran on the commit they gave; the page follows.
    requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{course.organisation}/accept",
        json={"invitee": "all"},
        timeout=10,
    ).raise_for_status()
    apply_plan(plan_course(course, observe=True))
    builds = page.locator("table.builds tbody tr")
    expect(builds.first).to_contain_text("Succeeded", timeout=SEEN_WITHIN_MS)
    expect(page.locator(".now")).to_contain_text("all five steps are done", timeout=SEEN_WITHIN_MS)
    save_screenshot(page, SHOTS, "07-first-build")
    assert "passing" in _badge(page)

    # A push whose build fails: no reload, the page says so within seconds, and what to do.
    broken = _push(sandbox, "unknown-base-image", "Use my own base image")
    failed_row = page.locator("table.builds tbody tr", has_text=broken[:7])
    expect(failed_row).to_contain_text("Failed", timeout=SEEN_WITHIN_MS)
    now = page.locator(".now")
    expect(now).to_contain_text("Your last build failed")
    step = page.locator(".steps .step").nth(4)
    expect(step).to_have_class(re.compile(r"\btodo\b"))
    expect(step.get_by_role("link", name="Open the log of the failed build")).to_be_visible()
    expect(page.locator(".badge-now img")).to_have_attribute("alt", "Build badge: failing")
    assert "failing" in _badge(page)
    save_screenshot(page, SHOTS, "08-build-failed")
    assert [m.subject for m in mail.outbox] == [f"{course.name}: your Docker image build failed"]

    # The log says where it stopped: the workflow's build step, and the base image that
    # does not exist.
    now.get_by_role("link", name="Open the log of the failed build").click()
    _arrive(page, rf".*/my/{roster.pk}/builds/\d+/.*", "log")
    stopped = page.locator(".card", has_text="Where it stopped")
    expect(stopped.locator(".failed-step")).to_have_text("docker/build-push-action@v6")
    expect(stopped.locator("code.failure")).to_contain_text("pyhton:3.12-slim: not found")
    save_screenshot(page, SHOTS, "09-where-it-stopped")
    page.go_back()
    _arrive(page, rf".*/my/{roster.pk}/$", "back-from-log")

    # A good push: fixed, on the page and the badge, and one email to say so.
    fixed = _push(sandbox, None, "Back to the official image")
    fixed_row = page.locator("table.builds tbody tr", has_text=fixed[:7])
    expect(fixed_row).to_contain_text("Succeeded", timeout=SEEN_WITHIN_MS)
    expect(page.locator(".now")).to_contain_text("all five steps are done")
    expect(page.locator(".badge-now img")).to_have_attribute("alt", "Build badge: passing")
    assert "passing" in _badge(page)
    save_screenshot(page, SHOTS, "10-fixed")
    assert [m.subject for m in mail.outbox] == [
        f"{course.name}: your Docker image build failed",
        f"{course.name}: your Docker image builds again",
    ]
