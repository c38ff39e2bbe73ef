"""The status page: the handout's five steps, what to do now, builds, image link, live part."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, PreflightState, User
from builds.models import Build, BuildState
from onboarding.status import StepStatus, log_failed_step, log_failure_line, student_status
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def sam(student: User) -> Enrolment:
    return Enrolment.objects.select_related("course").get(user=student)


def _statuses(enrolment: Enrolment) -> list[StepStatus]:
    enrolment = Enrolment.objects.select_related("course").get(pk=enrolment.pk)
    return [step.status for step in student_status(enrolment).steps]


def _linked(enrolment: Enrolment, **extra: Any) -> None:
    Enrolment.objects.filter(pk=enrolment.pk).update(
        docker_id="samstudent",
        docker_id_verified_at=NOW,
        github_repo="sam/docker-course",
        preflight_state=PreflightState.PASSED,
        **extra,
    )


def _repository(enrolment: Enrolment, **extra: Any) -> StudentRepository:
    return StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name="docker-101-samstudent",
        created_at=NOW,
        permission_granted_at=NOW,
        **extra,
    )


def _build(enrolment: Enrolment, state: str, minutes_ago: int, **extra: Any) -> Build:
    at = NOW - dt.timedelta(minutes=minutes_ago)
    return Build.objects.create(
        enrolment=enrolment,
        backend="github-actions",
        external_id=f"run-{minutes_ago}-{state}",
        state=state,
        commit_sha="abc1234def5678",
        created_at=at,
        started_at=at,
        finished_at=at + dt.timedelta(seconds=42) if state in ("success", "failed") else None,
        **extra,
    )


def test_a_new_student_is_asked_for_their_docker_id_first(sam: Enrolment) -> None:
    view = student_status(sam)

    assert [s.status for s in view.steps] == [
        StepStatus.TODO,
        StepStatus.WAITING,
        StepStatus.WAITING,
        StepStatus.TODO,
        StepStatus.WAITING,
    ]
    assert view.now is not None and view.now.number == 1
    assert view.now.action_url == reverse("student:link", args=[sam.pk])


def test_a_pending_invitation_tells_the_student_to_accept_it(sam: Enrolment) -> None:
    _linked(sam, invite_state=InviteState.PENDING, invited_at=NOW)
    sam = Enrolment.objects.select_related("course").get(pk=sam.pk)

    view = student_status(sam)

    assert view.now is not None and view.now.number == 2
    assert "Accept the invitation to the revelare organisation" in view.now.detail
    assert "samstudent" in view.now.detail


def test_work_in_progress_shows_a_spinner_and_nothing_to_do(sam: Enrolment) -> None:
    _linked(sam, invite_state=InviteState.ACCEPTED, member_at=NOW, team_at=NOW)

    statuses = _statuses(sam)

    assert statuses[:2] == [StepStatus.DONE, StepStatus.DONE]
    assert statuses[2] is StepStatus.WORKING


def test_once_configured_the_student_is_told_to_push(sam: Enrolment) -> None:
    _linked(sam, invite_state=InviteState.ACCEPTED, member_at=NOW, team_at=NOW)
    _repository(sam, build_configured_at=NOW)

    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert [s.status for s in view.steps][:4] == [StepStatus.DONE] * 4
    assert view.now is not None and view.now.number == 5
    assert "Push a commit to main" in view.now.detail


def test_a_failed_build_asks_for_a_fix_and_a_green_one_ticks_everything(sam: Enrolment) -> None:
    _linked(sam, invite_state=InviteState.ACCEPTED, member_at=NOW, team_at=NOW)
    _repository(sam, build_configured_at=NOW)
    _build(sam, BuildState.FAILED, 10)
    assert _statuses(sam)[4] is StepStatus.TODO

    _build(sam, BuildState.SUCCESS, 5)
    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert view.all_done and view.now is None
    assert view.image_url.endswith("/r/revelare/docker-101-samstudent")


def test_a_failed_build_leads_straight_to_its_log(sam: Enrolment) -> None:
    _linked(sam, invite_state=InviteState.ACCEPTED, member_at=NOW, team_at=NOW)
    _repository(sam, build_configured_at=NOW)
    failed = _build(sam, BuildState.FAILED, 10)

    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert view.now is not None and view.now.number == 5
    assert view.now.action_url == reverse("student:build_log", args=[sam.pk, failed.pk])
    assert "below" not in view.now.detail  # the log is a page of its own


def test_a_permanent_error_is_shown_on_its_step(sam: Enrolment) -> None:
    _linked(sam)
    Enrolment.objects.filter(pk=sam.pk).update(
        error_step="repository",
        error_message="Docker Hub refused to create repository revelare/x: quota (HTTP 403).",
        error_permanent=True,
    )

    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert view.steps[2].status is StepStatus.ERROR
    assert "quota (HTTP 403)" in view.steps[2].detail


def test_the_page_lists_builds_with_state_commit_duration_and_log(
    client: Client, sam: Enrolment, student: User
) -> None:
    _linked(sam)
    _repository(sam, build_configured_at=NOW)
    build = _build(sam, BuildState.FAILED, 3, log_excerpt="Step 2/5 : RUN make\nerror: no rule")
    client.force_login(student)

    html = client.get(reverse("student:status", args=[sam.pk])).content.decode()
    log = client.get(reverse("student:build_log", args=[sam.pk, build.pk])).content.decode()

    assert "Failed" in html and "abc1234" in html and "42 s" in html
    assert reverse("student:build_log", args=[sam.pk, build.pk]) in html
    assert f'data-poll-url="{reverse("student:status_live", args=[sam.pk])}"' in html
    assert "error: no rule" in log


BUILDKIT_LOG = """Cloning https://github.com/sam/docker-course.git (main)
#2 [internal] load metadata for docker.io/library/pythn:3.12-slim
#2 ERROR: docker.io/library/pythn:3.12-slim: not found
ERROR: failed to solve: pythn:3.12-slim: failed to resolve source metadata"""

# A GitHub Actions job log: every line starts with a timestamp, each step opens a group.
ACTIONS_LOG = """2026-12-07T14:29:25.2450790Z ##[group]Run actions/checkout@v4
2026-12-07T14:29:25.2451000Z ##[endgroup]
2026-12-07T14:29:25.2517670Z ##[group]Run docker/build-push-action@v6
2026-12-07T14:29:25.2518940Z #2 [internal] load metadata for docker.io/library/pyhton:3.12-slim
2026-12-07T14:29:25.2518960Z #2 ERROR: docker.io/library/pyhton:3.12-slim: not found
2026-12-07T14:29:25.2519070Z ##[error]buildx failed with: ERROR: failed to solve
2026-12-07T14:29:25.2519110Z ##[endgroup]"""


