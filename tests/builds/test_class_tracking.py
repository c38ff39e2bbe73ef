"""A class of 30 on the sandbox, over HTTP: a push seen through the GitHub App's events (or,
without the app, through a conditional read of the branch head) has its build on the board
and the badge within the polling interval, and the student gets one email per change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db.models import F
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, GitHubAccess
from builds import tracking
from builds.models import Build, BuildState
from builds.services import (
    build_configure,
    build_trigger_first,
    builds_claim_due,
    builds_refresh,
    expect_poll_interval,
)
from onboarding import board
from onboarding.joining import badge_for
from repositories.models import StudentRepository
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN, student_files
from tests.builds.app_hooks import app_deliveries, app_hooks_to, install_app
from tests.builds.support import make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
CLASS_SIZE = 30


def _class(sandbox: Any, course: Course, settings: Any) -> tuple[Course, list[Enrolment]]:
    """30 students whose first builds succeeded and whose repositories are idle again."""
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    students = [make_student(sandbox, course, f"pupil{i:02d}") for i in range(CLASS_SIZE)]
    Enrolment.objects.filter(course=course).update(email=F("identifier"))
    for student in students:
        build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=30)
    for student in students:
        build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=30)
    for student in students:
        builds_refresh(enrolment_id=student.pk)
    assert Build.objects.filter(state=BuildState.SUCCESS).count() == CLASS_SIZE
    return course, students


def _push(sandbox: Any, student: Enrolment, problem: str | None, message: str) -> str:
    files = student_files(problem)
    sha = github_state.push(
        sandbox.world,
        student.github_repo,
        "main",
        {"DockerfileVolume": files["DockerfileVolume"]},
        message,
        INSTRUCTOR_LOGIN,
    )
    sandbox.world.wait_idle(timeout=10)  # the build, and the events sent
    return sha


def _beat_until(settings: Any, done: Callable[[], bool], limit: dt.timedelta) -> dt.timedelta:
    """Run beat ticks (simulated time from now) until ``done``; how long it took."""
    tick = dt.timedelta(seconds=settings.BUILD_POLL_TICK)
    start = timezone.now()
    elapsed = dt.timedelta(0)
    while elapsed <= limit:
        for enrolment_id in builds_claim_due(now=start + elapsed):
            builds_refresh(enrolment_id=enrolment_id)
        if done():
            return elapsed
        elapsed += tick
    raise AssertionError(f"not seen within {limit}")


def _finished(sha: str) -> Callable[[], bool]:
    def check() -> bool:
        return (
            Build.objects.filter(commit_sha=sha)
            .exclude(state__in=(BuildState.QUEUED, BuildState.RUNNING))
            .exists()
        )

    return check


def _row(course: Course, student: Enrolment) -> board.BoardRow:
    filters = board.BoardFilters.from_query(QueryDict(f"q={student.identifier}"))
    (row,) = board.board_rows(course, board.board_queryset(course, filters))
    return row


def _badge(client: Client, student: Enrolment) -> str:
    response = client.get(reverse("student:badge", args=[badge_for(student).token]))
    assert response.status_code == 200
    return response.content.decode()


def test_with_the_app_a_failing_push_shows_failed_and_a_good_push_shows_fixed_one_email_each(
    sandbox: Any, course: Course, settings: Any, client: Client, live_server: Any
) -> None:
    course, students = _class(sandbox, course, settings)
    repo_names = [s.github_repo.split("/", 1)[1] for s in students]
    installation = install_app(sandbox, INSTRUCTOR_LOGIN, repo_names)
    Enrolment.objects.filter(course=course).update(
        github_access=GitHubAccess.APP, github_installation_id=installation
    )
    student = students[7]
    interval = expect_poll_interval() + dt.timedelta(seconds=settings.BUILD_POLL_TICK)

    with app_hooks_to(sandbox, live_server):
        broken = _push(sandbox, student, "unknown-base-image", "Use my own base image")
        # The app's signed push reached hubcourse's receiver, whose handler expects the build.
        assert app_deliveries(sandbox, "push") == ["delivered"]
        assert StudentRepository.objects.get(enrolment=student).expected_sha == broken

        took = _beat_until(settings, _finished(broken), interval)

        assert took <= interval
        assert Build.objects.get(commit_sha=broken).state == BuildState.FAILED
        assert _row(course, student).build_label == "Failed"
        assert "failing" in _badge(client, student)
        assert len(mail.outbox) == 1
        assert "failed" in mail.outbox[0].subject
        assert mail.outbox[0].to == [student.identifier]
        # Quiet again: the expectation is met, and more beats send nothing more.
        assert StudentRepository.objects.get(enrolment=student).expected_sha == ""
        for enrolment_id in builds_claim_due(now=timezone.now() + dt.timedelta(minutes=1)):
            builds_refresh(enrolment_id=enrolment_id)
        assert len(mail.outbox) == 1

        fixed = _push(sandbox, student, None, "Back to the official image")
        assert app_deliveries(sandbox, "push") == ["delivered", "delivered"]
        took = _beat_until(settings, _finished(fixed), interval)

    assert Build.objects.get(commit_sha=fixed).state == BuildState.SUCCESS
    assert _row(course, student).build_label == "Succeeded"
    assert "passing" in _badge(client, student)
    assert [m.subject for m in mail.outbox] == [
        f"{course.name}: your Docker image build failed",
        f"{course.name}: your Docker image builds again",
    ]
    # Nobody else in the class was read after the push, nor emailed.
    others = StudentRepository.objects.exclude(enrolment=student)
    assert not others.filter(expected_at__isnull=False).exists()


def test_without_the_app_a_new_branch_head_is_seen_by_a_conditional_read_and_304s_are_free(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "linus")
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    Enrolment.objects.filter(pk=student.pk).update(github_access=GitHubAccess.PUBLIC)

    assert tracking.heads_claim_due() == [student.pk]
    assert tracking.heads_claim_due() == []  # claimed until its next turn
    assert tracking.branch_head_check(enrolment_id=student.pk) == "first"

    def used() -> int:
        return sum(int(w["used"]) for w in sandbox.world.github["rate"].values())

    before = used()
    for _ in range(5):
        assert tracking.branch_head_check(enrolment_id=student.pk) == "unchanged"
    assert used() == before  # five 304s, none counted

    sha = _push(sandbox, student, "unknown-base-image", "Break it")
    assert tracking.branch_head_check(enrolment_id=student.pk) == "moved"
    assert used() == before + 1  # only the read that found the new head
    repository = StudentRepository.objects.get(enrolment=student)
    assert (repository.head_sha, repository.expected_sha) == (sha, sha)

    _beat_until(settings, _finished(sha), expect_poll_interval() * 2)
    assert Build.objects.get(commit_sha=sha).state == BuildState.FAILED


def test_the_watch_interval_fits_the_request_budget(settings: Any) -> None:
    settings.GITHUB_WATCH_REQUESTS_PER_HOUR = 6000
    settings.GITHUB_WATCH_MIN_INTERVAL = 30
    settings.GITHUB_WATCH_MAX_INTERVAL = 1800

    assert tracking.watch_interval(10) == dt.timedelta(seconds=30)
    assert tracking.watch_interval(200) == dt.timedelta(seconds=120)
    assert tracking.watch_interval(100_000) == dt.timedelta(seconds=1800)


def test_with_the_app_a_failed_actions_run_is_recorded_from_its_workflow_run_event(
    sandbox: Any, course: Course, settings: Any, live_server: Any
) -> None:
    course = use_sandbox(sandbox, course, "github-actions", settings)
    student = make_student(sandbox, course, "hedylamarr")
    Enrolment.objects.filter(pk=student.pk).update(email="hedy@example.edu")
    installation = install_app(sandbox, INSTRUCTOR_LOGIN, [student.github_repo.split("/")[1]])
    Enrolment.objects.filter(pk=student.pk).update(
        github_access=GitHubAccess.APP, github_installation_id=installation
    )

    with app_hooks_to(sandbox, live_server):
        build_configure(enrolment_id=student.pk)
        sandbox.world.wait_idle(timeout=10)
        broken = _push(sandbox, student, "unknown-base-image", "Use my own base image")

    # No poll ran: the signed workflow_run events alone put the result on the board.
    assert "delivered" in app_deliveries(sandbox, "workflow_run")
    assert set(app_deliveries(sandbox, "workflow_run")) == {"delivered"}
    failed = Build.objects.get(enrolment=student, commit_sha=broken)
    assert failed.state == BuildState.FAILED
    assert _row(course, student).build_label == "Failed"
    assert [m.subject for m in mail.outbox] == [f"{course.name}: your Docker image build failed"]
    assert StudentRepository.objects.get(enrolment=student).expected_sha == ""
