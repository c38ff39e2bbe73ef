"""The request journal: what the simulated services received, bounded, without credentials."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.world import RECENT_REQUESTS
from tests.sandbox.conftest import Hub


def journal(hub: Hub, **filters: str) -> list[dict[str, Any]]:
    response = requests.get(f"{hub.url}/_sandbox/requests", params=filters, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["requests"])
    return list(body["requests"])


def test_it_keeps_method_path_query_json_body_and_status_of_each_service(hub: Hub) -> None:
    headers = hub.org_token()
    created = hub.create_repo("ada", headers, is_private=True)
    listed = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories",
        params={"page_size": 5},
        headers=headers,
        timeout=5,
    )
    github_token = hub.seeded["github"]["instructor"]["token"]
    requests.get(
        f"{hub.url}/api/v3/user", headers={"Authorization": f"token {github_token}"}, timeout=5
    )

    seen = journal(hub)

    assert created.status_code == 201 and listed.status_code == 200
    assert [(r["service"], r["method"], r["path"], r["status"]) for r in seen] == [
        ("dockerhub", "POST", "/v2/auth/token", 200),
        ("dockerhub", "POST", f"/v2/namespaces/{hub.org}/repositories", 201),
        ("dockerhub", "GET", f"/v2/namespaces/{hub.org}/repositories", 200),
        ("github", "GET", "/api/v3/user", 200),
    ]
    assert seen[1]["body"] == {"name": "ada", "namespace": hub.org, "is_private": True}
    assert seen[2]["query"] == "page_size=5" and seen[2]["body"] is None
    assert [r["seq"] for r in seen] == sorted(r["seq"] for r in seen)


def test_it_never_keeps_an_authorization_header(hub: Hub) -> None:
    hub.owner()
    github_token = hub.seeded["github"]["instructor"]["token"]
    requests.get(
        f"{hub.url}/api/v3/user", headers={"Authorization": f"Bearer {github_token}"}, timeout=5
    )

    text = requests.get(f"{hub.url}/_sandbox/requests", timeout=5).text

    assert "/api/v3/user" in text
    assert github_token not in text
    assert "Authorization" not in text and "Bearer" not in text


def test_form_bodies_and_refused_requests_are_kept_too(hub: Hub) -> None:
    refused = requests.post(
        f"{hub.url}/login/oauth/access_token",
        data={"client_id": "nobody", "code": "abc"},
        timeout=5,
    )

    (entry,) = journal(hub, path_contains="/login/oauth")

    assert entry["body"] == {"client_id": "nobody", "code": "abc"}
    assert entry["status"] == refused.status_code


def test_it_filters_by_service_method_and_path(hub: Hub) -> None:
    headers = hub.org_token()
    hub.create_repo("ada", headers)
    requests.get(f"{hub.url}/v2/repositories/{hub.org}/ada", headers=headers, timeout=5)
    requests.get(f"{hub.url}/api/v3/repos/nobody/nothing", timeout=5)

    posts = journal(hub, service="dockerhub", method="post", path_contains="/repositories")
    github = journal(hub, service="github")
    ada = journal(hub, path_contains="/ada")

    assert [r["path"] for r in posts] == [f"/v2/namespaces/{hub.org}/repositories"]
    assert [(r["path"], r["status"]) for r in github] == [("/api/v3/repos/nobody/nothing", 404)]
    assert [(r["method"], r["path"]) for r in ada] == [("GET", f"/v2/repositories/{hub.org}/ada")]


def test_control_requests_are_not_journaled_and_reset_clears_it(hub: Hub) -> None:
    hub.org_token()
    requests.get(f"{hub.url}/_sandbox/stats", timeout=5)
    before = journal(hub)

    requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "empty"}, timeout=5)

    assert [r["path"] for r in before] == ["/v2/auth/token"]
    assert journal(hub) == []


def test_it_holds_the_most_recent_requests_only(hub: Hub) -> None:
    world = hub.world
    for number in range(RECENT_REQUESTS + 3):
        world.journal_request("github", "GET", f"/n/{number}", "", None, 200)

    kept = journal(hub, service="github")

    assert len(kept) == RECENT_REQUESTS
    assert kept[0]["path"] == "/n/3"
    assert kept[-1]["path"] == f"/n/{RECENT_REQUESTS + 2}"
