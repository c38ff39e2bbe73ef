"""Runtime settings of one sandbox process; the control API changes them while it runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

SEEDS = ("none", "empty", "demo", "demo-unkind")


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    # The absolute base URL clients see (pagination links, webhook callback URLs).
    # None means "the host the request came in on".
    public_url: str | None = None
    latency_ms: int = 0
    # Docker Hub: requests per minute per credential (observed on the real service: 180).
    # 0 switches the limit off.
    rate_limit: int = 180
    # GitHub primary limit: requests per hour per token.
    github_rate_limit: int = 5000
    # GitHub primary limit of each app installation (and of an app's JWT): requests per hour.
    # An installation's own ``rate_limit`` (control API) overrides it.
    github_installation_rate_limit: int = 5000
    # GitHub primary limit of anonymous calls: requests per hour per client address.
    github_anonymous_rate_limit: int = 60
    # Share (0..1) of non-control requests answered with a 5xx.
    fault_rate: float = 0.0
    # Share (0..1) of non-control requests that stall for ``timeout_s`` before answering,
    # which a client with a shorter read timeout sees as a timeout.
    timeout_rate: float = 0.0
    timeout_s: float = 15.0
    drop_webhook_rate: float = 0.0
    webhooks_enabled: bool = True
    # Seconds each build phase takes (Pending -> In progress -> done).
    build_delay: float = 2.0
    # Seconds after which an invited student (with a Docker ID) accepts by themselves, so a
    # demo class onboards without clicking; 0 means invites wait, as on Docker Hub.
    auto_accept_invites: float = 0.0
    # Answer 405 on the two routes nobody has seen on the real service (the list of a
    # repository's team permissions, DELETE of an automated build's source; notes §6, §11.1),
    # so hubcourse's fallbacks can be exercised.
    unconfirmed_routes_405: bool = False
    # Invitations beyond an organisation's seats: refused per invitee in the 202 answer
    # (False), or the whole request answered 403 naming the seats (True). Both UNCONFIRMED
    # (tests/fidelity/STATUSES.md); the second lets hubcourse's handling of it be exercised.
    seat_refusal_whole_request: bool = False
    data_file: str | None = None
    seed: str = "demo"
    # Seed of the random generator used for faults and dropped webhooks (None: unpredictable).
    random_seed: int | None = None

    # Fields the control API may change at runtime, with the type each must have.
    RUNTIME_FIELDS: ClassVar[dict[str, type]] = {
        "latency_ms": int,
        "rate_limit": int,
        "github_rate_limit": int,
        "github_installation_rate_limit": int,
        "github_anonymous_rate_limit": int,
        "fault_rate": float,
        "timeout_rate": float,
        "timeout_s": float,
        "drop_webhook_rate": float,
        "webhooks_enabled": bool,
        "build_delay": float,
        "auto_accept_invites": float,
        "unconfirmed_routes_405": bool,
        "seat_refusal_whole_request": bool,
    }

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, changes: dict[str, Any]) -> dict[str, str]:
        """Apply runtime changes; return ``{field: error}`` for the ones refused (nothing applied then)."""
        errors: dict[str, str] = {}
        parsed: dict[str, Any] = {}
        for name, value in changes.items():
            kind = self.RUNTIME_FIELDS.get(name)
            if kind is None:
                errors[name] = "not a runtime setting"
                continue
            if kind is bool:
                if not isinstance(value, bool):
                    errors[name] = "must be a boolean"
                    continue
                parsed[name] = value
                continue
            # bool is an int subclass; refuse it for numeric fields.
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[name] = "must be a number"
                continue
            number = kind(value)
            if number < 0:
                errors[name] = "must not be negative"
            elif name.endswith("_rate") and number > 1:
                errors[name] = "must be between 0 and 1"
            else:
                parsed[name] = number
        if not errors:
            for name, value in parsed.items():
                setattr(self, name, value)
        return errors
