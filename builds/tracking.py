"""Builds seen within seconds of a push: the GitHub App's events, and a branch-head watcher.

* With the app installed on the student's repository, GitHub sends ``push`` and
  ``workflow_run`` events to the app's webhook (``integrations.github.webhooks`` verifies them
  and sends ``app_event``). For automated builds, a push to the course's build branch records
  "build expected for commit X" (:func:`builds.services.build_expected`): the student's builds
  are read every few seconds until that commit's build has finished, then the repository goes
  quiet again. A ``workflow_run`` carries the Actions run itself (signed, so a fact) and is
  recorded directly, so a push there costs no fast polling.
* Without the app, a public repository's branch head is read with a conditional request
  (``If-None-Match``) at an interval sized to the request budget; a 304 is free for an
  authorised caller. A new head expects a build the same way a push event does.

Docker Hub sends no webhook for a failed automated build, so after a push, reading the build
list is the only way to see the failure: hence the expectation and its fast polling.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from pydantic import ValidationError

from accounts.credentials import github_client_for
from accounts.models import Enrolment, GitHubAccess
from accounts.signals import note_observed
from builds.backends import BuildNotReady, backend_for, data
from builds.backends.common import github_source
from builds.backends.github_actions.backend import WORKFLOW_PATH, build_info
from builds.notifications import notify_build_outcome
from builds.services import (
    PUSH_POLL,
    REFRESH_BUILDS_TASK,
    build_expected,
    build_record,
    expectation_met,
)
from integrations.github.client import WorkflowRun
from repositories.models import StudentRepository

logger = logging.getLogger(__name__)

_NO_COMMIT = "0" * 40


# -- the GitHub App's events -------------------------------------------------------------------


def _enrolments_of(payload: dict[str, Any]) -> QuerySet[Enrolment]:
    """The active enrolments whose GitHub repository the event is about (by id, which
    survives renames, or by name)."""
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        return Enrolment.objects.none()
    full_name = str(repository.get("full_name") or "")
    repository_id = repository.get("id")
    match = Q()
    if isinstance(repository_id, int):
        match |= Q(github_repository_id=repository_id)
    if full_name:
        match |= Q(github_repo__iexact=full_name)
    if not match:
        return Enrolment.objects.none()
    return Enrolment.objects.select_related("course").filter(
        match, course__archived_at__isnull=True
    )


def on_push(payload: dict[str, Any], *, now: dt.datetime | None = None) -> list[int]:
    """A push: for each student whose build branch it updated, expect that commit's build.

    The time is when hubcourse heard of it, not the commit's date (a commit may be pushed
    days after it was written). Returns the enrolment ids that now await a build.
    """
    now = now or timezone.now()
    sha = str(payload.get("after") or "")
    ref = str(payload.get("ref") or "")
    if payload.get("deleted") or not sha or sha == _NO_COMMIT:
        return []
    expecting: list[int] = []
    for enrolment in _enrolments_of(payload):
        if ref != f"refs/heads/{enrolment.course.build_branch}":
            continue
        if backend_for(enrolment.course).results_by_event:
            # The run's own workflow_run events carry its result: no fast polling of the
            # GitHub API, only the usual look for a run after a push, in case one is lost.
            StudentRepository.objects.filter(enrolment=enrolment).update(
                last_pushed_at=now, next_poll_at=now + PUSH_POLL
            )
            continue
        if build_expected(enrolment_id=enrolment.pk, sha=sha, pushed_at=now):
            expecting.append(enrolment.pk)
    return expecting


def on_workflow_run(payload: dict[str, Any]) -> list[int]:
    """A ``workflow_run``: record the course workflow's run for each student it belongs to.

    A finished run is on the board at once; its log's tail and the pushed digest are read
    by a refresh afterwards (the payload carries neither).
    """
    try:
        run = WorkflowRun.model_validate(payload.get("workflow_run"))
    except ValidationError:
        return []
    if run.path not in (None, WORKFLOW_PATH):
        return []  # the student's own workflows are theirs
    recorded: list[int] = []
    for enrolment in _enrolments_of(payload):
        backend = backend_for(enrolment.course)
        if not backend.results_by_event:
            continue
        if not StudentRepository.objects.filter(enrolment=enrolment).exists():
            continue
        # The course's workflow ran it, whatever the student builds with now: mid-move, its
        # first run starts before their move waits for it (builds.moving).
        _build, finished = build_record(enrolment, build_info(run), backend=backend.name)
        note_observed(enrolment.pk)
        if finished:
            repository = StudentRepository.objects.get(enrolment=enrolment)
            expectation_met(repository)
            notify_build_outcome(enrolment_id=enrolment.pk)
            # The log's tail and the digest: one read, now.
            transaction.on_commit(partial(_refresh, enrolment.pk))
        recorded.append(enrolment.pk)
    return recorded


def _refresh(enrolment_id: int) -> None:

    current_app.tasks[REFRESH_BUILDS_TASK].delay(enrolment_id)


def on_app_event(
    sender: Any,
    *,
    event: str,
    payload: dict[str, Any],
    action: str = "",
    delivery: str = "",
    **kwargs: Any,
) -> None:
    """Receiver of ``integrations.github.webhooks.app_event``: pushes and Actions runs."""
    if event == "push":
        on_push(payload)
    elif event == "workflow_run":
        on_workflow_run(payload)


# -- the branch-head watcher (students without the app) ----------------------------------------


def watched() -> QuerySet[StudentRepository]:
    """Repositories whose branch head is read on a timer: public ones without the app, and
    (until the joining step has looked) those with neither the app nor a course webhook."""
    return StudentRepository.objects.filter(
        Q(enrolment__github_access=GitHubAccess.PUBLIC)
        | (Q(enrolment__github_access=GitHubAccess.UNKNOWN) & data.without_github_hook()),
        build_configured_at__isnull=False,
        enrolment__course__archived_at__isnull=True,
    ).exclude(enrolment__github_repo="")


def watch_interval(count: int) -> dt.timedelta:
    """The interval that spreads ``count`` reads over the hourly request budget."""
    seconds = count * 3600 / settings.GITHUB_WATCH_REQUESTS_PER_HOUR
    low, high = settings.GITHUB_WATCH_MIN_INTERVAL, settings.GITHUB_WATCH_MAX_INTERVAL
    return dt.timedelta(seconds=min(max(seconds, low), max(high, low)))


def heads_claim_due(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Enrolment ids whose branch head is due a read, each claimed until its next turn."""
    now = now or timezone.now()
    repositories = watched()
    interval = watch_interval(repositories.count())
    due = list(
        repositories.filter(Q(next_head_check_at__isnull=True) | Q(next_head_check_at__lte=now))
        .order_by("next_head_check_at")
        .values_list("pk", "enrolment_id", "next_head_check_at")[:limit]
    )
    claimed: list[int] = []
    for pk, enrolment_id, was in due:
        # Conditional on the value read: a second beat does not claim it twice.
        if StudentRepository.objects.filter(pk=pk, next_head_check_at=was).update(
            next_head_check_at=now + interval
        ):
            claimed.append(enrolment_id)
    return claimed


