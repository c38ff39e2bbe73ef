"""Rebuild: build the student's latest commit again, asked for by the student or by staff.

The request is decided at once, in words (:func:`rebuild_request`): refused when nothing is
set up to build with, or when this student's last rebuild is more recent than
``BUILD_REBUILD_MIN_INTERVAL`` (the claim is a conditional update, so two clicks start one
build). An accepted request starts the build through the course's backend in a task
(:func:`rebuild_run`), mid-move through the backend the student is on; the backend builds the head of the course's branch, the latest commit.
Every request, refused or not, and every start is an audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.timesince import timeuntil

from accounts.models import Course, Enrolment, PreflightState, User
from builds.backends import BuildInfo, BuildNotReady
from builds.models import BuildState
from builds.moving import backend_of
from builds.services import build_record, poll_soon
from hubcourse.audit import audit_record
from hubcourse.errors import ExternalServiceError
from hubcourse.models import AuditEvent
from repositories.models import StudentRepository

logger = logging.getLogger(__name__)

ACTION = "build.rebuild"

REBUILD_TASK = "builds.rebuild"  # queued by name: builds.tasks imports this module


@dataclass(frozen=True)
class RebuildAnswer:
    enrolment_id: int
    accepted: bool
    # What happens, or why not, in words for the person who asked.
    message: str


def rebuild_interval() -> dt.timedelta:
    return dt.timedelta(seconds=settings.BUILD_REBUILD_MIN_INTERVAL)


def _why_not(enrolment: Enrolment, repository: StudentRepository | None) -> str:
    course = enrolment.course
    if not course.is_active:
        return "The course is archived: nothing is built for it any more."
    if not enrolment.github_repo:
        return "No GitHub repository is linked yet, so there is nothing to build."
    if enrolment.preflight_state == PreflightState.FAILED:
        return "The pre-flight checks failed: fix what they say first, then build."
    if repository is None or repository.build_configured_at is None:
        return "The build is not set up yet: hubcourse sets it up during onboarding."
    return ""


def rebuild_request(
    *, enrolment: Enrolment, actor: User | None, now: dt.datetime | None = None
) -> RebuildAnswer:
    """Accept (and start in a task) or refuse a rebuild of the student's latest commit."""
    now = now or timezone.now()
    repository = StudentRepository.objects.filter(enrolment=enrolment).first()
    reason = _why_not(enrolment, repository)
    if not reason and repository is not None:
        claimed = StudentRepository.objects.filter(
            Q(rebuild_requested_at__isnull=True)
            | Q(rebuild_requested_at__lte=now - rebuild_interval()),
            pk=repository.pk,
        ).update(rebuild_requested_at=now)
        if not claimed:
            last = (
                StudentRepository.objects.filter(pk=repository.pk)
                .values_list("rebuild_requested_at", flat=True)
                .first()
            )
            again = (last or now) + rebuild_interval()
            reason = (
                "A rebuild was asked for a moment ago; another can start in "
                f"{timeuntil(again, now)}."
            )
    if reason:
        _audit(enrolment, repository, actor, AuditEvent.Outcome.NOOP, f"refused: {reason}")
        return RebuildAnswer(enrolment.pk, False, reason)
    actor_id = actor.pk if actor is not None else None
    transaction.on_commit(partial(_start, enrolment.pk, actor_id))
    return RebuildAnswer(
        enrolment.pk, True, "Rebuilding the latest commit: the result shows here in a minute."
    )


def rebuild_many(
    *, course: Course, enrolment_ids: list[int], actor: User | None
) -> list[RebuildAnswer]:
    """Staff: rebuild a selection of the course's students, each decided on its own."""
    enrolments = Enrolment.objects.select_related("course").filter(
        course=course, pk__in=enrolment_ids
    )
    return [rebuild_request(enrolment=e, actor=actor) for e in enrolments]


def _audit(
    enrolment: Enrolment,
    repository: StudentRepository | None,
    actor: User | None,
    outcome: AuditEvent.Outcome,
    message: str | BaseException,
) -> None:
    """One audit record of a rebuild request or start, refused, failed or begun."""
    audit_record(
        service=backend_of(enrolment, repository).service,
        action=ACTION,
        target=repository.full_name if repository is not None else enrolment.identifier,
        outcome=outcome,
        enrolment=enrolment,
        actor=actor,
        message=message,
    )


def _start(enrolment_id: int, actor_id: int | None) -> None:
    current_app.tasks[REBUILD_TASK].delay(enrolment_id, actor_id)


def rebuild_run(*, enrolment_id: int, actor_id: int | None = None) -> str | None:
    """Start the build through the student's backend (``builds.moving.backend_of``); the started build's id, if it has one.

    Raises ``ExternalServiceError`` (after recording it) for the task to retry a passing one.
    """
    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None:
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    repository = StudentRepository.objects.filter(enrolment=enrolment).first()
    # Mid-move, the backend the student is on (builds.moving), not the course's.
    backend = backend_of(enrolment, repository)
    try:
        external_id = backend.trigger(enrolment)
    except BuildNotReady as why:
        _audit(enrolment, repository, actor, AuditEvent.Outcome.NOOP, f"not started: {why}")
        return None
    except ExternalServiceError as error:
        _audit(enrolment, repository, actor, AuditEvent.Outcome.ERROR, error)
        raise
    now = timezone.now()
    if external_id:
        build_record(
            enrolment,
            BuildInfo(external_id=external_id, state=BuildState.QUEUED),
            backend=backend.name,
        )
    # Expect the build (its commit is the branch head, not known here) and look soon.
    StudentRepository.objects.filter(enrolment=enrolment).update(expected_sha="", expected_at=now)
    poll_soon(enrolment.pk, now)
    _audit(
        enrolment,
        repository,
        actor,
        AuditEvent.Outcome.OK,
        f"started build {external_id}" if external_id else "started",
    )
    return external_id
