"""Every long job is a hubcourse Job: one progress shape, one lease."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import BulkInvite, Course
from hubcourse.models import Job, JobStatus
from onboarding import courses, doctor
from onboarding.models import ApplyRun, ConnectionCheck, Offboarding, RosterCheck, RosterImport
from onboarding.tasks.checks import connection_check_task, roster_check_task


def test_every_long_job_is_a_job_with_its_lease() -> None:
    for model in (ApplyRun, RosterCheck, BulkInvite, Offboarding, ConnectionCheck):
        assert issubclass(model, Job), model


def test_a_jobs_progress_has_the_one_shape() -> None:
    retry_at = timezone.now()
    job = ConnectionCheck(
        status=JobStatus.WAITING, total=4, done=1, error="slow down", retry_at=retry_at
    )
    assert job.progress().as_dict() == {
        "status": "waiting",
        "label": "Waiting for Docker Hub's rate limit",
        "done": 1,
        "total": 4,
        "percent": 25,
        "error": "slow down",
        "retry_at": retry_at,
    }


@pytest.mark.django_db
def test_a_connection_check_runs_under_its_lease_and_finishes_the_job(
    course: Course, instructor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    def checks(connection: Any) -> list[doctor.CheckResult]:
        ran.append(1)
        return [doctor.CheckResult("Docker Hub token", True, "works", "")]

    monkeypatch.setattr(doctor, "run_checks", checks)
    check = ConnectionCheck.objects.create(
        course=course, created_by=instructor, lease_until=timezone.now() + dt.timedelta(minutes=1)
    )

    courses.connection_check_run(check_id=check.pk)  # another worker holds it
    assert ran == []

    ConnectionCheck.objects.filter(pk=check.pk).update(lease_until=None)
    courses.connection_check_run(check_id=check.pk)
    check.refresh_from_db()
    assert ran == [1]
    assert (check.status, check.done, check.total, check.lease_until) == (
        JobStatus.DONE,
        1,
        1,
        None,
    )
    assert check.ok and check.finished_at is not None


@pytest.mark.django_db
def test_the_check_tasks_give_their_jobs_lease_back_when_they_fail(course: Course) -> None:
    later = timezone.now() + dt.timedelta(minutes=5)
    check = ConnectionCheck.objects.create(course=course, lease_until=later)
    preview = RosterImport.objects.create(
        course=course, source="pasted text", format="csv", encoding="utf-8", delimiter=","
    )
    roster = RosterCheck.objects.create(roster_import=preview, lease_until=later)

    connection_check_task.on_failure(RuntimeError("time limit"), "t", (check.pk,), {}, None)
    roster_check_task.on_failure(RuntimeError("time limit"), "t", (preview.pk,), {}, None)

    check.refresh_from_db()
    roster.refresh_from_db()
    assert check.lease_until is None and roster.lease_until is None
