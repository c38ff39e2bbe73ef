"""The GitHub App's webhook receiver: signed events in, one signal out, replays dropped."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client

from hubcourse.models import WebhookReceipt
from integrations.github.webhooks import app_event
from tests.sandbox.app_support import control, install
from tests.sandbox.github_support import GitHub

URL = "/webhooks/github/app/"
SECRET = "app-webhook-secret"


@pytest.fixture
def app_settings(settings: Any, db: Any) -> Any:
    settings.GITHUB_APP_ID = 42
    settings.GITHUB_APP_SLUG = "hubcourse-test"
    settings.GITHUB_APP_PRIVATE_KEY = "a key the receiver never uses"
    settings.GITHUB_APP_WEBHOOK_SECRET = SECRET
    return settings


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def handler(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    app_event.connect(handler, dispatch_uid="test-received")
    yield seen
    app_event.disconnect(dispatch_uid="test-received")


def _post(
    client: Client,
    payload: dict[str, Any],
    *,
    event: str = "push",
    delivery: str | None = None,
    secret: str = SECRET,
) -> Any:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        },
    )


def _push(after: str = "a" * 40) -> dict[str, Any]:
    return {"ref": "refs/heads/main", "after": after, "repository": {"full_name": "sam/course"}}


def test_a_correctly_signed_event_is_accepted_and_signalled_once(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    answer = _post(
        Client(),
        {"action": "created", "installation": {"id": 7}},
        event="installation",
        delivery="d-1",
    )
    assert answer.status_code == 202
    [one] = received
    assert one["event"] == "installation"
    assert one["action"] == "created"
    assert one["payload"]["installation"]["id"] == 7
    assert one["delivery"] == "d-1"


def test_a_bad_signature_is_refused_and_nothing_is_signalled(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    answer = _post(Client(), _push(), secret="not-the-app-secret")
    assert answer.status_code == 401
    unsigned = Client().post(
        URL,
        data=b"{}",
        content_type="application/json",
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"},
    )
    assert unsigned.status_code == 401
    assert received == []
    assert not WebhookReceipt.objects.exists()


def test_a_replayed_delivery_changes_nothing(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    client = Client()
    assert _post(client, _push(), delivery="d-2").status_code == 202
    # GitHub's redelivery: same id.
    again = _post(client, _push(), delivery="d-2")
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    # A captured body re-posted under a new delivery id is the same event.
    assert _post(client, _push(), delivery="d-3").json() == {"status": "duplicate"}
    assert len(received) == 1
    assert WebhookReceipt.objects.count() == 1
    # A new push is a new event.
    assert _post(client, _push("b" * 40), delivery="d-4").status_code == 202
    assert len(received) == 2


def test_a_three_megabyte_event_is_accepted(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    payload = {**_push(), "commits": [{"message": "x" * 1024} for _ in range(3 * 1024)]}
    answer = _post(Client(), payload)
    assert answer.status_code == 202
    assert len(received[0]["payload"]["commits"]) == 3 * 1024


def test_a_body_over_the_ceiling_is_refused_unread(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    app_settings.GITHUB_APP_WEBHOOK_MAX_BYTES = 2048
    answer = _post(Client(), {**_push(), "padding": "x" * 4096})
    assert answer.status_code == 413
    assert received == []


def test_a_failing_handler_leaves_the_delivery_to_be_redelivered(
    app_settings: Any, received: list[dict[str, Any]]
) -> None:
    calls: list[str] = []

    def broken(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs["delivery"])
        if len(calls) == 1:
            raise RuntimeError("database went away")

    app_event.connect(broken, dispatch_uid="test-broken")
    try:
        client = Client()
        assert _post(client, _push(), delivery="d-5").status_code == 500
        assert not WebhookReceipt.objects.exists()
        assert _post(client, _push(), delivery="d-5").status_code == 202
    finally:
        app_event.disconnect(dispatch_uid="test-broken")
    assert calls == ["d-5", "d-5"]


def test_without_an_app_the_receiver_says_so(settings: Any, db: Any) -> None:
    settings.GITHUB_APP_ID = 0
    answer = _post(Client(), _push())
    assert answer.status_code == 404
    assert "no GitHub App" in answer.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_delivers_installation_events_that_the_receiver_accepts(
    sandbox: Any, live_server: Any, received: list[dict[str, Any]]
) -> None:
    """Over HTTP: the sandbox signs with the app's secret, the receiver checks it."""
    gh = GitHub(sandbox.url)
    app = sandbox.seeded["github"]["app"]
    control(gh, "PATCH", f"/apps/{app['slug']}", hook_url=f"{live_server.url}{URL}")
    gh.create_user("sam-student")
    gh.create_repo("sam-student", "course", {"README.md": "hi\n"}, private=True)
    installation_id = install(gh, app, "sam-student", ["course"])
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    [event] = received
    assert (event["event"], event["action"]) == ("installation", "created")
    assert event["payload"]["installation"]["id"] == installation_id
    receipt = WebhookReceipt.objects.get()
    assert receipt.event == "installation"
    assert requests.get(f"{live_server.url}{URL}", timeout=5).status_code == 405


def test_receipts_older_than_a_week_are_pruned(db: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from hubcourse.tasks import prune_webhook_receipts

    old = WebhookReceipt.objects.create(
        source="github-app", delivery_id="old", digest="a" * 64, event="push"
    )
    WebhookReceipt.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - dt.timedelta(days=8)
    )
    WebhookReceipt.objects.create(
        source="github-app", delivery_id="new", digest="b" * 64, event="push"
    )
    assert prune_webhook_receipts() == 1
    assert list(WebhookReceipt.objects.values_list("delivery_id", flat=True)) == ["new"]
