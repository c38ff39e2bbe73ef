"""Incoming webhooks: GitHub's (signed) and Docker Hub's (unsigned, a hint only).

Both answer fast: they record what the payload proves and enqueue a re-read through the API.

* GitHub: ``/hooks/github/<course token>/``. The ``X-Hub-Signature-256`` HMAC of the raw body
  with the course's secret is checked with ``hmac.compare_digest`` before the body is parsed;
  a delivery id seen before is answered and dropped (GitHub re-sends on timeouts and on a
  "Redeliver"), and so is a body seen before under a new id (a captured delivery replayed:
  the signature still matches, the digest gives it away). ``push`` marks the student's repository for a look, ``workflow_run`` records
  the run it carries (the payload is signed, so it is a fact), ``ping`` answers.
* Docker Hub: ``/hooks/dockerhub/<course token>/``. Docker Hub signs nothing, so the token in
  the URL is the only proof of origin and the payload is never trusted: it only says which
  repository to re-read now. A wrong token is a 404.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Course, Enrolment
from accounts.signals import note_observed
from builds.backends import backend_for
from builds.models import WebhookDelivery
from builds.services import (
    build_record,
    next_poll_at,
    repositories_note_image_push,
    repositories_note_push,
)
from builds.tasks import refresh_builds
from hubcourse.secrets import SecretValue
from integrations.github.webhooks import signature_ok
from repositories.models import StudentRepository

logger = logging.getLogger(__name__)

GITHUB = "github"
# GitHub caps a delivery at 25 MB. Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, for every
# other page) would refuse such a body before the view could look, so these views read the
# raw stream themselves, up to this size (read_body).
MAX_BODY = 25 * 1024 * 1024


def read_body(request: HttpRequest) -> bytes | None:
    """The raw body, at most MAX_BODY bytes; None when it is larger."""
    if hasattr(request, "_body"):
        body: bytes = request.body
        return body if len(body) <= MAX_BODY else None
    declared = str(request.META.get("CONTENT_LENGTH") or "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = request.read(MAX_BODY + 1)
    return body if len(body) <= MAX_BODY else None


def _course(token: str) -> Course:
    course = Course.objects.filter(webhook_token=token, archived_at__isnull=True).first()
    if course is None:
        raise Http404("no such hook")
    return course


def _refresh_later(enrolment_ids: list[int]) -> None:
    for enrolment_id in enrolment_ids:
        transaction.on_commit(partial(refresh_builds.delay, enrolment_id))


@csrf_exempt
@require_POST
def github_hook(request: HttpRequest, token: str) -> HttpResponse:
    course = _course(token)
    body = read_body(request)
    if body is None:
        return JsonResponse({"error": "too large"}, status=413)
    secret = course.github_webhook_secret
    secret_text = secret.reveal() if isinstance(secret, SecretValue) else secret
    if not signature_ok(secret_text, body, request.headers.get("X-Hub-Signature-256", "")):
        logger.warning("GitHub webhook for course %s refused: bad signature", course.slug)
        return JsonResponse({"error": "bad signature"}, status=401)
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    event = request.headers.get("X-GitHub-Event", "").strip()
    if not delivery or not event:
        return JsonResponse({"error": "missing X-GitHub-Delivery or X-GitHub-Event"}, status=400)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "not JSON"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"error": "not a JSON object"}, status=400)
    # The delivery row and what it caused commit together: a failure leaves no row, so
    # GitHub's redelivery of the same id is processed instead of dropped.
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(
                    service=GITHUB,
                    delivery_id=delivery[:100],
                    event=event[:50],
                    body_digest=hashlib.sha256(body).hexdigest(),
                )
        except IntegrityError:
            return JsonResponse({"status": "duplicate"})
        handled = _handle_github(course, event, payload)
    return JsonResponse({"status": handled}, status=202 if handled != "ignored" else 200)


def _handle_github(course: Course, event: str, payload: dict[str, Any]) -> str:
    repository = payload.get("repository")
    full_name = repository.get("full_name", "") if isinstance(repository, dict) else ""
    if event == "ping":
        return "pong"
    if event == "push" and full_name:
        ref = str(payload.get("ref", ""))
        if ref != f"refs/heads/{course.build_branch}":
            return "ignored"
        _refresh_later(repositories_note_push(course_id=course.pk, github_repo=full_name))
        return "push"
    if event == "workflow_run" and full_name:
        return _record_run(course, full_name, event, payload)
    return "ignored"


def _record_run(course: Course, full_name: str, event: str, payload: dict[str, Any]) -> str:
    backend = backend_for(course)
    info = backend.build_from_webhook(course, event, payload)
    if info is None:
        return "ignored"
    enrolments = Enrolment.objects.select_related("course").filter(
        course=course, github_repo__iexact=full_name
    )
    now = timezone.now()
    for enrolment in enrolments:
        # The course's backend built it, even mid-move (see tracking.on_workflow_run).
        _build, finished = build_record(enrolment, info, backend=backend.name)
        if finished:
            # The log's tail and the pushed digest come from the API, once.
            _refresh_later([enrolment.pk])
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is not None:
            StudentRepository.objects.filter(pk=repository.pk).update(
                next_poll_at=next_poll_at(enrolment.pk, repository.last_pushed_at, now)
            )
        note_observed(enrolment.pk)
    return "workflow_run"


@csrf_exempt
@require_POST
def dockerhub_hook(request: HttpRequest, token: str) -> HttpResponse:
    course = _course(token)
    body = read_body(request)
    if body is None:
        return JsonResponse({"error": "too large"}, status=413)
    try:
        payload = json.loads(body)
        repo_name = str(payload["repository"]["repo_name"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "not a Docker Hub push payload"}, status=400)
    namespace, _, name = repo_name.partition("/")
    if not namespace or not name:
        return JsonResponse({"error": "repository.repo_name is not namespace/name"}, status=400)
    ids = repositories_note_image_push(course_id=course.pk, namespace=namespace, name=name)
    _refresh_later(ids)
    return JsonResponse({"status": "queued" if ids else "unknown repository"}, status=202)
