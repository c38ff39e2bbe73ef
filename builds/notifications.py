"""Emails to a student when their build breaks and when it is fixed: on changes only.

``notify_build_outcome`` is called by the build-recording service each time builds of a
student finish. It looks at the newest finished build and compares it with the outcome the
student was last told about (``BuildNotice``): a success after a failure is "fixed", a
failure after a success (or as the very first outcome) is "broken"; anything else, a repeat
call for the same build included, sends nothing. The row is locked while deciding, so two
workers reporting the same build send one email.
"""

from __future__ import annotations

import logging
from typing import Literal

from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Enrolment
from builds.models import Build, BuildNotice, BuildState

logger = logging.getLogger(__name__)

Change = Literal["broken", "fixed"]
_OUTCOMES = (BuildState.SUCCESS, BuildState.FAILED)

SEND_EMAIL_TASK = "builds.send_build_email"  # sent by name: builds.tasks imports this module


def notify_build_outcome(*, enrolment_id: int) -> Change | None:
    """Email the student if their newest finished build changed the outcome; returns which."""
    with transaction.atomic():
        enrolment = Enrolment.objects.filter(pk=enrolment_id).first()
        if enrolment is None:
            return None
        BuildNotice.objects.get_or_create(enrolment=enrolment)
        notice = BuildNotice.objects.select_for_update().get(enrolment=enrolment)
        latest = (
            Build.objects.filter(enrolment_id=enrolment_id, state__in=_OUTCOMES)
            .order_by("-created_at", "-pk")
            .first()
        )
        if latest is None or notice.build_id == latest.pk:
            return None
        previous = notice.outcome
        change: Change | None = None
        if latest.state == BuildState.FAILED and previous != BuildState.FAILED:
            change = "broken"
        elif latest.state == BuildState.SUCCESS and previous == BuildState.FAILED:
            change = "fixed"
        notice.build = latest
        notice.outcome = latest.state
        if change is not None:
            notice.notified_at = timezone.now()
        notice.save(update_fields=["build", "outcome", "notified_at"])
        if change is not None:
            build_id = latest.pk
            transaction.on_commit(lambda: _send(enrolment_id, build_id, change))
    return change


def _send(enrolment_id: int, build_id: int, change: Change) -> None:
    current_app.tasks[SEND_EMAIL_TASK].delay(enrolment_id, build_id, change)


def build_email(enrolment: Enrolment, build: Build, change: Change) -> tuple[str, str, str]:
    """(recipient, subject, body) of the email; recipient empty when there is nobody to tell."""
    recipient = (enrolment.user.email if enrolment.user else "") or enrolment.email
    course = enrolment.course
    if change == "broken":
        subject = f"{course.name}: your Docker image build failed"
    else:
        subject = f"{course.name}: your Docker image builds again"
    page = str(settings.SITE_URL).rstrip("/") + reverse("student:status", args=[enrolment.pk])
    body = render_to_string(
        "student/email/build_changed.txt",
        {
            "enrolment": enrolment,
            "course": course,
            "build": build,
            "change": change,
            "page": page,
            "log_tail": "\n".join(build.log_excerpt.strip().splitlines()[-15:]),
        },
    )
    return recipient, subject, body


def deliver(enrolment_id: int, build_id: int, change: Change) -> bool:
    build = (
        Build.objects.select_related("enrolment__course", "enrolment__user")
        .filter(pk=build_id, enrolment_id=enrolment_id)
        .first()
    )
    if build is None:
        return False
    recipient, subject, body = build_email(build.enrolment, build, change)
    if not recipient:
        logger.info(
            "no email address for enrolment %s; build %s not announced", enrolment_id, build_id
        )
        return False
    send_mail(subject, body, None, [recipient])
    return True
