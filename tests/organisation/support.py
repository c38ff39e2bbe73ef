"""Helpers for the organisation tests: people in the sandbox and counts of what it received."""

from __future__ import annotations

from typing import Any

from sandbox import dockerhub as hub_state
from tests.engine.support import accept_all_invites, created, requests_to

__all__ = [
    "accept_all_invites",
    "bulk_calls",
    "created",
    "make_docker_ids",
    "make_team",
    "parse_text",
]


def make_docker_ids(sandbox: Any, count: int, prefix: str = "learner") -> list[str]:
    """``count`` Docker IDs that exist in the sandbox."""
    names = [f"{prefix}{i:04d}" for i in range(count)]
    for name in names:
        hub_state.create_user(sandbox.world, name, f"{name}-password", f"{name}@example.edu")
    return names


def make_team(sandbox: Any, name: str = "students") -> None:
    from integrations.dockerhub.client import DockerHubClient

    DockerHubClient.from_settings().create_team(sandbox.seeded["dockerhub"]["org"], name)


def bulk_calls(sandbox: Any) -> int:
    """POST /v2/invites/bulk requests the sandbox has answered (its own statistics)."""
    return requests_to(sandbox, "POST", "/v2/invites/bulk")


def parse_text(text: str) -> list[Any]:
    """Bulk add's parser on a list written one entry per word, as these tests write them
    (a paste takes one entry per line: spaces never split an entry)."""
    from accounts.roster_parsing import parse_invitees

    return parse_invitees("\n".join(text.split()), as_csv=False)
