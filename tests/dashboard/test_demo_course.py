"""`make run`'s demo course on the sandbox's default demo world, the unkind one: students own
their repositories (some private), the course's GitHub token can neither read nor hook them,
and only some students installed the course's GitHub App. The course still works where it
can (a private repository read and built through the app) and the board says, row by row, who
waits on installing the app and who cannot be watched."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, GitHubAccess, OnboardingState, User
from builds.models import Build, BuildState
from builds.services import builds_refresh
from onboarding.engine import apply_plan, plan_course
from sandbox.seed import UNKIND_INSTALLED, UNKIND_PRIVATE

pytestmark = pytest.mark.django_db(transaction=True)


def _make_run_demo(sandbox: Any, settings: Any, var: Path) -> tuple[Course, dict[str, Any]]:
    """What `make run` does: the sandbox seeds its default world, hubcourse points at its
    tokens and app, `demo_setup` makes the demo course from the seed. Then the students
    accept Docker Hub's invitation and the periodic reconcile runs, as in the background."""
    seed = _run_script().sandbox_seed({})
    seeded = sandbox.reset(seed)
    settings.GITHUB_TOKEN = seeded["github"]["instructor"]["token"]
    app = seeded["github"]["app"]
    settings.GITHUB_APP_ID = app["id"]
    settings.GITHUB_APP_SLUG = app["slug"]
    settings.GITHUB_APP_PRIVATE_KEY = app["pem"]
    settings.GITHUB_APP_WEBHOOK_SECRET = app["webhook_secret"]
    settings.GITHUB_APP_CLIENT_ID = app["client_id"]
    settings.GITHUB_APP_CLIENT_SECRET = app["client_secret"]
    settings.VAR_DIR = var
    seed_file = var / "sandbox-seed.json"
    seed_file.write_text(json.dumps(seeded))

    call_command("demo_setup", sandbox_seed=seed_file, stdout=io.StringIO())
    course = Course.objects.get(slug="demo")
    requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{course.organisation}/accept",
        json={"invitee": "all"},
        timeout=10,
    ).raise_for_status()
    apply_plan(plan_course(course, observe=True))
    # The first builds run on GitHub; the background's poll reads them once they are done
    # (the app's events go nowhere here: no server listens).
    sandbox.world.wait_idle(timeout=30)
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        builds_refresh(enrolment_id=enrolment_id)
    return course, {s["github_login"]: s for s in seeded["students"]}


def _run_script() -> Any:
    from tests.core.test_run_script import _run_script as load

    return load()


def _rows(page: str) -> dict[str, str]:
    """Each board row's words, by the student's GitHub login."""
    rows: dict[str, str] = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)[1:]:
        words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        login = re.search(r"([a-z]+-[a-z]+)/docker-course", words)
        if login:
            rows[login.group(1)] = words
    return rows


def test_make_runs_demo_course_shows_the_unkind_worlds_cases_on_the_board_and_can_be_made_again(
    engine: Any, settings: Any, tmp_path: Path, client: Client
) -> None:
    course, students = _make_run_demo(engine, settings, tmp_path)
    enrolments = {e.github_repo.split("/")[0]: e for e in Enrolment.objects.filter(course=course)}
    assert set(enrolments) == set(students)
    # The students own their repositories: the course builds through the GitHub App.
    assert course.build_backend == "github-actions"

    client.force_login(User.objects.get(email="instructor@hubcourse.local"))
    page = client.get(reverse("dashboard:board", args=[course.slug])).content.decode()
    rows = _rows(page)
    assert set(rows) == set(students)

    for login, enrolment in enrolments.items():
        row = rows[login]
        installed, private = login in UNKIND_INSTALLED, login in UNKIND_PRIVATE
        if installed:
            # Read (private or not) and built through the app; pushes heard as events.
            assert enrolment.github_access == GitHubAccess.APP, login
            assert enrolment.github_installation_id == students[login]["app_installation_id"]
            assert "push events" in row
            if students[login]["problem"]:
                # A broken Dockerfile behind the app: its failed first build is on the board.
                assert "Needs attention" in row and "The first build failed" in row, row
                assert Build.objects.filter(enrolment=enrolment, state=BuildState.FAILED).exists()
                continue
            assert enrolment.state == OnboardingState.FIRST_BUILD_SUCCEEDED, (login, row)
            assert Build.objects.filter(enrolment=enrolment, state=BuildState.SUCCESS).exists()
        elif private:
            assert enrolment.github_access == GitHubAccess.NONE, login
            assert "cannot be watched: private repository without the app" in row
            assert "Needs attention" in row and "hubcourse cannot see the GitHub repository" in row
        else:
            assert enrolment.github_access == GitHubAccess.PUBLIC, login
            assert "checked every 5 minutes" in row
            assert "Needs attention" in row
            assert f"Install the hubcourse GitHub App on {login}/docker-course" in row

    # The cases the demo is there to show are all on the board.
    private_through_app = UNKIND_PRIVATE & UNKIND_INSTALLED
    assert any(students[login]["problem"] for login in UNKIND_INSTALLED)  # a failed build
    waiting_on_app = set(students) - UNKIND_INSTALLED - UNKIND_PRIVATE
    assert private_through_app and waiting_on_app and UNKIND_PRIVATE - UNKIND_INSTALLED
    # The course's token was used for nothing in the students' repositories: no hook on any.
    with engine.world.lock:
        hooks = [r.get("hooks") for r in engine.world.github["repos"].values()]
    assert not any(hooks)

    # `make run` again (demo_setup is safe to repeat): nothing the first run found changes.
    before = _access_and_state(course)
    call_command("demo_setup", sandbox_seed=tmp_path / "sandbox-seed.json", stdout=io.StringIO())
    assert _access_and_state(course) == before


def _access_and_state(course: Course) -> list[tuple[Any, ...]]:
    return list(
        Enrolment.objects.filter(course=course)
        .order_by("pk")
        .values_list("github_access", "github_installation_id", "state")
    )
