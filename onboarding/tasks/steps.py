"""Celery tasks for one student's onboarding steps: thin, idempotent, retried with care.

The tasks are generated from the step registry (``onboarding/steps.py``): one task per
step that has a service, named ``onboarding.step.<step name>``.

Each task takes ids, re-fetches, returns quietly when the enrolment is gone or stopped by
a permanent error, and calls one service. The outcome of an outside failure is recorded on
the enrolment through ``accounts.services``: a permanent error stops the student's chain
(every later step sees it and returns), a transient one retries with exponential backoff,
and a rate limit waits exactly as long as Docker Hub or GitHub (or our own governor) says,
capped by ``CELERY_MAX_COUNTDOWN``. When retries run out the periodic reconcile picks the
step up again from the database.

A chain must never hold its student's lease after it has stopped: each step renews the lease
as it starts (and for as long as its retry waits), and a step that fails of anything else (a
database deadlock, a bug, a time limit) records it on the enrolment and releases the lease in
``on_failure``, so the next reconcile queues the student again at once instead of after the
lease. A database that refuses for a moment (deadlock, lost connection) is retried like an
outside transient error.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from accounts.models import Enrolment, PreflightState, User
from accounts.services import enrolment_is_blocked, enrolment_record_error
from accounts.steps import StepName
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import PermanentError, RateLimited, TransientError
from onboarding import engine
from onboarding.steps import PIPELINE, STEPS, StepDefinition

logger = logging.getLogger(__name__)

# Backoff for transient failures: 10 s, 20 s, 40 s ... with jitter, at most MAX_RETRIES.
BACKOFF_BASE = 10
MAX_RETRIES = 6
# Waiting on a rate limit is not a failure: allow many more of those.
MAX_RATE_LIMIT_RETRIES = 50


class StepTask(Task):  # type: ignore[misc]
    """A pipeline step: a failure of any kind ends the chain, so it gives the lease back."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if args:
            engine.pipeline_release(int(args[0]))
        super().on_failure(exc, task_id, args, kwargs, einfo)


STEP_OPTIONS: dict[str, Any] = {
    "base": StepTask,
    "bind": True,
    "acks_late": True,
    "soft_time_limit": 120,
    "time_limit": 180,
    "ignore_result": True,
    "max_retries": MAX_RATE_LIMIT_RETRIES,
}


def backoff(retries: int) -> int:
    countdown = BACKOFF_BASE * 2**retries + random.randint(0, BACKOFF_BASE)
    return int(min(countdown, settings.CELERY_MAX_COUNTDOWN))