def branch_head_check(*, enrolment_id: int, now: dt.datetime | None = None) -> str:
    """Read the student's branch head conditionally; a new head expects a build.

    Returns what happened: "unchanged" (304), "first" (the head is known from now on),
    "moved" (a build is now expected), or "skipped" (nothing to read with).
    """
    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    if enrolment is None or repository is None:
        return "skipped"
    try:
        owner, name = github_source(enrolment)
        client = github_client_for(enrolment.course)
    except (BuildNotReady, ValueError) as why:  # no repository yet, or no token to read with
        logger.info("branch head of enrolment %s not read: %s", enrolment_id, why)
        return "skipped"
    head = client.get_branch_head(owner, name, enrolment.course.build_branch, repository.head_etag)
    if head is None:
        return "unchanged"
    sha, etag = head
    rows = StudentRepository.objects.filter(pk=repository.pk)
    if sha == repository.head_sha:
        rows.update(head_etag=etag)
        return "unchanged"
    # Conditional on the head read: two checks racing expect one build.
    moved = rows.filter(head_sha=repository.head_sha).update(head_sha=sha, head_etag=etag)
    if not moved or not repository.head_sha:
        # The first read only learns the head: the first build is the pipeline's to start.
        return "first"
    build_expected(enrolment_id=enrolment_id, sha=sha, pushed_at=now or timezone.now())
    return "moved"
