"""The staff pages' background work: connection checks, roster checks, re-sent invites."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from hubcourse.errors import TransientError
from hubcourse.jobs import JobTask
from hubcourse.tasks import PolicyTask
from onboarding import courses
from onboarding.models import ConnectionCheck, RosterCheck, RosterImport

OPTIONS: dict[str, Any] = {
    "base": PolicyTask,
    "acks_late": True,
    "soft_time_limit": 120,
    "time_limit": 180,
    "ignore_result": True,
}


# Jobs with a row: a failure for good gives the row's lease back.
@shared_task(
    name=courses.CONNECTION_CHECK_TASK, **{**OPTIONS, "base": JobTask, "job_model": ConnectionCheck}
)
def connection_check_task(check_id: int) -> None:

    courses.connection_check_run(check_id=check_id)


# One batch of a roster's outside checks: the service stops after CHECK_BATCH_SECONDS and
# queues the next batch; the soft limit is a backstop that still leaves a usable preview.
@shared_task(
    name=courses.ROSTER_CHECK_TASK,
    **{
        **OPTIONS,
        "base": JobTask,
        "job_model": RosterCheck,
        "soft_time_limit": 150,
        "time_limit": 180,
    },
)
def roster_check_task(import_id: int) -> None:

    try:
        courses.roster_check(import_id=import_id)
    except SoftTimeLimitExceeded:
        preview = RosterImport.objects.filter(pk=import_id).first()
        if preview is not None:
            courses.roster_checks_finish(preview=preview, why="the check hit its time limit")


@shared_task(name=courses.INVITES_RESEND_TASK, bind=True, **OPTIONS)
def invites_resend_task(
    self: PolicyTask, course_id: int, enrolment_ids: list[int], actor_id: int | None
) -> None:

    try:
        courses.invites_resend(course_id=course_id, enrolment_ids=enrolment_ids, actor_id=actor_id)
    except TransientError as error:
        if self.gives_up(error):
            raise
        raise self.retry_after(error) from error
