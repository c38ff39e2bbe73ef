"""Celery tasks of build status: re-read one student's builds, and the two beat sweeps.

The pipeline steps that call ``builds.services`` and ``builds.preflight`` (configure the
build, trigger the first one, pre-flight) run in the student's chain in
``onboarding.tasks.steps``, which records their failures on the enrolment. Reading build status
is not a pipeline step: a failure here is the service's, not the student's, so it is logged
and the next poll (its lease runs out) or webhook tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from smtplib import SMTPException
from typing import Any

from celery import Task, shared_task

from builds import notifications, services, tracking
from builds import rebuild as rebuilds
from builds.backends.autobuild.backend import PUSH_HOOK_TASK
from builds.notifications import Change, deliver
from hubcourse.errors import ExternalServiceError, PermanentError, TransientError
from hubcourse.tasks import PolicyTask

logger = logging.getLogger(__name__)


def _logged_not_recorded(
    task: PolicyTask, what: str, enrolment_id: int, work: Callable[[], object]
) -> None:
    """Run work that is not a pipeline step: its failure is logged, not made the student's
    error; a transient one is retried until the task's policy gives up."""
    try:
        work()
    except PermanentError as error:
        logger.warning("%s of enrolment %s failed: %s", what, enrolment_id, error)
    except TransientError as error:
        if task.gives_up(error):
            logger.warning("%s of enrolment %s failed: %s", what, enrolment_id, error)
            return
        raise task.retry_after(error) from error


@shared_task(
    name=services.REFRESH_BUILDS_TASK,
    base=PolicyTask,
    bind=True,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def refresh_builds(self: PolicyTask, enrolment_id: int) -> None:
    _logged_not_recorded(
        self,
        "reading the builds",
        enrolment_id,
        lambda: services.builds_refresh(enrolment_id=enrolment_id),
    )


@shared_task(
    name=PUSH_HOOK_TASK,
    base=PolicyTask,
    bind=True,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def ensure_push_hook(self: PolicyTask, enrolment_id: int) -> None:
    """The student's GitHub push webhook, written after their build is linked (configure
    queues it). Until it is there the branch-head watcher covers the repository, so a hook
    given up on is logged, not the student's error."""
    _logged_not_recorded(
        self,
        "the push webhook",
        enrolment_id,
        lambda: services.build_push_hook(enrolment_id=enrolment_id),
    )


# A soft limit under the hard one: the settings' default soft limit (120 s) is above 60 s,
# and Celery refuses to send a task whose soft limit exceeds its hard limit.
@shared_task(
    name="builds.poll_builds",
    base=PolicyTask,
    acks_late=False,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
)
def poll_builds() -> int:
    """Beat: enqueue a re-read of every repository whose ``next_poll_at`` has come."""
    due = services.builds_claim_due()
    for enrolment_id in due:
        refresh_builds.delay(enrolment_id)
    return len(due)


@shared_task(
    name="builds.flag_stuck_builds",
    base=PolicyTask,
    acks_late=False,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
)
def flag_stuck_builds() -> int:
    """Beat: flag builds unfinished past the stuck limit."""
    flagged = services.builds_flag_stuck()
    if flagged:
        logger.warning("%d build(s) flagged as stuck", flagged)
    return flagged


@shared_task(
    name="builds.watch_branch_heads",
    base=PolicyTask,
    acks_late=False,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=60,
)
def watch_branch_heads() -> int:
    """Beat: enqueue a conditional read of every watched branch head whose turn has come."""
    due = tracking.heads_claim_due()
    for enrolment_id in due:
        check_branch_head.delay(enrolment_id)
    return len(due)


@shared_task(
    name="builds.check_branch_head",
    base=PolicyTask,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
)
def check_branch_head(enrolment_id: int) -> None:
    """One student's branch head; a failure waits for the next turn (its claim stands)."""
    try:
        tracking.branch_head_check(enrolment_id=enrolment_id)
    except ExternalServiceError as error:
        logger.info("branch head of enrolment %s not read: %s", enrolment_id, error)


@shared_task(
    name=rebuilds.REBUILD_TASK, base=PolicyTask, bind=True, acks_late=True, ignore_result=True
)
def rebuild(self: PolicyTask, enrolment_id: int, actor_id: int | None = None) -> None:
    """Start an accepted rebuild; a passing failure is retried, a lasting one was audited."""
    try:
        rebuilds.rebuild_run(enrolment_id=enrolment_id, actor_id=actor_id)
    except PermanentError as error:
        logger.warning("rebuild of enrolment %s failed: %s", enrolment_id, error)
    except TransientError as error:
        if self.gives_up(error):
            logger.warning("rebuild of enrolment %s failed: %s", enrolment_id, error)
            return
        raise self.retry_after(error) from error


# Mail servers are not rate-limited services: Celery's own backoff, as before.
@shared_task(
    name=notifications.SEND_EMAIL_TASK,
    base=PolicyTask,
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    max_retries=5,
)
def send_build_email(
    self: Task[Any, Any], enrolment_id: int, build_id: int, change: Change
) -> None:
    """Send one build-changed email; the decision to send was already recorded once."""
    deliver(enrolment_id, build_id, change)
