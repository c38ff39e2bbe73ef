"""Keeps the board's cached chart honest: every saved build row changes its course's version.

``builds.services.build_record`` creates and updates build rows with ``save()``; the state
and the creation time are the only fields the chart reads, and only that function writes
them. The version changes once the transaction commits, so a board reading in between
cannot cache the old rows under the new version.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from accounts.models import Enrolment
from accounts.signals import enrolment_observed
from builds.models import Build
from builds.moving import first_build_finished
from hubcourse.tasks import enqueue_on_commit
from hubcourse.workers import workers_died
from integrations.github.webhooks import app_event
from onboarding.board import note_builds_changed
from onboarding.engine import RECONCILE_STUDENT_TASK
from onboarding.github_access import on_app_event
from onboarding.state import on_enrolment_observed


def build_saved(sender: type[Build], instance: Build, **kwargs: Any) -> None:
    course_id: int | None
    if Build.enrolment.is_cached(instance):
        course_id = instance.enrolment.course_id
    else:
        course_id = (
            Enrolment.objects.filter(pk=instance.enrolment_id)
            .values_list("course_id", flat=True)
            .first()
        )
    if course_id is not None:
        transaction.on_commit(lambda: note_builds_changed(course_id))


RECONCILE_ACTIVE_TASK = "onboarding.reconcile_active_courses"


def on_workers_died(sender: object, holders: list[str], **kwargs: Any) -> None:
    # Their chains' messages stay with the broker until its visibility timeout (hours), and
    # their students' leases died with them: a reconcile finds that work again now.
    enqueue_on_commit(RECONCILE_ACTIVE_TASK)


def on_move_build_finished(sender: object, enrolment_id: int, **kwargs: Any) -> None:
    # The first build a student's move to another backend waited for has finished: the move
    # goes on now (taken further, or the student kept), not at the next periodic reconcile.
    enqueue_on_commit(RECONCILE_STUDENT_TASK, enrolment_id)


def connect() -> None:
    """Connect the engine's reactions to the domain's signals (called once, at app loading)."""
    post_save.connect(build_saved, sender=Build, dispatch_uid="onboarding.build_saved")
    enrolment_observed.connect(on_enrolment_observed, dispatch_uid="onboarding.enrolment_observed")

    # The GitHub App's events keep each student's access to their repository true.

    app_event.connect(on_app_event, dispatch_uid="onboarding.github_access")
    workers_died.connect(on_workers_died, dispatch_uid="onboarding.workers_died")
    first_build_finished.connect(on_move_build_finished, dispatch_uid="onboarding.move_build")
