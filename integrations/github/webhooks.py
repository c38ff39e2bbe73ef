"""GitHub's webhooks: the signature check, and the receiver of the GitHub App's events.

All of the app's events (every installation, every repository it is on) arrive at ONE URL,
``/webhooks/github/app/``, signed with the app's webhook secret. The receiver:

1. refuses a body over ``GITHUB_APP_WEBHOOK_MAX_BYTES`` (GitHub caps events at 25 MB) before
   reading it, and a body whose ``X-Hub-Signature-256`` does not match (401), comparing in
   constant time before anything is parsed;
2. records a ``WebhookReceipt`` by ``X-GitHub-Delivery`` AND by the body's SHA-256, so a
   redelivery or a captured body re-posted under a new id is answered and dropped;
3. once that receipt is committed, sends ONE signal, :data:`app_event`, with ``event``,
   ``action``, ``payload`` and ``delivery``. Handlers live in the domain (they connect to it;
   this floor knows none of them) and must be idempotent: when one fails, the receipt is
   removed and the answer is 500, so GitHub's redelivery runs them all again.

The view gets the app's configuration from a loader given in the URL configuration (the
accessor lives above this floor, in accounts.credentials).

Reference: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import django.dispatch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from hubcourse.models import WebhookReceipt
from integrations.github.app import GitHubAppConfig

logger = logging.getLogger(__name__)

SOURCE = "github-app"

# Sent once per new, correctly signed delivery, after its receipt is committed.
# Arguments: event (X-GitHub-Event), action (payload["action"] or ""), payload (dict),
# delivery (X-GitHub-Delivery).
app_event = django.dispatch.Signal()


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """GitHub's ``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or ``None`` when it is larger than ``limit``.

    Read from the stream, not ``request.body``: Django's own ceiling for in-memory bodies
    (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) is meant for forms and would refuse a large push.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@method_decorator(csrf_exempt, name="dispatch")
class AppWebhookView(View):
    """``POST /webhooks/github/app/``: the GitHub App's events."""

    http_method_names = ["post"]
    # Set by the URL configuration: () -> GitHubAppConfig | None.
    load_config: Callable[[], GitHubAppConfig | None] | None = None

    def post(self, request: HttpRequest) -> HttpResponse:
        config = self.load_config() if self.load_config is not None else None
        if config is None:
            return JsonResponse({"error": "no GitHub App is set up here"}, status=404)
        limit = int(settings.GITHUB_APP_WEBHOOK_MAX_BYTES)
        body = _read_body(request, limit)
        if body is None:
            return JsonResponse({"error": "the body is larger than GitHub sends"}, status=413)
        secret = config.webhook_secret.reveal()
        if not signature_ok(secret, body, request.headers.get("X-Hub-Signature-256", "")):
            logger.warning("GitHub App webhook refused: the signature does not match")
            return JsonResponse({"error": "bad signature"}, status=401)
        delivery = request.headers.get("X-GitHub-Delivery", "").strip()[:100]
        event = request.headers.get("X-GitHub-Event", "").strip()[:50]
        if not delivery or not event:
            return JsonResponse(
                {"error": "missing X-GitHub-Delivery or X-GitHub-Event"}, status=400
            )
        try:
            payload = json.loads(body)
        except ValueError:
            return JsonResponse({"error": "not JSON"}, status=400)
        if not isinstance(payload, dict):
            return JsonResponse({"error": "not a JSON object"}, status=400)
        digest = hashlib.sha256(body).hexdigest()
        try:
            with transaction.atomic():
                receipt = WebhookReceipt.objects.create(
                    source=SOURCE, delivery_id=delivery, digest=digest, event=event
                )
        except IntegrityError:
            logger.info("GitHub App webhook %s (%s) already received: dropped", delivery, event)
            return JsonResponse({"status": "duplicate"})
        action = payload.get("action")
        return self._dispatch_event(
            receipt, event, action if isinstance(action, str) else "", payload, delivery
        )

    def _dispatch_event(
        self,
        receipt: WebhookReceipt,
        event: str,
        action: str,
        payload: dict[str, Any],
        delivery: str,
    ) -> HttpResponse:
        results = app_event.send_robust(
            sender=AppWebhookView, event=event, action=action, payload=payload, delivery=delivery
        )
        failed = [
            (receiver, outcome) for receiver, outcome in results if isinstance(outcome, Exception)
        ]
        if failed:
            for receiver, outcome in failed:
                logger.error(
                    "GitHub App webhook %s (%s): %s failed",
                    delivery,
                    event,
                    getattr(receiver, "__qualname__", repr(receiver)),
                    exc_info=outcome,
                )
            # Forget it, so GitHub's redelivery is acted on instead of dropped.
            receipt.delete()
            return JsonResponse({"error": "not handled; redeliver later"}, status=500)
        return JsonResponse({"status": "received", "event": event}, status=202)