@pytest.mark.parametrize(
    ("log", "line"),
    [
        (BUILDKIT_LOG, "ERROR: docker.io/library/pythn:3.12-slim: not found"),
        (
            "Run docker build\n##[error]Process completed with exit code 1.",
            "Process completed with exit code 1.",
        ),
        (ACTIONS_LOG, "ERROR: docker.io/library/pyhton:3.12-slim: not found"),
        ("Step 2/5 : RUN make\nall good", ""),
        ("#2 ERROR-free step", ""),
    ],
)
def test_the_first_error_line_of_a_log_is_found(log: str, line: str) -> None:
    assert log_failure_line(log) == line


@pytest.mark.parametrize(
    ("log", "step"),
    [(ACTIONS_LOG, "docker/build-push-action@v6"), (BUILDKIT_LOG, ""), ("all good", "")],
)
def test_the_actions_step_an_error_is_in_is_named(log: str, step: str) -> None:
    assert log_failed_step(log) == step


def test_a_failed_builds_log_page_says_where_it_stopped(
    client: Client, sam: Enrolment, student: User
) -> None:
    _linked(sam)
    failed = _build(sam, BuildState.FAILED, 3, log_excerpt=BUILDKIT_LOG)
    passed = _build(sam, BuildState.SUCCESS, 1, log_excerpt="#2 ERROR-free run")
    client.force_login(student)

    failed_page = client.get(reverse("student:build_log", args=[sam.pk, failed.pk]))
    passed_page = client.get(reverse("student:build_log", args=[sam.pk, passed.pk]))

    assert failed_page.context["failure_line"] == (
        "ERROR: docker.io/library/pythn:3.12-slim: not found"
    )
    assert "Where it stopped" in failed_page.content.decode()
    assert "Where it stopped" not in passed_page.content.decode()


