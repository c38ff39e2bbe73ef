"""The student's whole way in a browser: the course link, GitHub sign-in on the sandbox,
linking the Docker ID and picking the repository, a push, and the green build appearing on
the status page without a reload. Screenshots go to test-artifacts/student/."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.core.cache import cache

from accounts.models import Course, Enrolment, JoinLink
from builds.backends.autobuild.client import AutobuildClient, BuildRule
from builds.services import builds_refresh
from hubcourse.errors import Forbidden, NotFound, TransientError
from integrations.dockerhub.client import DockerHubClient
from onboarding.engine import apply_plan, plan_course
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import student_files
from tests.browser_fixtures import save_screenshot
from tests.builds.support import use_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOGIN = "sam-student"
EMAIL = "sam@students.example"
DOCKER_ID = "samstudent"
MAX_TICKS = 40


def _engine_tick(sandbox: Any, course: Course) -> None:
    """What the background does between two looks at the page: the periodic reconcile, the
    student accepting Docker Hub's invitation email, and a poll of the builds."""
    try:
        apply_plan(plan_course(course, observe=True))
    except TransientError:
        pass
    requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{course.organisation}/accept",
        json={"invitee": "all"},
        timeout=10,
    )
    sandbox.world.wait_idle(timeout=10)
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        try:
            builds_refresh(enrolment_id=enrolment_id)
        except TransientError:
            pass


def _until(sandbox: Any, course: Course, tab: Any, done: Any, what: str) -> None:
    for _ in range(MAX_TICKS):
        _engine_tick(sandbox, course)
        tab.wait_for_timeout(1000)  # the page's own polling picks the change up
        if done():
            return
    save_screenshot(tab, "student", f"stuck-{what}")
    raise AssertionError(f"the status page never showed {what}")


def test_from_the_course_link_to_a_green_build(
    sandbox: Any,
    course: Course,
    settings: Any,
    page: Any,
    live_server: Any,
) -> None:
    cache.clear()
    course = use_sandbox(sandbox, course, "dockerhub-autobuild", settings)
    # The student owns their GitHub repository, so they link its automated build themselves
    # (Docker Hub's rule): each student's team administers their own Docker Hub repository.
    course.access_policy = Course.AccessPolicy.TEAM_PER_STUDENT
    course.save()
    roster = Enrolment.objects.create(course=course, identifier=EMAIL, name="Sam Student")
    link = JoinLink.objects.create(course=course)
    github_state.create_user(sandbox.world, LOGIN, EMAIL, "Sam Student")
    github_state.create_repo(sandbox.world, LOGIN, "docker-course", student_files(None))
    hub_state.create_user(sandbox.world, DOCKER_ID, "pw-samstudent", EMAIL)

    # The course link, signed out: GitHub is offered.
    page.goto(f"/join/{link.token}/")
    save_screenshot(page, "student", "01-course-link")
    page.get_by_role("button", name="Sign in with GitHub").click()

    # The sandbox's GitHub asks who signs in and whether to authorise hubcourse.
    page.wait_for_url(re.compile(r".*/login/oauth/authorize.*"))
    save_screenshot(page, "student", "02-github-authorize")
    page.locator(f'button[name="login"][value="{LOGIN}"]').click()

    # Back on hubcourse: matched to the roster by GitHub's verified email.
    page.wait_for_url(re.compile(rf".*/my/{roster.pk}/$"))
    roster.refresh_from_db()
    assert roster.user is not None and roster.user.email == EMAIL
    now = page.locator(".now")
    assert "Sign up for a free Docker ID" in now.inner_text()
    save_screenshot(page, "student", "03-status-new")

    # Linking: the Docker ID and a repository picked from the student's own.
    now.get_by_role("link", name="Enter your Docker ID").click()
    page.get_by_label("Docker ID").fill(DOCKER_ID)
    page.get_by_label("Your GitHub repository").select_option(f"{LOGIN}/docker-course")
    save_screenshot(page, "student", "04-link")
    page.get_by_role("button", name="Save and check").click()
    page.wait_for_url(re.compile(rf".*/my/{roster.pk}/$"))
    assert "Your Docker ID is samstudent." in page.locator(".steps").inner_text()
    save_screenshot(page, "student", "05-linked")

    # The engine runs; the page asks the student to link the build, with the exact values.
    steps = page.locator(".steps .step")
    _until(
        sandbox,
        course,
        page,
        lambda: "Link your automated build on Docker Hub" in page.content(),
        "the values to link the build",
    )
    assert "DockerfileVolume" in page.locator("table.values").inner_text()
    save_screenshot(page, "student", "06-link-the-build")
    # The student does it on Docker Hub, from their Docker ID linked to their GitHub account.
    requests.put(
        f"{sandbox.url}/_sandbox/dockerhub/users/{DOCKER_ID}/github-link",
        json={"login": LOGIN},
        timeout=10,
    ).raise_for_status()
    repository = StudentRepository.objects.get(enrolment=roster)
    own = AutobuildClient(
        DockerHubClient(
            sandbox.url, DOCKER_ID, hub_state.create_pat(sandbox.world, DOCKER_ID, "laptop")
        )
    )

    def linked() -> bool:
        # Docker Hub shows the repository to the student once they are in their team,
        # which holds admin on it (the engine's team step follows the invitation).
        try:
            own.create_build_source(
                repository.namespace,
                repository.name,
                github_owner=LOGIN,
                github_repository="docker-course",
                rules=[BuildRule()],
            )
        except (NotFound, Forbidden):
            return False
        return True

    _until(sandbox, course, page, linked, "the student's own build link accepted")

    # hubcourse reads it back; the page follows by itself until the build is configured.
    _until(
        sandbox,
        course,
        page,
        lambda: steps.nth(3).get_attribute("class") == "step done",
        "the repository linked",
    )
    save_screenshot(page, "student", "07-configured")

    # A push to main in the sandbox builds; the green build appears without a reload.
    pushed = requests.post(
        f"{sandbox.url}/_sandbox/github/repos/{LOGIN}/docker-course/push",
        json={"files": {"app.py": 'print("hello, class")\n'}, "message": "Say hello"},
        timeout=10,
    )
    pushed.raise_for_status()
    sha = pushed.json()["sha"][:7]
    row = page.locator("table.builds tr", has_text=sha)
    _until(
        sandbox,
        course,
        page,
        lambda: row.count() == 1 and "Succeeded" in row.inner_text(),
        f"a green build of {sha}",
    )
    assert page.locator(".now").inner_text().count("all five steps are done") == 1
    image = page.locator('a[href*="/r/revelare/"]')
    assert image.count() == 1
    assert image.inner_text() == f"revelare/{course.repository_name(DOCKER_ID)}"
    save_screenshot(page, "student", "08-green-build")
