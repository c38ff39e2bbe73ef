"""The seeded GitHub App in the sandbox, for the build-tracking tests: its events go to
hubcourse's real receiver (a live server), and it is installed on students' repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

APP_HOOK_PATH = "/webhooks/github/app/"


@contextmanager
def app_hooks_to(sandbox: Any, live_server: Any) -> Iterator[str]:
    """Point the app's hook URL at ``live_server``'s receiver for the test's duration."""
    url = f"{live_server.url}{APP_HOOK_PATH}"
    _patch_app(sandbox, hook_url=url)
    try:
        yield url
    finally:
        _patch_app(sandbox, hook_url=None)


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


def app_deliveries(sandbox: Any, event: str) -> list[str]:
    """The outcome of each of the app's deliveries of ``event``, oldest first."""
    return [
        str(d["status"])
        for d in reversed(sandbox.world.deliveries)
        if (d["service"], d["event"]) == ("github-app", event)
    ]
