"""An instructor, in Chromium, from an empty install to a green class board: course setup
with Check connection, roster import with its preview, apply, and the board turning green
without a reload as the sandbox builds. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import Course, OnboardingState
from builds.services import builds_refresh
from hubcourse.errors import TransientError
from onboarding.engine import apply_plan, plan_course
from tests.browser_fixtures import login_as, save_screenshot
from tests.engine.support import accept_all_invites

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Bounded: a few passes of "the outside world moves, beat runs" are enough for three students.
WORLD_PASSES = 6


def _world_moves_on(sandbox: Any, course: Course) -> None:
    """What happens outside the browser: students accept their invitations, Docker Hub
    builds, and the periodic reconcile and build polling (beat) run."""
    accept_all_invites(sandbox, course.organisation)
    try:
        apply_plan(plan_course(course, observe=True))
    except TransientError:
        pass  # the periodic task tries again; so does the next pass
    sandbox.world.wait_idle(timeout=20)
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        try:
            builds_refresh(enrolment_id=enrolment_id)
        except TransientError:
            pass


def test_an_instructor_goes_from_an_empty_install_to_a_green_board(
    page: Any,
    site_admin: Any,
    engine: Any,
    demo_class: dict[str, Any],
) -> None:
    hub = demo_class["dockerhub"]
    students = {s["docker_id"]: s for s in demo_class["students"]}
    good = [students["adalovelace"], students["alanturing"]]
    broken = students["katherinejohnson"]  # her Dockerfile is not at DockerfileVolume
    login_as(page, site_admin)

    # -- an empty install: no course yet ---------------------------------------------------
    page.goto("/courses/")
    assert page.get_by_text("You have no course yet").is_visible()
    page.get_by_role("link", name="New course").click()
    page.wait_for_url(re.compile(r"/courses/new/$"))
    page.wait_for_load_state()  # the live preview's script is deferred
    page.get_by_label("Course name").fill("Docker 101")
    # The site's organisation, as registered from the settings (Docker Hub's names ignore case).
    assert page.get_by_label("Docker Hub organisation").input_value().lower() == "revelare"
    assert page.get_by_label("Dockerfile location").input_value() == "DockerfileVolume"
    # The preview of repository names follows the template as it is typed.
    page.get_by_label("Repository name", exact=True).fill("{course}-{docker_id}-image")
    assert "revelare/docker-101-adalovelace-image" in page.locator("#repo-preview").inner_text()
    page.get_by_label("Repository name", exact=True).fill("{course}-{docker_id}")
    # New courses build with GitHub Actions; this class still uses automated builds, and
    # the form says, as soon as they are picked, that Docker retires them.
    retirement = page.locator(".backend-retirement[data-backend='dockerhub-autobuild']")
    assert page.get_by_label("How images are built").input_value() == "github-actions"
    assert not retirement.is_visible()
    page.get_by_label("How images are built").select_option("dockerhub-autobuild")
    assert retirement.is_visible()
    assert "Docker retires automated builds on 1 April 2027" in retirement.inner_text()
    page.get_by_label("Docker Hub identifier").fill(hub["owner"])
    page.get_by_label("Docker Hub access token").fill(hub["owner_token"])
    save_screenshot(page, "dashboard", "01-new-course")
    page.get_by_role("button", name="Create the course").click()

    page.wait_for_url(re.compile(r"/courses/docker-101/settings/$"))
    assert hub["owner_token"] not in page.content()
    assert page.get_by_text("A token is stored (set on").is_visible()
    page.get_by_role("button", name="Check connection").click()
    page.locator(".check-results").get_by_text("Everything works.").wait_for()
    save_screenshot(page, "dashboard", "02-connection-checked")

    # -- the roster, previewed before anything is saved ------------------------------------
    page.get_by_role("link", name="Import roster").click()
    lines = [f"{s['email']},{s['name']},{s['docker_id']},{s['github_repo']}" for s in good]
    lines.append(
        f"{broken['email']},{broken['name']},{broken['docker_id']},{broken['github_repo']}"
    )
    lines.append("ghost@students.example,Ghost,nosuchstudent,")
    lines.append("not an email@x,Broken Row,,")
    page.get_by_label("Or paste lines").fill("\n".join(lines))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name=re.compile(r"Import 4 students and apply")).wait_for()
    preview = page.locator("table.list").inner_text()
    assert "Docker Hub has no user nosuchstudent" in preview
    assert "Error" in preview
    save_screenshot(page, "dashboard", "03-roster-preview")
    course = Course.objects.get(slug="docker-101")
    assert not course.enrolments.exists()

    page.get_by_role("button", name=re.compile(r"Import 4 students and apply")).click()
    page.wait_for_url(re.compile(r"/courses/docker-101/plan/\?run=\d+$"))
    assert page.locator("#progress progress").is_visible()
    save_screenshot(page, "dashboard", "04-applied")
    assert course.enrolments.count() == 4

    # -- the board, updating itself as the class onboards ----------------------------------
    page.get_by_role("link", name="Class board", exact=True).click()
    board = page.locator("#board")
    save_screenshot(page, "dashboard", "05-board-onboarding")
    for _ in range(WORLD_PASSES):
        _world_moves_on(engine, course)
        done = course.enrolments.filter(state=OnboardingState.FIRST_BUILD_SUCCEEDED).count()
        if done == len(good):
            break
    assert done == len(good), list(course.enrolments.values_list("docker_id", "state"))

    # No reload: the live partial brings the new counts in by itself.
    board.locator(".legend").get_by_text(re.compile(r"All five steps done\s+2")).wait_for(
        timeout=30_000
    )
    stuck_row = board.locator("tr", has_text=broken["email"])
    assert "Pre-flight check failed" in stuck_row.inner_text()
    assert "DockerfileVolume" in stuck_row.inner_text()
    save_screenshot(page, "dashboard", "06-board-green")

    # -- the stuck student's page tells the instructor what is wrong -----------------------
    stuck_row.get_by_role("link", name=broken["email"]).click()
    page.get_by_role("heading", name="Pre-flight check failed").wait_for()
    save_screenshot(page, "dashboard", "07-student-detail")
