"""A sandbox per test for the Docker Hub client tests, with a journal of what it received."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubcourse import http
from hubcourse.governor import Governor, SQLiteStore
from integrations.dockerhub import client as dockerhub
from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, start_sandbox


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class Journal:
    """WSGI middleware: every request the sandbox received, body included."""

    app: Callable[..., Iterable[bytes]]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        with self.lock:
            self.received.append(
                Received(
                    environ["REQUEST_METHOD"],
                    environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""),
                    headers,
                    body,
                )
            )
        return self.app(environ, start_response)

    def calls(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]


@dataclass
class Hub:
    sandbox: RunningSandbox
    journal: Journal
    governor: Governor
    tmp_path: Path

    @property
    def seeded(self) -> dict[str, Any]:
        return self.sandbox.seeded

    @property
    def world(self) -> Any:
        return self.sandbox.world

    def org_client(self, **kwargs: Any) -> dockerhub.DockerHubClient:
        """The organisation access token, as a course is configured."""
        seed = self.seeded["dockerhub"]
        return self.client(seed["org"], seed["org_token"], **kwargs)

    def owner_client(self, **kwargs: Any) -> dockerhub.DockerHubClient:
        """The owner's personal access token (automated builds need a user)."""
        seed = self.seeded["dockerhub"]
        return self.client(seed["owner"], seed["owner_token"], **kwargs)

    def client(self, identifier: str, secret: str, **kwargs: Any) -> dockerhub.DockerHubClient:
        kwargs.setdefault("governor", self.governor)
        return dockerhub.DockerHubClient(self.sandbox.url, identifier, secret, **kwargs)

    def requests_to(self, method: str, rule: str) -> dict[str, int]:
        """The sandbox's own statistics: status -> count for one route."""
        routes = self.world.stats["requests"].get("dockerhub", {})
        return dict(routes.get(f"{method} {rule}", {}))

    def rate_limited(self) -> int:
        return int(self.world.stats["rate_limited"].get("dockerhub", 0))


def make_governor(tmp_path: Path, **kwargs: Any) -> Governor:
    kwargs.setdefault("default_limit", 180)
    kwargs.setdefault("window", 60.0)
    kwargs.setdefault("burst", 5)
    return Governor("Docker Hub", store=SQLiteStore(tmp_path / "governor.sqlite3"), **kwargs)


@pytest.fixture(name="hub")
def hub_fixture(tmp_path: Path, settings: Any) -> Iterator[Hub]:
    # The rate limit is off here (pacing would only slow these tests down); the rate-limit
    # tests switch it on and use a governor with Docker Hub's real defaults.
    running = start_sandbox(
        SandboxConfig(build_delay=0.05, random_seed=7, rate_limit=0), seed="demo"
    )
    journal = Journal(running.server.app)
    running.server.app = journal
    settings.DOCKERHUB_API_URL = running.url
    dockerhub.clear_token_cache()
    try:
        governor = make_governor(tmp_path, default_limit=100_000, burst=100)
        yield Hub(running, journal, governor, tmp_path)
    finally:
        running.stop()
        http.close_session()
        dockerhub.clear_token_cache()
