"""The one retry policy of every Celery task of the product, and the worker's heartbeat.

Every task is declared with ``base=PolicyTask`` (or a subclass). The policy, in one place:

- a transient failure (a 5xx, a timeout) backs off exponentially with jitter,
  ``BACKOFF_BASE * 2**retries`` seconds, at most ``MAX_TRANSIENT_RETRIES`` times;
- a rate limit (Docker Hub's or GitHub's 429, our own governor's ``Throttled``) is not a
  failure: the task waits exactly as long as the service said, capped by
  ``CELERY_MAX_COUNTDOWN`` (a longer countdown would outlive the broker's visibility timeout),
  up to ``MAX_RATE_LIMIT_RETRIES`` times;
- a database that refuses for a moment (a deadlock victim, a dropped connection) rolled the
  task's transaction back whole, so the task simply runs again, on the transient backoff;
- a task that fails for good (retries spent, a bug, a time limit) gives back whatever lease
  it held through ``release_lease``, so the next pass need not wait for the lease to run out.

What a task records when it waits or gives up (on the enrolment, the job, the course) stays
the task's own business; it asks the policy ``gives_up``/``countdown``/``retry_after``.

Services queue work with ``enqueue_on_commit(NAME, ...)``: by the task's registered name, so a
service never imports the task module that imports it (tasks call services, not the reverse).
"""

from __future__ import annotations

import logging
import math
import random
from datetime import timedelta
from typing import Any

from celery import current_app, shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import beat_init, before_task_publish
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from hubcourse.errors import RateLimited
from hubcourse.models import Heartbeat, WebhookReceipt

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "hubcourse.tasks.heartbeat"

# Transient failures: 10 s, 20 s, 40 s ... (plus up to BACKOFF_BASE of jitter), six times.
BACKOFF_BASE = 10
MAX_TRANSIENT_RETRIES = 6
# Waiting on a rate limit is not a failure: allow many more of those.
MAX_RATE_LIMIT_RETRIES = 200

# The database refused for a moment; the transaction rolled back whole.
DATABASE_HICCUPS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def enqueue_on_commit(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the task registered as ``name`` with ``args`` once the transaction commits (at
    once outside one), so a worker never reads rows that are not there yet."""

    def send() -> None:
        current_app.tasks[name].apply_async(args, countdown=countdown)

    transaction.on_commit(send)


def backoff(retries: int) -> int:
    """Seconds before transient retry number ``retries + 1``."""
    countdown = BACKOFF_BASE * 2**retries + random.uniform(0, BACKOFF_BASE)
    return int(min(countdown, settings.CELERY_MAX_COUNTDOWN))


def rate_limit_wait(error: RateLimited) -> int:
    """Seconds the service asked us to wait (rounded up, a second of jitter), capped."""
    wait = math.ceil(error.seconds_to_wait()) + random.randint(0, 1)
    return int(min(wait, settings.CELERY_MAX_COUNTDOWN))


class PolicyTask(DjangoTask):  # type: ignore[misc]  # Celery's Task is an untyped generic
    """The base of every product task: see the module's docstring."""

    # Celery's own ceiling must let the rate-limit budget run; the transient one is ours.
    max_retries = MAX_RATE_LIMIT_RETRIES
    max_transient_retries = MAX_TRANSIENT_RETRIES
    max_rate_limit_retries = MAX_RATE_LIMIT_RETRIES

    def gives_up(self, error: BaseException) -> bool:
        """True when this failure has been retried as often as the policy allows."""
        retries = self.request.retries or 0
        if isinstance(error, RateLimited):
            return retries >= self.max_rate_limit_retries
        return retries >= self.max_transient_retries

    def countdown(self, error: BaseException) -> int:
        """Seconds to wait before the next try: the service's word, else the backoff."""
        if isinstance(error, RateLimited):
            return rate_limit_wait(error)
        return backoff(self.request.retries or 0)

    def retry_after(self, error: BaseException, countdown: int | None = None) -> Exception:
        """The retry to raise (``raise task.retry_after(error) from error``)."""
        wait = self.countdown(error) if countdown is None else countdown
        self.hold_lease(self.request.args or (), self.request.kwargs or {}, wait)
        retry: Exception = self.retry(countdown=wait, max_retries=self.max_rate_limit_retries)
        return retry

    # -- hooks for tasks that hold a lease while they work -------------------------------------

    def hold_lease(self, args: Any, kwargs: Any, waiting: int) -> None:
        """The task is about to wait ``waiting`` seconds for its retry: keep its lease."""

    def release_lease(self, args: Any, kwargs: Any) -> None:
        """The task failed for good: give back its lease so the next pass can start."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self.release_lease(args, kwargs)
        super().on_failure(exc, task_id, args, kwargs, einfo)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            # Called as a plain function: nothing to retry through.
            return super().__call__(*args, **kwargs)
        # Run by a worker or eagerly: the tracer has pushed the request (with its retry
        # count) already; Task.__call__ would push a bare one over it.
        try:
            return self.run(*args, **kwargs)
        except DATABASE_HICCUPS as error:
            if self.gives_up(error):
                raise
            wait = self.countdown(error)
            logger.warning("%s: %s; again in %s s", self.name, error, wait)
            raise self.retry_after(error, wait) from error


def run_tag() -> str:
    """How a heartbeat names the run that started its process (``make run`` sets one)."""
    return f"run={settings.HUBCOURSE_RUN_ID}" if settings.HUBCOURSE_RUN_ID else ""


def record_heartbeat(name: str, detail: str = "") -> None:
    # The run tag first, so the 200-character cut never loses it.
    detail = " ".join(part for part in (run_tag(), detail) if part)
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now(), "detail": detail[:200]}
    )


@shared_task(
    name=HEARTBEAT_TASK,
    base=PolicyTask,
    acks_late=False,
    soft_time_limit=20,
    time_limit=30,
    ignore_result=True,
)
def heartbeat() -> None:
    """Proves a worker is consuming tasks; beat sends it every few seconds."""
    record_heartbeat("worker")


@beat_init.connect
def _beat_started(sender: object, **kwargs: object) -> None:
    record_heartbeat("beat", "started")


@before_task_publish.connect
def _beat_published(sender: str | None = None, **kwargs: object) -> None:
    # Runs in whichever process publishes; only beat publishes the heartbeat task, so a
    # fresh "beat" row means beat is alive even while no worker runs.
    if sender == HEARTBEAT_TASK:
        record_heartbeat("beat")


# GitHub lets a delivery be redelivered for three days; a week of receipts drops every replay
# GitHub can send, and the table stays small.
WEBHOOK_RECEIPT_DAYS = 7


@shared_task(
    name="hubcourse.prune_webhook_receipts",
    base=PolicyTask,
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def prune_webhook_receipts() -> int:
    """Forget webhook receipts older than the redelivery window."""

    cutoff = timezone.now() - timedelta(days=WEBHOOK_RECEIPT_DAYS)
    deleted, _ = WebhookReceipt.objects.filter(received_at__lt=cutoff).delete()
    return deleted
