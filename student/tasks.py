from __future__ import annotations

from smtplib import SMTPException
from typing import Any

from celery import Task, shared_task

from student.notifications import Change, deliver


@shared_task(
    name="student.send_build_email",
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
