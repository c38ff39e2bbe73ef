"""A stand-in for hubcourse's app webhook endpoint in tests: a loopback HTTP server that
checks each delivery's signature with the app's secret and hands (event, payload) over.

The sandbox signs and POSTs the app's events (push, workflow_run) to the app's hook URL, so the
tests exercise the real deliveries; the domain handlers then run in the test's own thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class AppHooks:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.url = ""

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            events, self.received = self.received, []
        return events


@contextmanager
def app_hooks(sandbox: Any) -> Iterator[AppHooks]:
    """Point the seeded app's hook URL at a collector for the test's duration."""
    app = sandbox.seeded["github"]["app"]
    hooks = AppHooks(str(app["webhook_secret"]))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(hooks.secret.encode(), body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))
            with hooks.lock:
                if signed:
                    hooks.received.append(
                        (self.headers.get("X-GitHub-Event", ""), json.loads(body))
                    )
                else:
                    hooks.refused += 1
            self.send_response(202 if signed else 401)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hooks.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/github/app/"
    _patch_app(sandbox, hook_url=hooks.url)
    try:
        yield hooks
    finally:
        _patch_app(sandbox, hook_url=None)
        server.shutdown()
        server.server_close()


def _patch_app(sandbox: Any, **changes: Any) -> None:
    slug = sandbox.seeded["github"]["app"]["slug"]
    response = requests.patch(
        f"{sandbox.url}/_sandbox/github/apps/{slug}", json=changes, timeout=10
    )
    assert response.status_code == 200, response.text


def install_app(sandbox: Any, account: str, repositories: list[str]) -> int:
    """Install the seeded app on ``account``'s ``repositories`` (names); the installation id."""
    slug = sandbox.seeded["github"]["app"]["slug"]
    response = requests.post(
        f"{sandbox.url}/_sandbox/github/apps/{slug}/installations",
        json={"account": account, "repositories": repositories},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text
    return int(response.json()["installation"]["id"])
