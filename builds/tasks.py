"""Celery tasks of the builds app: thin wrappers that take ids and call one service.

Each is idempotent and safe to run twice (the services re-read before acting). An outside
failure is recorded on the enrolment through ``accounts.services``: a permanent one stops
that student's pipeline with its message; a transient one is retried with backoff (a rate
limit waits exactly as long as the service asked, capped by ``CELERY_MAX_COUNTDOWN``).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from accounts.services import enrolment_record_error
from builds import services
from builds.preflight import STEP_PREFLIGHT, preflight_run
from hubcourse.errors import PermanentError, RateLimited, TransientError

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

MAX_RETRIES = 8
# Backoff for transient failures: 15 s, 30 s, 1 min ... up to 15 min, with jitter so a class
# that failed together does not come back together.
BACKOFF_BASE = 15
BACKOFF_MAX = 15 * 60
STEP_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "max_retries": MAX_RETRIES,
    "soft_time_limit": 120,
    "time_limit": 180,
    "ignore_result": True,
}


def retry_countdown(error: TransientError, retries: int) -> float:
    if isinstance(error, RateLimited):
        wait = error.seconds_to_wait() + random.uniform(0, 2)
    else:
        wait = min(BACKOFF_BASE * 2**retries, BACKOFF_MAX) * random.uniform(0.8, 1.2)
    return float(min(wait, settings.CELERY_MAX_COUNTDOWN))


def run_step(
    task: Task[Any, Any], step: str, enrolment_id: int, service: Callable[..., _T]
) -> _T | None:
    """Run one pipeline step's service, recording its failure on the enrolment."""
    try:
        return service(enrolment_id=enrolment_id)
    except PermanentError as error:
        enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
        return None
    except TransientError as error:
        if task.request.retries >= (task.max_retries or 0):
            # Out of retries: the periodic reconcile picks the step up again later.
            enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
            return None
        countdown = retry_countdown(error, task.request.retries)
        enrolment_record_error(
            enrolment_id=enrolment_id,
            step=step,
            error=error,
            retry_at=timezone.now() + dt.timedelta(seconds=countdown),
        )
        raise task.retry(exc=error, countdown=countdown) from error


@shared_task(name="builds.run_preflight", **STEP_OPTIONS)
def run_preflight(self: Task[Any, Any], enrolment_id: int) -> None:
    run_step(self, STEP_PREFLIGHT, enrolment_id, preflight_run)


@shared_task(name="builds.configure_build", **STEP_OPTIONS)
def configure_build(self: Task[Any, Any], enrolment_id: int) -> None:
    run_step(self, services.STEP_CONFIGURE, enrolment_id, services.build_configure)


@shared_task(name="builds.trigger_first_build", **STEP_OPTIONS)
def trigger_first_build(self: Task[Any, Any], enrolment_id: int) -> None:
    run_step(self, services.STEP_TRIGGER, enrolment_id, services.build_trigger_first)


@shared_task(name="builds.refresh_builds", **{**STEP_OPTIONS, "max_retries": 3})
def refresh_builds(self: Task[Any, Any], enrolment_id: int) -> None:
    """Re-read one student's builds. A failure is not the student's: it is only logged, and
    the next poll (its lease runs out) or webhook tries again."""
    try:
        services.builds_refresh(enrolment_id=enrolment_id)
    except PermanentError as error:
        logger.warning("reading the builds of enrolment %s failed: %s", enrolment_id, error)
    except TransientError as error:
        if self.request.retries >= (self.max_retries or 0):
            logger.warning("reading the builds of enrolment %s failed: %s", enrolment_id, error)
            return
        raise self.retry(exc=error, countdown=retry_countdown(error, self.request.retries)) from (
            error
        )


@shared_task(name="builds.poll_builds", acks_late=False, ignore_result=True, time_limit=60)
def poll_builds() -> int:
    """Beat: enqueue a re-read of every repository whose ``next_poll_at`` has come."""
    due = services.builds_claim_due()
    for enrolment_id in due:
        refresh_builds.delay(enrolment_id)
    return len(due)


@shared_task(name="builds.flag_stuck_builds", acks_late=False, ignore_result=True, time_limit=60)
def flag_stuck_builds() -> int:
    """Beat: flag builds unfinished past the stuck limit."""
    flagged = services.builds_flag_stuck()
    if flagged:
        logger.warning("%d build(s) flagged as stuck", flagged)
    return flagged
