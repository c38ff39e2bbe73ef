"""The audit log of changes hubcourse makes outside: the one way to write an AuditEvent.

Every step that writes to Docker Hub or GitHub (or decides it had nothing to write) records
one event here, so the instructor can see who asked for what, on what, when, and how it
ended. Messages are for people: an exception's text is already free of URLs and secrets
(see ``hubcourse.errors``), and this helper trims what it stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubcourse.models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import Course, Enrolment, User

Outcome = AuditEvent.Outcome

_TARGET_MAX = 300
_MESSAGE_MAX = 2000


def audit_record(
    *,
    service: str,
    action: str,
    target: str,
    outcome: str,
    course: Course | None = None,
    enrolment: Enrolment | None = None,
    actor: User | None = None,
    message: str | BaseException = "",
) -> AuditEvent:
    """Store one audit event and return it.

    ``service`` names the outside service ("Docker Hub", "GitHub"); ``action`` is a dotted
    verb ("repository.create"); ``outcome`` is an ``AuditEvent.Outcome``. The course is taken
    from the enrolment when only that is given. Pass an exception as ``message`` to store its
    person-readable text.
    """
    if outcome not in Outcome.values:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    course_id = course.pk if course is not None else None
    if course_id is None and enrolment is not None:
        course_id = enrolment.course_id
    return AuditEvent.objects.create(
        course_id=course_id,
        enrolment=enrolment,
        actor=actor,
        service=service,
        action=action,
        target=target[:_TARGET_MAX],
        outcome=outcome,
        message=str(message)[:_MESSAGE_MAX],
    )
