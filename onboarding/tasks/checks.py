"""The staff pages' background work: connection checks, roster checks, re-sent invites."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from hubcourse.errors import TransientError

OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "soft_time_limit": 120,
    "time_limit": 180,
    "ignore_result": True,
}


@shared_task(name="onboarding.connection_check", **OPTIONS)
def connection_check_task(check_id: int) -> None:
    from onboarding.courses import connection_check_run

    connection_check_run(check_id=check_id)


# One batch of a roster's outside checks: the service stops after CHECK_BATCH_SECONDS and
# queues the next batch; the soft limit is a backstop that still leaves a usable preview.
@shared_task(
    name="onboarding.roster_check", **{**OPTIONS, "soft_time_limit": 150, "time_limit": 180}
)
def roster_check_task(import_id: int) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from onboarding.courses import roster_check, roster_checks_finish
    from onboarding.models import RosterImport

    try:
        roster_check(import_id=import_id)
    except SoftTimeLimitExceeded:
        preview = RosterImport.objects.filter(pk=import_id).first()
        if preview is not None:
            roster_checks_finish(preview=preview, why="the check hit its time limit")


@shared_task(name="onboarding.invites_resend", bind=True, max_retries=5, **OPTIONS)
def invites_resend_task(
    self: Task[Any, Any], course_id: int, enrolment_ids: list[int], actor_id: int | None
) -> None:
    from onboarding.courses import invites_resend

    try:
        invites_resend(course_id=course_id, enrolment_ids=enrolment_ids, actor_id=actor_id)
    except TransientError as error:
        raise self.retry(countdown=30 * 2 ** (self.request.retries or 0)) from error
