"""Course-level Celery tasks: teams, the bulk invite, and the reconcile passes.

The periodic full reconcile is what makes lost messages harmless: it observes each active
course in bulk, plans from the database and re-enqueues whatever is unfinished.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from accounts.models import Course, Enrolment, InviteState, User
from accounts.services import course_ensure_teams, course_invite_students, enrolment_reset_for_retry
from hubcourse.errors import ExternalServiceError, TransientError
from hubcourse.tasks import PolicyTask
from onboarding import engine
from repositories.services import course_retire_old_teams

log = logging.getLogger(__name__)

COURSE_OPTIONS: dict[str, Any] = {
    "base": PolicyTask,
    "bind": True,
    "acks_late": True,
    "soft_time_limit": 150,
    "time_limit": 200,
    "ignore_result": True,
}
# The beat sweeps: quick, and the next beat is their retry.
BEAT_OPTIONS: dict[str, Any] = {"base": PolicyTask, "acks_late": True, "ignore_result": True}


def _actor(actor_id: int | None) -> User | None:
    return User.objects.filter(pk=actor_id).first() if actor_id else None


def _retry_course(task: Task[Any, Any], course_id: int, error: TransientError) -> Exception:
    """The retry for a course-level task, and the course's sync error for the board."""
    assert isinstance(task, PolicyTask), "course tasks are declared with COURSE_OPTIONS"
    Course.objects.filter(pk=course_id).update(last_sync_error=str(error)[:1000])
    if task.gives_up(error):
        # The periodic reconcile takes the course up again from the database.
        return error
    return task.retry_after(error)


@shared_task(name=engine.ENSURE_TEAMS_TASK, **COURSE_OPTIONS)
def course_ensure_teams_task(
    self: Task[Any, Any], course_id: int, actor_id: int | None = None
) -> None:
    actor = _actor(actor_id)
    try:
        course_ensure_teams(course_id=course_id, actor=actor)
        # A renamed team's old one goes once the new one has taken over (else it waits).
        course_retire_old_teams(course_id=course_id, actor=actor)
    except TransientError as error:
        raise _retry_course(self, course_id, error) from error
    except ExternalServiceError as error:
        Course.objects.filter(pk=course_id).update(last_sync_error=str(error)[:1000])


@shared_task(name=engine.INVITE_TASK, **COURSE_OPTIONS)
def course_invite_task(self: Task[Any, Any], course_id: int, actor_id: int | None = None) -> None:
    try:
        course_invite_students(course_id=course_id, actor=_actor(actor_id))
    except TransientError as error:
        raise _retry_course(self, course_id, error) from error
    except ExternalServiceError as error:
        Course.objects.filter(pk=course_id).update(last_sync_error=str(error)[:1000])


@shared_task(name=engine.RECONCILE_COURSE_TASK, **COURSE_OPTIONS)
def reconcile_course_task(
    self: Task[Any, Any], course_id: int, follow_up: bool = True, actor_id: int | None = None
) -> None:
    """Observe the course in bulk, plan from the rows, and enqueue what is unfinished.

    One pass per course at a time (``engine.course_pass_claim``): asked for while one runs,
    the running one asks for the next as it ends."""

    course = Course.objects.filter(pk=course_id, archived_at__isnull=True).first()
    if course is None:
        return
    if not engine.course_pass_claim(course_id):
        if engine.course_pass_again(course_id):
            reconcile_course_task.delay(course_id, follow_up, actor_id)  # it ended meanwhile
        return
    try:
        plan = engine.plan_course(course, observe=True)
    except TransientError as error:
        raise _retry_course(self, course_id, error) from error
    except ExternalServiceError as error:
        Course.objects.filter(pk=course_id).update(last_sync_error=str(error)[:1000])
        return
    finally:
        if engine.course_pass_end(course_id):
            reconcile_course_task.delay(course_id)
    engine.apply_plan(plan, actor_id=actor_id, follow_up=follow_up)


