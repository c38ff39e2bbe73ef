"""GitHub's primary rate-limit headers and 403s, and the forced secondary-limit answers."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    hub.world.config.update({"github_rate_limit": 5000})
    return GitHub(hub.url)


@pytest.fixture
def alice(gh: GitHub) -> dict[str, Any]:
    return gh.create_user("alice")


def test_every_api_answer_carries_the_rate_limit_headers(gh: GitHub, alice: dict[str, Any]) -> None:
    first = gh.api("GET", "/user", alice["token"])
    second = gh.api("GET", "/user", alice["token"])
    assert first.headers["X-RateLimit-Limit"] == "5000"
    assert (
        int(first.headers["X-RateLimit-Remaining"])
        == int(second.headers["X-RateLimit-Remaining"]) + 1
    )
    assert second.headers["X-RateLimit-Used"] == str(int(first.headers["X-RateLimit-Used"]) + 1)
    assert second.headers["X-RateLimit-Resource"] == "core"
    assert int(first.headers["X-RateLimit-Reset"]) > 0


def test_unauthenticated_callers_get_60_per_hour_per_address(gh: GitHub) -> None:
    response = gh.api("GET", "/users/nobody")
    assert response.headers["X-RateLimit-Limit"] == "60"


def test_past_the_limit_the_answer_is_403_with_remaining_zero(
    gh: GitHub, hub: Hub, alice: dict[str, Any]
) -> None:
    hub.world.config.update({"github_rate_limit": 3})
    statuses = [gh.api("GET", "/user", alice["token"]).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = gh.api("GET", "/user", alice["token"])
    assert refused.status_code == 403
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json()["message"].startswith("API rate limit exceeded for user ID")
    # /rate_limit itself is free, as on GitHub.
    status = gh.api("GET", "/rate_limit", alice["token"])
    assert status.status_code == 200
    assert status.json()["resources"]["core"]["remaining"] == 0
    assert hub.world.stats["rate_limited"]["github"] >= 1


@pytest.mark.parametrize("status", [403, 429])
def test_a_forced_secondary_limit_answers_with_retry_after(
    gh: GitHub, alice: dict[str, Any], status: int
) -> None:
    forced = requests.post(
        f"{gh.url}/_sandbox/github/secondary-limit",
        json={"count": 2, "status": status, "retry_after": 30},
        timeout=5,
    )
    assert forced.status_code == 200
    answers = [gh.api("GET", "/user", alice["token"]) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].headers["Retry-After"] == "30"
    assert "secondary rate limit" in answers[0].json()["message"]


def test_the_secondary_limit_control_validates_its_input(gh: GitHub) -> None:
    bad = requests.post(
        f"{gh.url}/_sandbox/github/secondary-limit", json={"status": 500}, timeout=5
    )
    assert bad.status_code == 400


def test_oauth_pages_are_not_api_requests(gh: GitHub) -> None:
    page = requests.get(
        f"{gh.url}/login/oauth/authorize",
        params={"client_id": "x", "redirect_uri": "http://127.0.0.1:9/"},
        timeout=5,
    )
    assert page.status_code == 200
    assert "X-RateLimit-Limit" not in page.headers
