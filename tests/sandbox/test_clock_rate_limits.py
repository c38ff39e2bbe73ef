"""The sandbox clock moves expiry forward, never a rate limit's reset past real time."""

from __future__ import annotations

import time

import requests

from tests.sandbox.conftest import Hub

TWO_WEEKS = 14 * 24 * 3600


def advance(hub: Hub, seconds: float) -> None:
    moved = requests.post(f"{hub.url}/_sandbox/clock", json={"advance_seconds": seconds}, timeout=5)
    assert moved.status_code == 200, moved.text


def set_rate_limit(hub: Hub, **limits: int) -> None:
    response = requests.patch(f"{hub.url}/_sandbox/config", json=limits, timeout=5)
    assert response.status_code == 200, response.text


def test_docker_hubs_rate_limit_reset_stays_within_a_real_minute_after_the_clock_moves(
    hub: Hub,
) -> None:
    set_rate_limit(hub, rate_limit=50)
    org = hub.org_token()
    advance(hub, TWO_WEEKS)
    fresh = hub.org_token()  # the old token expired on the sandbox clock

    asked_at = time.time()
    response = requests.get(f"{hub.url}/v2/orgs/{hub.org}/groups", headers=fresh, timeout=5)

    assert response.status_code == 200
    assert org != fresh
    # A unix time a client compares with its own clock: at most one window ahead of it.
    assert int(response.headers["X-RateLimit-Reset"]) <= asked_at + 61


def test_a_429_after_the_clock_moved_asks_for_a_real_wait(hub: Hub) -> None:
    set_rate_limit(hub, rate_limit=2)
    advance(hub, TWO_WEEKS)
    org = hub.org_token()
    url = f"{hub.url}/v2/orgs/{hub.org}/groups"

    asked_at = time.time()
    statuses = [requests.get(url, headers=org, timeout=5) for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert int(limited.headers["X-RateLimit-Reset"]) <= asked_at + 61


def test_time_moved_on_the_sandbox_clock_still_passes_for_a_rate_window(hub: Hub) -> None:
    set_rate_limit(hub, rate_limit=1)
    org = hub.org_token()
    url = f"{hub.url}/v2/orgs/{hub.org}/groups"
    assert [requests.get(url, headers=org, timeout=5).status_code for _ in range(2)] == [200, 429]

    advance(hub, 30)
    half_way = requests.get(url, headers=org, timeout=5)
    advance(hub, 31)
    next_window = requests.get(url, headers=org, timeout=5)

    assert half_way.status_code == 429
    assert int(half_way.headers["Retry-After"]) <= 31
    assert next_window.status_code == 200


def test_githubs_rate_limit_reset_stays_within_a_real_hour_after_the_clock_moves(
    hub: Hub,
) -> None:
    token = hub.seeded["github"]["instructor"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    requests.get(f"{hub.url}/api/v3/user", headers=headers, timeout=5)
    advance(hub, TWO_WEEKS)

    asked_at = time.time()
    response = requests.get(f"{hub.url}/api/v3/user", headers=headers, timeout=5)
    limits = requests.get(f"{hub.url}/api/v3/rate_limit", headers=headers, timeout=5).json()

    assert response.status_code == 200
    reset = int(response.headers["X-RateLimit-Reset"])
    # The window began before the clock moved: the two weeks ended it, a new one began now.
    assert asked_at <= reset <= asked_at + 3601
    assert limits["rate"]["reset"] == reset
    assert limits["rate"]["used"] == 1
