"""What every background job of this app shares: one worker at a time, and honest status.

A job is worked on in chunks. A worker takes the job's lease with a conditional update (so a
duplicate message or a second worker simply finds it taken), does one chunk, writes the
rows it finished, and gives the lease back. Whatever happens in between, the rows say what
is done, so the next run carries on from there. The lease names the worker that took it,
and dies with that worker (as a student's chain lease does, hubcourse/workers.py): a job
whose worker was SIGKILLed is taken again at once, not after ``LEASE``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from django.db.models import Q
from django.utils import timezone

from hubcourse import workers
from hubcourse.errors import ExternalServiceError, RateLimited, TransientError
from hubcourse.models import Job, JobStatus
from hubcourse.tasks import DATABASE_HICCUPS, PolicyTask

# Longer than one chunk can take (the task's own time limit is shorter).
LEASE = dt.timedelta(seconds=300)

J = TypeVar("J", bound=Job)


def take_lease(model: type[J], job_id: int) -> J | None:
    """The job, leased to the caller; None if it is finished, gone or leased to another."""
    now = timezone.now()
    open_job = model._default_manager.filter(pk=job_id).exclude(
        status__in=(JobStatus.DONE, JobStatus.FAILED)
    )
    mine = {"lease_until": now + LEASE, "lease_holder": workers.holder()}
    taken = open_job.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(**mine)
    if not taken:
        holder = open_job.values_list("lease_holder", flat=True).first()
        if not holder or workers.holder_alive(holder):
            return None
        # Its worker died holding it: take it over, unless another worker just did.
        if not open_job.filter(lease_holder=holder).update(**mine):
            return None
    return model._default_manager.filter(pk=job_id).first()


def release(model: type[Job], job_id: int, **fields: object) -> None:
    model._default_manager.filter(pk=job_id).update(
        lease_until=None, lease_holder="", updated_at=timezone.now(), **fields
    )


def mark_running(model: type[Job], job: Job) -> None:
    now = timezone.now()
    model._default_manager.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=job.started_at or now, error="", retry_at=None
    )


def mark_waiting(
    model: type[Job], job_id: int, error: ExternalServiceError, retry_at: dt.datetime
) -> None:
    """Docker Hub (or the governor) asked us to wait, or a transient failure: try again later."""
    status = JobStatus.WAITING if isinstance(error, RateLimited) else JobStatus.RUNNING
    release(model, job_id, status=status, error=str(error)[:2000], retry_at=retry_at)


def mark_failed(model: type[Job], job_id: int, error: BaseException | str) -> None:
    release(
        model,
        job_id,
        status=JobStatus.FAILED,
        error=str(error)[:2000],
        retry_at=None,
        finished_at=None,
    )


def mark_resumed(model: type[Job], job_id: int) -> bool:
    """A failed job queued again by a person; False unless it had failed."""
    return bool(
        model._default_manager.filter(pk=job_id, status=JobStatus.FAILED).update(
            status=JobStatus.QUEUED, error="", retry_at=None, lease_until=None
        )
    )


# -- running a job's chunks from a Celery task ----------------------------------------------

log = logging.getLogger(__name__)


class JobTask(PolicyTask):
    """A job's task on the shared policy: its lease is the job row's ``lease_until``.

    Declared with ``job_model=...``; the job's id is the task's first argument.
    """

    job_model: type[Job] | None = None

    def release_lease(self, args: Any, kwargs: Any) -> None:
        # Killed by a time limit or spent retries between take_lease and release: the
        # rows say what is done, so the next run (a person's resume) may take the job now.
        job_id = args[0] if args else (kwargs or {}).get("job_id")
        if self.job_model is not None and isinstance(job_id, int):
            release(self.job_model, job_id)


JOB_OPTIONS: dict[str, Any] = {
    "base": JobTask,
    "bind": True,
    "acks_late": True,
    "soft_time_limit": 150,
    "time_limit": 200,
    "ignore_result": True,
}


def run_job_chunk(
    task: Task[Any, Any], model: type[Job], job_id: int, chunk: Callable[[], bool]
) -> None:
    """Run one chunk; enqueue the next, or wait, retry or stop as the outcome says."""
    assert isinstance(task, PolicyTask), "job tasks are declared with JOB_OPTIONS"
    try:
        more = chunk()
    except TransientError as error:
        if task.gives_up(error):
            mark_failed(model, job_id, error)
            return
        countdown = task.countdown(error)
        mark_waiting(model, job_id, error, timezone.now() + dt.timedelta(seconds=countdown))
        raise task.retry_after(error, countdown) from error
    except DATABASE_HICCUPS:
        # Retried by the policy; the lease runs out or is released on failure.
        raise
    except ExternalServiceError as error:
        mark_failed(model, job_id, error)
        return
    except Exception as error:
        # A fault of ours, not Docker Hub's: stop with a sentence (and the traceback in the
        # log) rather than leave the job "running" forever.
        log.exception("job %s %s stopped", model.__name__, job_id)
        mark_failed(model, job_id, f"hubcourse stopped on an unexpected error: {error}")
        return
    if more:
        task.apply_async((job_id,))
