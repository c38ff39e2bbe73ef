"""Fixtures for the sandbox's own tests: one server per module, a fresh world per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.testing import RunningSandbox, start_sandbox
from sandbox.world import World

# High enough that no functional test meets it; the rate-limit tests set their own.
TEST_RATE_LIMIT = 100_000


@dataclass
class Hub:
    """A sandbox seeded ``empty`` (org ``revelare``, its owner and tokens) with request helpers."""

    url: str
    world: World
    seeded: dict[str, Any]

    @property
    def org(self) -> str:
        return str(self.seeded["dockerhub"]["org"])

    def login(self, identifier: str, secret: str) -> str:
        response = requests.post(
            f"{self.url}/v2/auth/token",
            json={"identifier": identifier, "secret": secret},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers(self, token: str, scheme: str = "Bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {token}"}

    def owner(self) -> dict[str, str]:
        hub = self.seeded["dockerhub"]
        return self.headers(self.login(hub["owner"], hub["owner_password"]))

    def org_token(self) -> dict[str, str]:
        hub = self.seeded["dockerhub"]
        return self.headers(self.login(hub["org"], hub["org_token"]))

    def create_user(self, username: str, password: str | None = None) -> dict[str, Any]:
        body = {"username": username, "password": password or f"{username}-pw"}
        response = requests.post(f"{self.url}/_sandbox/dockerhub/users", json=body, timeout=5)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def user_headers(self, username: str) -> dict[str, str]:
        return self.headers(self.login(username, f"{username}-pw"))

    def make_member(self, username: str, team: str | None = None) -> None:
        """Docker ID ``username`` invited by the owner and accepting, as a student would."""
        self.create_user(username)
        body: dict[str, Any] = {"org": self.org, "invitees": [username]}
        if team:
            body["team"] = team
        response = requests.post(
            f"{self.url}/v2/invites/bulk", json=body, headers=self.org_token(), timeout=5
        )
        assert response.status_code == 202, response.text
        accepted = requests.post(
            f"{self.url}/_sandbox/dockerhub/orgs/{self.org}/accept",
            json={"invitee": username},
            timeout=5,
        )
        assert accepted.status_code == 200, accepted.text

    def create_repo(self, name: str, headers: dict[str, str], **extra: Any) -> requests.Response:
        return requests.post(
            f"{self.url}/v2/namespaces/{self.org}/repositories",
            json={"name": name, "namespace": self.org, **extra},
            headers=headers,
            timeout=5,
        )


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[RunningSandbox]:
    running = start_sandbox(
        SandboxConfig(rate_limit=TEST_RATE_LIMIT, build_delay=0.02, random_seed=7), seed="empty"
    )
    yield running
    running.stop()


@pytest.fixture
def hub(running_sandbox: RunningSandbox) -> Hub:
    world = running_sandbox.world
    # Each test starts from the same world and the same settings.
    world.config.update(
        {
            "rate_limit": TEST_RATE_LIMIT,
            "latency_ms": 0,
            "fault_rate": 0.0,
            "timeout_rate": 0.0,
            "drop_webhook_rate": 0.0,
            "webhooks_enabled": True,
            "build_delay": 0.02,
            "unconfirmed_routes_405": False,
        }
    )
    # reset() also drops build phases still scheduled by the previous test.
    seeded = running_sandbox.reset("empty")
    return Hub(url=running_sandbox.url, world=world, seeded=seeded)
