"""Rate limits, injected faults and timeouts, trailing slashes, request statistics."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.conftest import Hub


def set_config(hub: Hub, **changes: object) -> None:
    response = requests.patch(f"{hub.url}/_sandbox/config", json=changes, timeout=5)
    assert response.status_code == 200, response.text


def test_every_docker_hub_response_carries_rate_limit_headers(hub: Hub) -> None:
    set_config(hub, rate_limit=50)
    headers = hub.org_token()
    first = requests.get(f"{hub.url}/v2/orgs/{hub.org}/groups", headers=headers, timeout=5)
    second = requests.get(
        f"{hub.url}/v2/orgs/{hub.org}/nosuchthing/xyz", headers=headers, timeout=5
    )
    assert first.headers["X-RateLimit-Limit"] == "50"
    assert (
        int(second.headers["X-RateLimit-Remaining"])
        == int(first.headers["X-RateLimit-Remaining"]) - 1
    )
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    assert second.status_code == 404


def test_past_the_limit_it_answers_429_with_retry_after_per_credential(hub: Hub) -> None:
    set_config(hub, rate_limit=5)
    org = hub.org_token()  # the login itself is counted against the client address
    url = f"{hub.url}/v2/orgs/{hub.org}/groups"
    statuses = [requests.get(url, headers=org, timeout=5).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = requests.get(url, headers=org, timeout=5)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json() == {"detail": "Rate limit exceeded", "error": False}
    # Another credential has its own budget.
    owner = hub.owner()
    assert requests.get(url, headers=owner, timeout=5).status_code == 200
    assert hub.world.stats["rate_limited"]["dockerhub"] == 3


def test_the_limit_window_resets_after_a_minute(hub: Hub) -> None:
    set_config(hub, rate_limit=2)
    org = hub.org_token()
    url = f"{hub.url}/v2/orgs/{hub.org}/groups"
    assert [requests.get(url, headers=org, timeout=5).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    requests.post(f"{hub.url}/_sandbox/clock", json={"advance_seconds": 61}, timeout=5)
    # The token expires after 10 minutes; a minute later it is still good.
    assert requests.get(url, headers=org, timeout=5).status_code == 200


def test_the_control_api_is_never_rate_limited_or_faulted(hub: Hub) -> None:
    set_config(hub, rate_limit=1, fault_rate=1.0)
    for _ in range(5):
        assert requests.get(f"{hub.url}/_sandbox/stats", timeout=5).status_code == 200


def test_a_fault_rate_of_one_answers_5xx_in_the_service_shape(hub: Hub) -> None:
    set_config(hub, fault_rate=1.0)
    response = requests.get(f"{hub.url}/v2/users/{hub.seeded['dockerhub']['owner']}", timeout=5)
    assert response.status_code in (500, 502, 503)
    assert "detail" in response.json()
    assert hub.world.stats["faults"]["errors"] >= 1


def test_a_share_of_requests_fails_when_the_fault_rate_is_partial(hub: Hub) -> None:
    set_config(hub, fault_rate=0.5)
    url = f"{hub.url}/v2/users/{hub.seeded['dockerhub']['owner']}"
    statuses = [requests.get(url, timeout=5).status_code for _ in range(60)]
    failures = sum(1 for s in statuses if s >= 500)
    assert 0 < failures < 60
    assert set(statuses) <= {200, 500, 502, 503}


def test_a_timeout_fault_stalls_past_the_client_read_timeout(hub: Hub) -> None:
    set_config(hub, timeout_rate=1.0, timeout_s=1.0)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{hub.url}/v2/users/{hub.seeded['dockerhub']['owner']}", timeout=(2, 0.2))
    assert hub.world.stats["faults"]["timeouts"] == 1


def test_routes_answer_with_and_without_a_trailing_slash(hub: Hub) -> None:
    headers = hub.org_token()
    for path in (
        f"/v2/orgs/{hub.org}/groups",
        f"/v2/orgs/{hub.org}/groups/",
        f"/v2/orgs/{hub.org}/members/",
    ):
        assert requests.get(hub.url + path, headers=headers, timeout=5).status_code == 200, path


def test_unknown_routes_are_404_in_the_service_shape(hub: Hub) -> None:
    response = requests.get(f"{hub.url}/v2/no/such/route", timeout=5)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_stats_count_requests_per_route_and_status(hub: Hub) -> None:
    hub.create_user("counted")
    requests.get(f"{hub.url}/v2/users/counted", timeout=5)
    requests.get(f"{hub.url}/v2/users/nocounted", timeout=5)
    stats = requests.get(f"{hub.url}/_sandbox/stats", timeout=5).json()
    route = stats["requests"]["dockerhub"]["GET /v2/users/<username>"]
    assert route == {"200": 1, "404": 1}
    assert stats["objects_created"]["dockerhub.user"] >= 2


def test_config_changes_are_validated(hub: Hub) -> None:
    bad = requests.patch(f"{hub.url}/_sandbox/config", json={"fault_rate": 2}, timeout=5)
    assert bad.status_code == 400
    unknown = requests.patch(f"{hub.url}/_sandbox/config", json={"port": 1}, timeout=5)
    assert unknown.status_code == 400
