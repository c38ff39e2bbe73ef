"""The plan page, in Chromium, follows an apply live and then shows the new plan: no stale
list under "Applied", no second Apply button, and the students who wait on themselves
listed with their handout step. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import Course, Enrolment, PreflightState
from tests.browser_fixtures import login_as, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_plan_page_follows_an_apply_into_the_new_plan(
    page: Any, instructor: Any, course: Course, applied: list[Any]
) -> None:
    course.team_id, course.instructors_team_id = 1, 2
    course.save()
    ada = Enrolment.objects.create(
        course=course, identifier="ada@uni.example", docker_id="ada1", github_repo="uni/ada"
    )
    Enrolment.objects.create(course=course, identifier="nid@uni.example")
    login_as(page, instructor)

    page.goto(f"/courses/{course.slug}/plan/")
    assert "Nothing has been changed yet" in page.locator("#plan-body").inner_text()
    apply = page.get_by_role("button", name=re.compile(r"^Apply \d+ steps?$"))
    apply.click()
    page.wait_for_url(re.compile(r"/plan/\?run=\d+$"))
    assert page.locator("#progress-title").inner_text().startswith("Applying")
    # While it runs, its work is not offered a second time.
    assert page.get_by_role("button", name=re.compile(r"^Apply")).count() == 0
    save_screenshot(page, "dashboard", "plan-01-applying")

    # The worker's side (not running in this test): Ada's pre-flight ran and failed.
    Enrolment.objects.filter(pk=ada.pk).update(
        preflight_state=PreflightState.FAILED,
        preflight_report=[{"check": "dockerfile", "level": "error", "message": "No Dockerfile."}],
    )

    # No reload: the live body turns into the finished apply and the new plan.
    page.locator("#progress-title", has_text="Applied").wait_for(timeout=15_000)
    body = page.locator("#plan-body").inner_text()
    assert "Nothing has been changed yet" not in body
    assert "Nothing to do: every student is as the course says" not in body
    assert page.get_by_role("button", name=re.compile(r"^Apply \d+ steps?$")).count() == 0
    waiting = page.locator("#plan-waiting").inner_text()
    assert "4. Link it to your GitHub repository" in waiting and "No Dockerfile." in waiting
    assert "1. Sign up for a Docker ID" in waiting
    save_screenshot(page, "dashboard", "plan-02-applied-new-plan")
