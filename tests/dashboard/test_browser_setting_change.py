"""Changing a setting after onboarding, in Chromium: the instructor moves the image tag from
``latest`` to ``week1`` in the course form, the plan page says per student what moves
(``tag latest -> week1``), Apply runs it (the real engine, against the sandbox), the page
follows the apply live and ends on "Nothing to do" with no stale list and no second Apply
button, and the sandbox's automated-build rules push ``week1``. Screenshots go to
test-artifacts/dashboard/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import Course
from tests.browser_fixtures import login_as, save_screenshot
from tests.engine.support import make_class
from tests.engine.test_converge import converge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLASS_SIZE = 3


def _rule_tags(sandbox: Any) -> dict[str, list[str]]:
    """Image -> the tags its automated-build rules push, read from the sandbox."""
    with sandbox.world.lock:
        builds = sandbox.world.dockerhub["builds"]
        return {
            source["image"]: [builds["settings"][uuid]["tag"] for uuid in source["settings"]]
            for source in builds["sources"].values()
        }


def test_a_new_image_tag_is_planned_per_student_applied_and_then_nothing_is_left(
    page: Any, instructor: Any, course: Course, engine: Any
) -> None:
    course.organisation = engine.seeded["dockerhub"]["org"]
    course.build_backend = "dockerhub-autobuild"
    course.save()
    make_class(engine, course, CLASS_SIZE)
    converge(engine, course)
    before = _rule_tags(engine)
    assert len(before) == CLASS_SIZE
    assert all(tags == ["latest"] for tags in before.values()), before
    login_as(page, instructor)

    # -- the course form: latest -> week1 ----------------------------------------------------
    page.goto(f"/courses/{course.slug}/settings/")
    tag = page.get_by_label("Image tag")
    assert tag.input_value() == "latest"
    tag.fill("week1")
    save_screenshot(page, "dashboard", "setting-01-tag-week1")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    course.refresh_from_db()
    assert course.build_tag == "week1"

    # -- the plan says, per student, what moves ----------------------------------------------
    page.goto(f"/courses/{course.slug}/plan/")
    body = page.locator("#plan-body")
    for enrolment in course.enrolments.all():
        row = body.locator("tr", has_text=enrolment.identifier).filter(has_text="tag")
        assert "tag latest -> week1" in row.first.inner_text(), body.inner_text()
    assert body.inner_text().count("tag latest -> week1") == CLASS_SIZE
    save_screenshot(page, "dashboard", "setting-02-plan-tag-moves")
    apply = page.get_by_role("button", name=re.compile(r"^Apply \d+ steps?$"))
    assert apply.count() == 1
    apply.click()

    # -- the page follows the apply into the new plan: nothing to do -------------------------
    page.wait_for_url(re.compile(r"/plan/\?run=\d+$"))
    page.locator("#progress-title", has_text="Applied").wait_for(timeout=30_000)
    page.locator("#plan-body", has_text="Nothing to do").wait_for(timeout=30_000)
    body_text = page.locator("#plan-body").inner_text()
    assert "Nothing to do: every student is as the course says" in body_text
    assert "tag latest -> week1" not in body_text  # no stale list of the applied steps
    # No second "Apply N steps": only the page's quiet "Apply anyway" of a settled course.
    assert page.get_by_role("button", name=re.compile(r"^Apply \d+ steps?$")).count() == 0
    assert [b.inner_text() for b in page.locator("#plan-body button").all()] == ["Apply anyway"]
    save_screenshot(page, "dashboard", "setting-03-applied-nothing-to-do")

    # -- the outside says week1: every rule updated in place ---------------------------------
    after = _rule_tags(engine)
    assert set(after) == set(before)
    assert all(tags == ["week1"] for tags in after.values()), after
