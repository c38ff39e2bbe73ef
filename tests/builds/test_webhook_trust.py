# ruff: noqa: F811 (the fixtures come from the webhook tests' module)
"""Webhooks (issue 21): a replayed signed body changes nothing, bodies up to GitHub's 25 MB
reach the webhook views (and only them), and URL tokens never reach a log line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from builds.models import Build, BuildState, WebhookDelivery
from hubcourse.redact import GunicornLogger, RedactHookTokens, redact
from tests.builds.test_webhooks import _github, _run, _sign, enqueued, hooked  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_signed_body_replayed_under_a_new_delivery_id_changes_nothing(
    client: Client, hooked: Any, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    course, enrolment, _repository = hooked
    repo = {"full_name": "ada/course"}
    running = {"workflow_run": _run("in_progress", None), "repository": repo}
    with django_capture_on_commit_callbacks(execute=True):
        assert _github(client, course, "workflow_run", running, delivery="d-1").status_code == 202
        done = {"workflow_run": _run("completed", "success"), "repository": repo}
        assert _github(client, course, "workflow_run", done, delivery="d-2").status_code == 202
        # A captured "in progress" delivery, sent again with a fresh delivery id.
        replay = _github(client, course, "workflow_run", running, delivery="d-forged")
    assert replay.status_code == 200 and replay.json() == {"status": "duplicate"}
    assert Build.objects.get(enrolment=enrolment).state == BuildState.SUCCESS
    assert not WebhookDelivery.objects.filter(delivery_id="d-forged").exists()


def test_a_signed_body_over_django_s_limit_but_under_25_mb_is_accepted(
    client: Client, hooked: Any, settings: Any
) -> None:
    course, _enrolment, _repository = hooked
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3 * 1024 * 1024
    payload = {"zen": "x", "padding": "p" * (3 * 1024 * 1024)}
    response = _github(client, course, "ping", payload, delivery="big")
    assert response.status_code == 202, response.content[:200]
    assert response.json() == {"status": "pong"}


def test_a_body_over_25_mb_is_refused_with_413(client: Client, hooked: Any) -> None:
    course, _enrolment, _repository = hooked
    body = json.dumps({"zen": "x", "padding": "p" * (25 * 1024 * 1024)}).encode()
    response = client.post(
        f"/hooks/github/{course.webhook_token}/",
        data=body,
        content_type="application/json",
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": "huge",
            "X-Hub-Signature-256": _sign(body),
        },
    )
    assert response.status_code == 413


def test_other_pages_keep_django_s_limit(client: Client, settings: Any) -> None:
    body = b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/accounts/login/", data=body, content_type="application/json")
    assert response.status_code == 400


def test_django_request_logging_never_shows_a_hook_token(
    client: Client, hooked: Any, caplog: Any
) -> None:
    course, _enrolment, _repository = hooked
    token = course.webhook_token
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.post(f"/hooks/dockerhub/{token}/", data=b"not json", content_type="text/plain")
        client.get(f"/hooks/github/{token}/")  # 405, logged by django.request
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records
    for record in records:
        RedactHookTokens().filter(record)
        assert token not in record.getMessage()
        assert "/hooks/" in record.getMessage()


def test_the_logging_settings_filter_every_console_line(settings: Any) -> None:
    handler = settings.LOGGING["handlers"]["console"]
    assert "redact_hook_tokens" in handler["filters"]
    for name in ("django.request", "django.server"):
        assert settings.LOGGING["loggers"][name]["handlers"] == ["console"]


def test_gunicorn_access_lines_are_redacted() -> None:
    secret = "s3cr3t-token-value"
    assert redact(f"POST /hooks/dockerhub/{secret}/ HTTP/1.1") == (
        "POST /hooks/dockerhub/[redacted]/ HTTP/1.1"
    )

    logger = GunicornLogger.__new__(GunicornLogger)
    atoms = {"r": f"POST /hooks/github/{secret}/ HTTP/1.1", "U": f"/hooks/github/{secret}/"}

    original = GunicornLogger.__mro__[1].atoms
    try:
        GunicornLogger.__mro__[1].atoms = lambda self, *args: dict(atoms)
        result = logger.atoms(None, None, {}, None)
    finally:
        GunicornLogger.__mro__[1].atoms = original
    assert secret not in result["r"] and secret not in result["U"]


def test_compose_runs_gunicorn_with_the_redacting_logger() -> None:
    from pathlib import Path

    import yaml

    compose = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
    commands = [" ".join(s.get("command", [])) for s in compose["services"].values()]
    assert any("--logger-class hubcourse.redact.GunicornLogger" in c for c in commands)