@shared_task(name=engine.REFILL_TASK, **COURSE_OPTIONS)
def refill_course_task(self: Task[Any, Any], course_id: int) -> None:
    """Chains of the course ended: queue its students held back by the window (from the
    rows, without reading Docker Hub: the chains just wrote what they did)."""
    engine.refill_started(course_id)
    course = Course.objects.filter(pk=course_id, archived_at__isnull=True).first()
    if course is None:
        return
    engine.apply_plan(engine.plan_course(course), follow_up=False)


@shared_task(name="onboarding.reconcile_active_courses", **BEAT_OPTIONS)
def reconcile_active_courses() -> None:
    """Beat: a full reconcile of every active course, one task each."""
    for course_id in Course.objects.filter(archived_at__isnull=True).values_list("pk", flat=True):
        reconcile_course_task.delay(course_id)


@shared_task(name="onboarding.watch_pending_invites", **BEAT_OPTIONS)
def watch_pending_invites() -> None:
    """Beat: reconcile courses whose students are still to accept, so an acceptance shows
    (and the student's next steps start) within a minute, not at the next full reconcile.

    Docker Hub sends nothing when an invite is accepted; reading the organisation in bulk is
    the only way to see it, and it costs a few list calls per course, not per student.
    """

    interval = int(
        settings.CELERY_BEAT_SCHEDULE["watch-pending-invites"]["schedule"].total_seconds()
    )
    courses = (
        Course.objects.filter(archived_at__isnull=True)
        .filter(enrolments__invite_state=InviteState.PENDING)
        .values_list("pk", flat=True)
        .distinct()
    )
    for course_id in courses:
        # One pass per course per interval, however long the queue is.
        if cache.add(f"hubcourse:watch-invites:{course_id}", 1, timeout=interval):
            reconcile_course_task.delay(course_id)


@shared_task(name="onboarding.course.resend_expired_invites", **COURSE_OPTIONS)
def resend_expired_invites_task(self: Task[Any, Any], course_id: int) -> None:
    """Notice invites that ran out (14 days) and send them again, in one pass per course."""

    course = Course.objects.filter(pk=course_id, archived_at__isnull=True).first()
    if course is None:
        return
    try:
        engine.observe_course(course)
        course_invite_students(course_id=course_id)
    except TransientError as error:
        raise _retry_course(self, course_id, error) from error
    except ExternalServiceError as error:
        Course.objects.filter(pk=course_id).update(last_sync_error=str(error)[:1000])


@shared_task(name="onboarding.resend_expired_invites", **BEAT_OPTIONS)
def resend_expired_invites() -> None:
    """Beat: look for expired invites in courses that still have students waiting."""

    courses = (
        Course.objects.filter(archived_at__isnull=True)
        .filter(enrolments__invite_state__in=(InviteState.PENDING, InviteState.EXPIRED))
        .values_list("pk", flat=True)
        .distinct()
    )
    for course_id in courses:
        resend_expired_invites_task.delay(course_id)


@shared_task(name="onboarding.enrolment.retry", **COURSE_OPTIONS)
def retry_student_task(
    self: Task[Any, Any], enrolment_id: int, actor_id: int | None = None
) -> None:
    """An instructor's retry: clear the student's error, then plan and apply for them."""

    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None:
        return
    enrolment_reset_for_retry(enrolment_id=enrolment_id)
    enrolment.refresh_from_db()
    engine.apply_plan(engine.plan_course(enrolment.course, enrolment=enrolment), actor_id=actor_id)


@shared_task(name=engine.RECONCILE_STUDENT_TASK, **COURSE_OPTIONS)
def reconcile_student_task(self: Task[Any, Any], enrolment_id: int, attempt: int = 0) -> None:
    """Plan and apply for one student (the first build their move waited for finished).

    When a chain holds the student, its end plans them again (``engine.pipeline_again``).
    ``attempt`` is ignored: messages queued by releases that looked again every 3 s carry it.
    """

    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None or not enrolment.course.is_active:
        return
    applied = engine.apply_plan(
        engine.plan_course(enrolment.course, enrolment=enrolment), follow_up=False
    )
    if applied.skipped_in_flight and engine.pipeline_again(enrolment_id):
        reconcile_student_task.delay(enrolment_id)  # the chain ended meanwhile
