"""The job tasks: a rate limit waits and carries on, a permanent error stops with a sentence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from accounts import bulk_invites
from accounts.models import Outcome
from accounts.tasks import bulk_invite_task
from hubcourse.errors import Forbidden, Throttled
from hubcourse.models import JobStatus
from tests.organisation.support import make_team, parse_text

pytestmark = pytest.mark.django_db


def _job(sandbox):
    make_team(sandbox)
    return bulk_invites.bulk_invite_create(
        rows=parse_text("a@example.edu b@example.edu"),
        organisation=sandbox.seeded["dockerhub"]["org"],
        team="students",
    )


def test_the_governors_throttle_makes_the_job_wait_and_then_carry_on(sandbox, monkeypatch):
    job = _job(sandbox)
    real = bulk_invites.bulk_invite_run_chunk
    throttled: list[Any] = []

    def throttled_once(*, job_id):
        if not throttled:
            throttled.append(job_id)
            raise Throttled(
                "Docker Hub", "check invites", retry_at=timezone.now() + dt.timedelta(seconds=30)
            )
        return real(job_id=job_id)

    monkeypatch.setattr(bulk_invites, "bulk_invite_run_chunk", throttled_once)
    with pytest.raises(Retry) as retry:
        bulk_invite_task.delay(job.pk)
    assert 30 <= retry.value.when <= 40  # as long as the governor said, not a fixed backoff
    job.refresh_from_db()
    assert job.status == JobStatus.WAITING and job.retry_at is not None
    assert job.lease_until is None  # the retry can take the job

    bulk_invite_task.delay(job.pk)  # what the broker does after the countdown
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert set(job.rows.values_list("dry_run", flat=True)) == {Outcome.INVITE}


def test_a_permanent_error_stops_the_job_with_docker_hubs_sentence(sandbox, monkeypatch):
    job = _job(sandbox)

    def refused(*, job_id):
        raise Forbidden("Docker Hub", "check invites", 403, "the token cannot invite")

    monkeypatch.setattr(bulk_invites, "bulk_invite_run_chunk", refused)
    bulk_invite_task.delay(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "the token cannot invite" in job.error
    assert bulk_invites.bulk_invite_resume(job_id=job.pk) is True


def test_a_bug_of_ours_stops_the_job_instead_of_leaving_it_running(sandbox, monkeypatch):
    job = _job(sandbox)

    def broken(*, job_id):
        raise KeyError("oops")

    monkeypatch.setattr(bulk_invites, "bulk_invite_run_chunk", broken)
    bulk_invite_task.delay(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "unexpected error" in job.error
