"""Services on enrolments: recording a step's failure, clearing it, and deriving the state.

These are the only writers of ``Enrolment.error_*``, ``attempts`` and ``state``. Every
onboarding step (Docker Hub steps, build backends, pre-flight) reports through them, so the
class board shows one consistent story: the furthest state reached, and when something is
wrong, which step, a sentence a person can act on, and when it is tried again.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.models import Enrolment
from accounts.onboarding import Progress, compute_state
from hubcourse.errors import ExternalServiceError

# Stored messages stay short enough for the board; the audit log keeps the same text.
_MESSAGE_MAX = 1000


def enrolment_record_error(
    *,
    enrolment_id: int,
    step: str,
    error: BaseException | str,
    retry_at: dt.datetime | None = None,
    permanent: bool | None = None,
) -> Progress | None:
    """Record that ``step`` failed for the enrolment, and recompute its state.

    ``permanent`` defaults to the error's own flag (``PermanentError``), else False. A
    permanent error stops the student's pipeline (state ``error``) until a person retries;
    a transient one keeps the state and says when the next attempt is (``retry_at``).
    Returns the new progress, or None when the enrolment is gone.
    """
    if permanent is None:
        permanent = isinstance(error, ExternalServiceError) and error.permanent
    now = timezone.now()
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if enrolment is None:
            return None
        # A repeat of the same failure counts as another attempt; a new step starts over.
        attempts = enrolment.attempts + 1 if enrolment.error_step == step else 1
        Enrolment.objects.filter(pk=enrolment_id).update(
            error_step=step,
            error_message=str(error)[:_MESSAGE_MAX],
            error_permanent=permanent,
            error_at=now,
            next_retry_at=None if permanent else retry_at,
            attempts=attempts,
            updated_at=now,
        )
        return enrolment_refresh_state(enrolment_id=enrolment_id)


def enrolment_clear_error(*, enrolment_id: int, step: str | None = None) -> Progress | None:
    """Forget the enrolment's error (only if it belongs to ``step``, when given).

    Called by a step that has just succeeded, and by an instructor's retry (``step=None``).
    """
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if enrolment is None:
            return None
        if enrolment.error_step and (step is None or enrolment.error_step == step):
            Enrolment.objects.filter(pk=enrolment_id).update(
                error_step="",
                error_message="",
                error_permanent=False,
                error_at=None,
                next_retry_at=None,
                attempts=0,
                updated_at=timezone.now(),
            )
        return enrolment_refresh_state(enrolment_id=enrolment_id)


def enrolment_refresh_state(*, enrolment_id: int) -> Progress | None:
    """Recompute the stored state from the observed rows (the only writer of ``state``)."""
    from builds.models import Build, BuildState
    from repositories.models import StudentRepository

    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None:
        return None
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    # compute_state needs only "any build" and "any successful build": two rows at most,
    # however long the student's history is.
    builds: list[Build] = []
    latest = Build.objects.filter(enrolment_id=enrolment_id).order_by("-created_at").first()
    if latest is not None:
        builds.append(latest)
        if latest.state != BuildState.SUCCESS:
            success = (
                Build.objects.filter(enrolment_id=enrolment_id, state=BuildState.SUCCESS)
                .order_by("-created_at")
                .first()
            )
            if success is not None:
                builds.append(success)
    progress = compute_state(enrolment, repository, builds)
    if enrolment.state != progress.state:
        Enrolment.objects.filter(pk=enrolment_id).update(
            state=progress.state, updated_at=timezone.now()
        )
    return progress


def enrolment_is_blocked(enrolment: Enrolment) -> bool:
    """True while a permanent error waits for a person: its pipeline must not run."""
    return bool(enrolment.error_step and enrolment.error_permanent)


def enrolment_reset_for_retry(*, enrolment_id: int) -> Progress | None:
    """An instructor's retry: clear the error (and a failed pre-flight, so it runs again)."""
    from accounts.models import PreflightState

    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment_id, preflight_state=PreflightState.FAILED).update(
            preflight_state=PreflightState.NOT_RUN
        )
        return enrolment_clear_error(enrolment_id=enrolment_id)

