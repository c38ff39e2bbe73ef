"""Celery tasks of the organisation's membership (bulk invites, reading members and invites): thin, one chunk per run, safe to run twice.

A task works one chunk, then enqueues itself for the next, so no task runs long and a
killed worker loses at most one chunk (its rows stay unanswered and are sent again). A rate
limit (Docker Hub's 429 or our own governor's ``Throttled``) waits exactly as long as asked;
other transient failures back off; a permanent error stops the job with its sentence, and a
person resumes it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from accounts import bulk_invites, membership
from accounts.models import BulkInvite
from hubcourse.errors import ExternalServiceError, TransientError
from hubcourse.jobs import JOB_OPTIONS, run_job_chunk
from hubcourse.tasks import PolicyTask

log = logging.getLogger(__name__)


@shared_task(name=bulk_invites.BULK_INVITE_TASK, job_model=BulkInvite, **JOB_OPTIONS)
def bulk_invite_task(self: Task[Any, Any], job_id: int) -> None:

    run_job_chunk(
        self, BulkInvite, job_id, lambda: bulk_invites.bulk_invite_run_chunk(job_id=job_id)
    )


# Not jobs with a row of their own: the policy without a lease.
NO_LEASE = {**JOB_OPTIONS, "base": PolicyTask}


@shared_task(name=membership.SYNC_TASK, **NO_LEASE)
def sync_organisation_task(self: PolicyTask, organisation: str) -> None:

    try:
        membership.organisation_sync(organisation=organisation)
    except TransientError as error:
        if self.gives_up(error):
            membership.record_sync_error(organisation, error)
            return
        membership.record_sync_error(organisation, error, waiting=True)
        raise self.retry_after(error) from error
    except ExternalServiceError as error:
        membership.record_sync_error(organisation, error)


@shared_task(name=membership.INVITE_ACTION_TASK, **NO_LEASE)
def invite_action_task(
    self: PolicyTask,
    organisation: str,
    action: str,
    invite_ids: list[str],
    actor_id: int | None = None,
) -> None:
    """Resend or cancel invites, then read the organisation again; each invite is one call
    and records its own outcome, so a retry repeats only what was not done."""

    try:
        membership.invites_act(
            organisation=organisation, action=action, invite_ids=invite_ids, actor_id=actor_id
        )
        membership.organisation_sync(organisation=organisation)
    except TransientError as error:
        if self.gives_up(error):
            # The page follows the read: it must end, failed, not stay "reading".
            membership.record_sync_error(organisation, error)
            raise
        raise self.retry_after(error) from error
    except ExternalServiceError as error:
        membership.record_sync_error(organisation, error)