def run_step(
    task: Task[Any, Any], step: str, enrolment_id: int, action: Callable[[], object]
) -> None:
    """Run one step's service for a student and record how it ended."""
    engine.pipeline_renew(enrolment_id)
    enrolment = Enrolment.objects.filter(pk=enrolment_id).first()
    if enrolment is None or enrolment_is_blocked(enrolment):
        return
    if step != StepName.PREFLIGHT and enrolment.preflight_state not in (
        PreflightState.PASSED,
        PreflightState.WARNING,
    ):
        # Nothing is written outside before the pre-flight checks pass.
        return
    retries = task.request.retries or 0
    try:
        action()
    except RateLimited as error:
        if retries >= MAX_RATE_LIMIT_RETRIES:
            # Still limited after all this waiting: give up for now (the chain goes on and
            # ends, freeing the lease); the periodic reconcile tries again.
            enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
            return
        wait = error.seconds_to_wait() + random.uniform(0, 2)
        countdown = int(min(wait, settings.CELERY_MAX_COUNTDOWN)) + 1
        enrolment_record_error(
            enrolment_id=enrolment_id,
            step=step,
            error=error,
            retry_at=timezone.now() + dt.timedelta(seconds=countdown),
        )
        engine.pipeline_renew(enrolment_id, waiting=countdown)
        raise task.retry(countdown=countdown, max_retries=MAX_RATE_LIMIT_RETRIES) from error
    except TransientError as error:
        if retries >= MAX_RETRIES:
            # Give up for now; the periodic reconcile tries again from the database.
            enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
            return
        countdown = backoff(retries)
        enrolment_record_error(
            enrolment_id=enrolment_id,
            step=step,
            error=error,
            retry_at=timezone.now() + dt.timedelta(seconds=countdown),
        )
        engine.pipeline_renew(enrolment_id, waiting=countdown)
        raise task.retry(countdown=countdown, max_retries=MAX_RATE_LIMIT_RETRIES) from error
    except (OperationalError, InterfaceError) as error:
        # A deadlock victim or a dropped connection: the transaction rolled back whole, so
        # running the step again is safe. Not recorded: the database may be what is failing.
        if retries >= MAX_RETRIES:
            raise
        countdown = backoff(retries)
        logger.warning(
            "step %s of enrolment %s: %s; again in %s s", step, enrolment_id, error, countdown
        )
        engine.pipeline_renew(enrolment_id, waiting=countdown)
        raise task.retry(countdown=countdown, max_retries=MAX_RATE_LIMIT_RETRIES) from error
    except PermanentError as error:
        enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
        audit_record(
            service=error.service,
            action=f"{step}.failed",
            target=enrolment.docker_id or enrolment.identifier,
            outcome=Outcome.ERROR,
            enrolment=enrolment,
            message=error,
        )
    except Exception as error:
        # Not the outside world's doing: say so on the board (the next reconcile tries
        # again; StepTask.on_failure frees the lease for it) and let Celery log the trace.
        enrolment_record_error(
            enrolment_id=enrolment_id,
            step=step,
            error=f"hubcourse failed at this step ({type(error).__name__}); it tries again "
            "at the next reconcile.",
            permanent=False,
        )
        # Here as well as in on_failure: an eager run that propagates skips on_failure.
        engine.pipeline_release(enrolment_id)
        raise


def _actor(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


def invite_when_class_checked(enrolment_id: int) -> None:
    """The last student of a class to pass pre-flight sends the class's bulk invite now,
    rather than waiting for the next reconcile pass (students still unchecked would
    otherwise be invited one pass later, in a second bulk call)."""
    from onboarding.tasks.course import course_invite_task

    row = (
        Enrolment.objects.filter(
            pk=enrolment_id, preflight_state__in=(PreflightState.PASSED, PreflightState.WARNING)
        )
        .values("course_id")
        .first()
    )
    if row is None:
        return
    unchecked = (
        Enrolment.objects.filter(course_id=row["course_id"], preflight_state=PreflightState.NOT_RUN)
        .exclude(docker_id="")
        .exclude(error_permanent=True)
        .exists()
    )
    if not unchecked:
        course_invite_task.delay(row["course_id"])


@shared_task(name="onboarding.step.done", base=StepTask, acks_late=True, ignore_result=True)
def pipeline_done(enrolment_id: int) -> None:
    """The end of a student's chain: let the next pass queue them again if needed."""
    engine.pipeline_release(enrolment_id)


def _make_step_task(step: StepDefinition) -> Any:
    """The Celery task of one registry step: run its service through ``run_step``."""
    action = step.action
    if action is None:
        raise ValueError(f"step {step.name} has no service to run")
    after = AFTER_STEP.get(step.name)

    def run(self: Task[Any, Any], enrolment_id: int, actor_id: int | None = None) -> None:
        run_step(self, step.name, enrolment_id, lambda: action(enrolment_id, _actor(actor_id)))
        if after is not None:
            after(enrolment_id)

    run.__name__ = run.__qualname__ = f"{step.name.value}_step"
    run.__doc__ = f"{step.label}, for one student (from the step registry)."
    return shared_task(name=step.task_name, **STEP_OPTIONS)(run)


# What follows a step in the same task, whatever its outcome.
AFTER_STEP: dict[StepName, Callable[[int], None]] = {
    StepName.PREFLIGHT: invite_when_class_checked,
}

# One task per step of a student's chain, registered from the registry.
STEP_TASKS: dict[StepName, Any] = {name: _make_step_task(STEPS[name]) for name in PIPELINE}
