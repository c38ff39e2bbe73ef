"""Celery tasks of the organisation admin: thin, one chunk per run, safe to run twice.

A task works one chunk, then enqueues itself for the next, so no task runs long and a
killed worker loses at most one chunk (its rows stay unanswered and are sent again). A rate
limit (Docker Hub's 429 or our own governor's ``Throttled``) waits exactly as long as asked;
other transient failures back off; a permanent error stops the job with its sentence, and a
person resumes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from hubcourse.errors import ExternalServiceError, RateLimited, TransientError
from organisation import jobs
from organisation.models import BulkInvite, Job, Offboarding

log = logging.getLogger(__name__)

MAX_TRANSIENT_RETRIES = 6
MAX_RATE_LIMIT_RETRIES = 200

JOB_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "soft_time_limit": 150,
    "time_limit": 200,
    "ignore_result": True,
    "max_retries": MAX_RATE_LIMIT_RETRIES,
}


def _countdown(task: Task[Any, Any], error: TransientError) -> int:
    if isinstance(error, RateLimited):
        wait = error.seconds_to_wait() + random.uniform(0, 1)
    else:
        wait = 5 * 2 ** (task.request.retries or 0) + random.uniform(0, 5)
    return int(min(wait, settings.CELERY_MAX_COUNTDOWN)) + 1


def run_job_chunk(
    task: Task[Any, Any], model: type[Job], job_id: int, chunk: Callable[[], bool]
) -> None:
    """Run one chunk; enqueue the next, or wait, retry or stop as the outcome says."""
    try:
        more = chunk()
    except TransientError as error:
        retries = task.request.retries or 0
        if not isinstance(error, RateLimited) and retries >= MAX_TRANSIENT_RETRIES:
            jobs.mark_failed(model, job_id, error)
            return
        countdown = _countdown(task, error)
        jobs.mark_waiting(model, job_id, error, timezone.now() + dt.timedelta(seconds=countdown))
        raise task.retry(countdown=countdown) from error
    except ExternalServiceError as error:
        jobs.mark_failed(model, job_id, error)
        return
    except Exception as error:
        # A fault of ours, not Docker Hub's: stop with a sentence (and the traceback in the
        # log) rather than leave the job "running" forever.
        log.exception("job %s %s stopped", model.__name__, job_id)
        jobs.mark_failed(model, job_id, f"hubcourse stopped on an unexpected error: {error}")
        return
    if more:
        task.apply_async((job_id,))


@shared_task(name="organisation.bulk_invite", **JOB_OPTIONS)
def bulk_invite_task(self: Task[Any, Any], job_id: int) -> None:
    from organisation.bulk import bulk_invite_run_chunk

    run_job_chunk(self, BulkInvite, job_id, lambda: bulk_invite_run_chunk(job_id=job_id))


@shared_task(name="organisation.offboarding", **JOB_OPTIONS)
def offboarding_task(self: Task[Any, Any], job_id: int) -> None:
    from organisation.offboarding import offboarding_run_chunk

    run_job_chunk(self, Offboarding, job_id, lambda: offboarding_run_chunk(job_id=job_id))


@shared_task(name="organisation.sync", **JOB_OPTIONS)
def sync_organisation_task(self: Task[Any, Any], organisation: str) -> None:
    from organisation.members import organisation_sync, record_sync_error

    try:
        organisation_sync(organisation=organisation)
    except TransientError as error:
        if (self.request.retries or 0) >= MAX_TRANSIENT_RETRIES and not isinstance(
            error, RateLimited
        ):
            record_sync_error(organisation, error)
            return
        record_sync_error(organisation, error, waiting=True)
        raise self.retry(countdown=_countdown(self, error)) from error
    except ExternalServiceError as error:
        record_sync_error(organisation, error)


@shared_task(name="organisation.invite_action", **JOB_OPTIONS)
def invite_action_task(
    self: Task[Any, Any],
    organisation: str,
    action: str,
    invite_ids: list[str],
    actor_id: int | None = None,
) -> None:
    """Resend or cancel invites, then read the organisation again; each invite is one call
    and records its own outcome, so a retry repeats only what was not done."""
    from organisation.members import invites_act, organisation_sync

    try:
        invites_act(
            organisation=organisation, action=action, invite_ids=invite_ids, actor_id=actor_id
        )
        organisation_sync(organisation=organisation)
    except TransientError as error:
        raise self.retry(countdown=_countdown(self, error)) from error
