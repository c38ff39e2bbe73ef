"""Celery tasks for one student's onboarding steps: thin, idempotent, retried with care.

The tasks are generated from the step registry (``onboarding/steps.py``): one task per
step that has a service, named ``onboarding.step.<step name>``.

Each task takes ids, re-fetches, returns quietly when the enrolment is gone or stopped by
a permanent error, and calls one service. The outcome of an outside failure is recorded on
the enrolment through ``accounts.services``: a permanent error stops the student's chain
(every later step sees it and returns), a transient one retries with exponential backoff,
and a rate limit waits exactly as long as Docker Hub or GitHub (or our own governor) says,
capped by ``CELERY_MAX_COUNTDOWN`` (the shared policy of ``hubcourse.tasks``). When retries run out the periodic reconcile picks the
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
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.signals import task_received
from django.utils import timezone

from accounts.models import Enrolment, PreflightState, User
from accounts.services import enrolment_is_blocked, enrolment_record_error
from accounts.steps import StepName
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import PermanentError, TransientError
from hubcourse.tasks import DATABASE_HICCUPS, PolicyTask
from onboarding import engine
from onboarding.steps import PIPELINE, STEPS, StepDefinition
from onboarding.tasks.course import course_invite_task

logger = logging.getLogger(__name__)


def _token(kwargs: Any) -> str:
    # The chain's lease token (engine.apply_plan); "" for a step queued without one.
    return str((kwargs or {}).get("lease") or "")


def _enrolment_id(args: Any, kwargs: Any) -> int | None:
    if args:
        return int(args[0])
    value = (kwargs or {}).get("enrolment_id")
    return int(value) if value is not None else None


class StepTask(PolicyTask):
    """A pipeline step on the shared policy: its lease is the student's pipeline lease.

    A step waiting for its retry keeps the lease for the wait; a failure of any kind ends
    the chain, so it gives the lease back.
    """

    def hold_lease(self, args: Any, kwargs: Any, waiting: int) -> None:
        enrolment_id = _enrolment_id(args, kwargs)
        if enrolment_id is not None:
            engine.pipeline_renew(
                enrolment_id, waiting=waiting, token=_token(kwargs), message=self.request.id or ""
            )

    def release_lease(self, args: Any, kwargs: Any) -> None:
        enrolment_id = _enrolment_id(args, kwargs)
        if enrolment_id is not None:
            engine.pipeline_release(enrolment_id, _token(kwargs))

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        # Called once the chain's next message is in the queue: until a worker takes it, no
        # worker holds the lease (one dying now must not take the queued chain's lease along).
        enrolment_id = _enrolment_id(args, kwargs)
        if enrolment_id is not None:
            engine.pipeline_handed_on(enrolment_id, _token(kwargs), task_id)
        super().on_success(retval, task_id, args, kwargs)


STEP_OPTIONS: dict[str, Any] = {
    "base": StepTask,
    "bind": True,
    "acks_late": True,
    "soft_time_limit": 120,
    "time_limit": 180,
    "ignore_result": True,
}


def superseded(task: Task[Any, Any], enrolment_id: int, token: str) -> bool:
    """True (and the rest of the chain dropped) when another chain holds the student's lease:
    this one lost it (its worker was declared dead) and must not run beside its successor."""
    if engine.pipeline_renew(enrolment_id, token=token, message=task.request.id or ""):
        return False
    logger.info("student %s: a superseded chain stops (lease %s)", enrolment_id, token)
    task.request.chain = None  # a worker sends no more of it; each later step checks too
    return True


def run_step(
    task: Task[Any, Any],
    step: str,
    enrolment_id: int,
    action: Callable[[], object],
    token: str = "",
) -> bool:
    """Run one step's service for a student and record how it ended; False when the step
    did not run because its chain was superseded.

    Retries follow the shared policy (``hubcourse.tasks``); a database hiccup is retried by
    the policy itself, without a word on the enrolment (the database may be what fails).
    """
    assert isinstance(task, PolicyTask), "step tasks are declared with base=StepTask"
    if superseded(task, enrolment_id, token):
        return False
    enrolment = Enrolment.objects.filter(pk=enrolment_id).first()
    if enrolment is None or enrolment_is_blocked(enrolment):
        return True
    if step != StepName.PREFLIGHT and enrolment.preflight_state not in (
        PreflightState.PASSED,
        PreflightState.WARNING,
    ):
        # Nothing is written outside before the pre-flight checks pass.
        return True
    try:
        action()
    except TransientError as error:
        if task.gives_up(error):
            # Give up for now (the chain goes on and ends, freeing the lease); the periodic
            # reconcile tries again from the database.
            enrolment_record_error(enrolment_id=enrolment_id, step=step, error=error)
            return True
        countdown = task.countdown(error)
        enrolment_record_error(
            enrolment_id=enrolment_id,
            step=step,
            error=error,
            retry_at=timezone.now() + dt.timedelta(seconds=countdown),
        )
        raise task.retry_after(error, countdown) from error
    except DATABASE_HICCUPS:
        # The policy retries these (PolicyTask.__call__); not a fault of the step.
        raise
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
        engine.pipeline_release(enrolment_id, token)
        raise
    return True


def _actor(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


def invite_when_class_checked(enrolment_id: int) -> None:
    """The last student of a class to pass pre-flight sends the class's bulk invite now,
    rather than waiting for the next reconcile pass (students still unchecked would
    otherwise be invited one pass later, in a second bulk call)."""

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


@shared_task(name=engine.PIPELINE_DONE_TASK, base=StepTask, acks_late=True, ignore_result=True)
def pipeline_done(enrolment_id: int, lease: str = "") -> None:
    """The end of a student's chain: let the next pass queue them again if needed, and let
    the course's students held back by its window start."""
    engine.pipeline_release(enrolment_id, lease)
    engine.pipeline_ended(enrolment_id)


def _make_step_task(step: StepDefinition) -> Any:
    """The Celery task of one registry step: run its service through ``run_step``."""
    action = step.action
    if action is None:
        raise ValueError(f"step {step.name} has no service to run")
    after = AFTER_STEP.get(step.name)

    def run(
        self: Task[Any, Any], enrolment_id: int, actor_id: int | None = None, lease: str = ""
    ) -> None:
        ran = run_step(
            self, step.name, enrolment_id, lambda: action(enrolment_id, _actor(actor_id)), lease
        )
        if not ran:
            return
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

# The tasks of a chain, by name: what a worker that takes one holds the student's lease for.
CHAIN_TASK_NAMES = frozenset(STEPS[name].task_name for name in PIPELINE) | {
    engine.PIPELINE_DONE_TASK
}


@task_received.connect
def _chain_message_taken(sender: object = None, request: Any = None, **kwargs: Any) -> None:
    """A worker took a chain's message (to run now, or to hold until its retry is due): the
    student's lease is this worker's until the step hands on, so it dies with this worker."""
    if request is None or request.name not in CHAIN_TASK_NAMES:
        return
    token = _token(request.kwargs)
    enrolment_id = _enrolment_id(request.args, request.kwargs)
    if not token or enrolment_id is None:
        return
    eta = request.eta
    waiting = max(0.0, (eta - timezone.now()).total_seconds()) if eta is not None else 0.0
    try:
        engine.pipeline_renew(enrolment_id, waiting=waiting, token=token, message=request.id)
    except Exception:
        # The cache refused: the step renews the lease again as it starts.
        logger.warning("could not note the lease of student %s", enrolment_id, exc_info=True)