def test_while_the_checks_run_again_the_old_fix_line_gives_way_to_checking_again(
    client: Client, sam: Enrolment, student: User
) -> None:
    fix = "Add a DockerfileVolume at the top of your repository."
    _linked(sam)
    Enrolment.objects.filter(pk=sam.pk).update(
        preflight_state=PreflightState.FAILED,
        preflight_report=[{"level": "error", "message": fix}],
    )
    client.force_login(student)
    url = reverse("student:status_live", args=[sam.pk])
    assert f"Fix:</strong> {fix}" in client.get(url).content.decode()

    # "I fixed it: check again" was pressed; the checks have not answered yet.
    Enrolment.objects.filter(pk=sam.pk).update(preflight_state=PreflightState.NOT_RUN)
    html = client.get(url).content.decode()

    assert "Checking again…" in html
    assert fix not in html and "Fix:" not in html
    assert 'data-poll-interval="3"' in html


def test_the_live_part_answers_alone(client: Client, sam: Enrolment, student: User) -> None:
    client.force_login(student)

    response = client.get(reverse("student:status_live", args=[sam.pk]))

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="status-live"')


@pytest.mark.parametrize("count", [1, 30])
def test_the_status_page_reads_a_constant_number_of_queries(
    client: Client,
    sam: Enrolment,
    student: User,
    count: int,
    django_assert_max_num_queries: Any,
) -> None:
    _linked(sam)
    _repository(sam, build_configured_at=NOW)
    for minutes in range(count):
        _build(sam, BuildState.SUCCESS if minutes % 2 else BuildState.FAILED, minutes + 1)
    client.force_login(student)

    with django_assert_max_num_queries(12):
        client.get(reverse("student:status", args=[sam.pk]))
    with django_assert_max_num_queries(8):
        client.get(reverse("student:status_live", args=[sam.pk]))


def test_all_builds_are_paginated(client: Client, sam: Enrolment, student: User) -> None:
    for minutes in range(30):
        _build(sam, BuildState.SUCCESS, minutes + 1)
    client.force_login(student)

    first = client.get(reverse("student:builds", args=[sam.pk])).content.decode()
    second = client.get(reverse("student:builds", args=[sam.pk]) + "?page=2").content.decode()

    assert "Page 1 of 2" in first and first.count("<tr>") == 26  # header + 25
    assert second.count("<tr>") == 6


def test_my_courses_links_to_the_status_page(client: Client, sam: Enrolment, student: User) -> None:
    client.force_login(student)

    html = client.get(reverse("my_courses")).content.decode()

    assert reverse("student:status", args=[sam.pk]) in html


def test_a_course_with_its_own_branch_is_named_in_the_steps(sam: Enrolment, course: Course) -> None:
    Course.objects.filter(pk=course.pk).update(build_branch="trunk")
    _linked(sam)
    _repository(sam, build_configured_at=NOW)

    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert view.now is not None and "Push a commit to trunk" in view.now.detail


def test_a_later_step_waits_while_the_docker_id_is_not_in(sam: Enrolment) -> None:
    # The student named their GitHub repository first: its checks are queued, but step 4
    # must not read "In progress" while step 1 is not done.
    Enrolment.objects.filter(pk=sam.pk).update(
        github_repo="sam/docker-course", preflight_state=PreflightState.NOT_RUN
    )

    view = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk))

    assert [s.status for s in view.steps] == [
        StepStatus.TODO,
        StepStatus.WAITING,
        StepStatus.WAITING,
        StepStatus.WAITING,
        StepStatus.WAITING,
    ]
    assert view.steps[3].status.label == "Not started"
    assert "step 1 (Sign up for a Docker ID)" in view.steps[3].detail
    assert not view.in_progress
