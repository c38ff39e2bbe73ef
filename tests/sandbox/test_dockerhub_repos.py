"""Docker Hub repositories, team permissions, tags, audit logs and repository webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.dockerhub import push_tag
from tests.sandbox.conftest import Hub


class Receiver:
    """A loopback HTTP server that records the webhook bodies it receives."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_it_creates_and_reads_a_repository(hub: Hub) -> None:
    created = hub.create_repo(
        "ada-docker", hub.org_token(), description="Ada's image", is_private=True
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["namespace"], body["name"], body["is_private"]) == (hub.org, "ada-docker", True)
    for path in (
        f"/v2/namespaces/{hub.org}/repositories/ada-docker",
        f"/v2/repositories/{hub.org}/ada-docker/",
    ):
        got = requests.get(hub.url + path, headers=hub.org_token(), timeout=5)
        assert got.status_code == 200 and got.json()["description"] == "Ada's image"
    head = requests.head(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/ada-docker",
        headers=hub.org_token(),
        timeout=5,
    )
    assert head.status_code == 200


def test_a_private_repository_is_invisible_to_outsiders(hub: Hub) -> None:
    hub.create_repo("secret-one", hub.org_token(), is_private=True)
    url = f"{hub.url}/v2/namespaces/{hub.org}/repositories/secret-one"
    assert requests.get(url, timeout=5).status_code == 404
    hub.create_repo("public-one", hub.org_token())
    assert (
        requests.get(
            f"{hub.url}/v2/namespaces/{hub.org}/repositories/public-one", timeout=5
        ).status_code
        == 200
    )
    listed = requests.get(f"{hub.url}/v2/namespaces/{hub.org}/repositories", timeout=5).json()
    assert [r["name"] for r in listed["results"]] == ["public-one"]


@pytest.mark.parametrize("name", ["A", "Upper", "-dash", "dash-", "a..b", "x" * 256, "with space"])
def test_a_bad_repository_name_is_a_400(hub: Hub, name: str) -> None:
    response = hub.create_repo(name, hub.org_token())
    assert response.status_code == 400
    assert "message" in response.json()


def test_duplicates_unknown_namespaces_and_strangers_get_real_errors(hub: Hub) -> None:
    assert hub.create_repo("twice", hub.org_token()).status_code == 201
    assert hub.create_repo("twice", hub.org_token()).status_code == 400
    unknown = requests.post(
        f"{hub.url}/v2/namespaces/nosuchorg/repositories",
        json={"name": "x1", "namespace": "nosuchorg"},
        headers=hub.org_token(),
        timeout=5,
    )
    assert unknown.status_code == 404
    hub.make_member("plainstudent")
    forbidden = hub.create_repo("mine", hub.user_headers("plainstudent"))
    assert forbidden.status_code == 403
    missing = requests.post(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories",
        json={"name": "nons"},
        headers=hub.org_token(),
        timeout=5,
    )
    assert missing.status_code == 400
    assert (
        requests.post(
            f"{hub.url}/v2/namespaces/{hub.org}/repositories",
            json={"name": "a1", "namespace": hub.org},
            timeout=5,
        ).status_code
        == 401
    )


def test_the_deprecated_create_forms_work(hub: Hub) -> None:
    first = requests.post(
        f"{hub.url}/v2/repositories/",
        json={"name": "legacy-one", "namespace": hub.org},
        headers=hub.org_token(),
        timeout=5,
    )
    second = requests.post(
        f"{hub.url}/v2/repositories/{hub.org}/",
        json={"name": "legacy-two"},
        headers=hub.org_token(),
        timeout=5,
    )
    assert (first.status_code, second.status_code) == (201, 201)
    listed = requests.get(
        f"{hub.url}/v2/repositories/{hub.org}/", headers=hub.org_token(), timeout=5
    ).json()
    assert sorted(r["name"] for r in listed["results"]) == ["legacy-one", "legacy-two"]


def test_list_pagination_ordering_and_limits(hub: Hub) -> None:
    for index in range(5):
        hub.create_repo(f"student-{index}", hub.org_token())
    url = f"{hub.url}/v2/namespaces/{hub.org}/repositories"
    page = requests.get(
        url, params={"page_size": "2", "ordering": "name"}, headers=hub.org_token(), timeout=5
    ).json()
    assert page["count"] == 5
    assert [r["name"] for r in page["results"]] == ["student-0", "student-1"]
    next_link = urlsplit(page["next"])
    assert f"{next_link.scheme}://{next_link.netloc}{next_link.path}" == url
    assert parse_qs(next_link.query) == {"page": ["2"], "page_size": ["2"], "ordering": ["name"]}
    last = requests.get(
        url, params={"page_size": 2, "page": 3}, headers=hub.org_token(), timeout=5
    ).json()
    assert last["next"] is None and last["previous"] is not None and len(last["results"]) == 1
    assert (
        requests.get(
            url, params={"page": 4, "page_size": 2}, headers=hub.org_token(), timeout=5
        ).status_code
        == 404
    )
    too_big = requests.get(url, params={"page_size": 101}, headers=hub.org_token(), timeout=5)
    assert too_big.status_code == 400
    bad_order = requests.get(url, params={"ordering": "stars"}, headers=hub.org_token(), timeout=5)
    assert bad_order.status_code == 400
    assert bad_order.json()["text"] == "Invalid ordering value"
    named = requests.get(url, params={"name": "nt-3"}, headers=hub.org_token(), timeout=5).json()
    assert [r["name"] for r in named["results"]] == ["student-3"]


def test_privacy_update_and_delete(hub: Hub) -> None:
    hub.create_repo("toggle", hub.org_token())
    base = f"{hub.url}/v2/repositories/{hub.org}/toggle"
    private = requests.post(
        f"{base}/privacy/", json={"is_private": True}, headers=hub.org_token(), timeout=5
    )
    assert private.status_code == 200 and private.json()["is_private"] is True
    bad = requests.post(
        f"{base}/privacy", json={"is_private": "yes"}, headers=hub.org_token(), timeout=5
    )
    assert bad.status_code == 400
    patched = requests.patch(
        base, json={"description": "d" * 101}, headers=hub.org_token(), timeout=5
    )
    assert patched.status_code == 400
    patched = requests.patch(
        base, json={"full_description": "# Read me"}, headers=hub.org_token(), timeout=5
    )
    assert patched.json()["full_description"] == "# Read me"
    assert requests.delete(f"{base}/", headers=hub.org_token(), timeout=5).status_code == 202
    assert requests.get(base, headers=hub.org_token(), timeout=5).status_code == 404


def test_team_permissions_grant_a_member_access(hub: Hub) -> None:
    team = requests.post(
        f"{hub.url}/v2/orgs/{hub.org}/groups",
        json={"name": "students"},
        headers=hub.org_token(),
        timeout=5,
    ).json()
    hub.make_member("grantee", team="students")
    hub.create_repo("grantee-docker", hub.org_token(), is_private=True)
    repo_url = f"{hub.url}/v2/namespaces/{hub.org}/repositories/grantee-docker"
    assert requests.get(repo_url, headers=hub.user_headers("grantee"), timeout=5).status_code == 404
    base = f"{hub.url}/v2/repositories/{hub.org}/grantee-docker/groups"
    granted = requests.post(
        base + "/",
        json={"group_id": team["id"], "permission": "write"},
        headers=hub.org_token(),
        timeout=5,
    )
    assert granted.status_code == 200
    assert granted.json() == {
        "group_name": "students",
        "permission": "write",
        "group_id": team["id"],
    }
    seen = requests.get(repo_url, headers=hub.user_headers("grantee"), timeout=5).json()
    assert seen["permissions"] == {"read": True, "write": True, "admin": False}
    one = f"{base}/{team['id']}/"
    assert requests.get(one, headers=hub.org_token(), timeout=5).json()["permission"] == "write"
    patched = requests.patch(one, json={"permission": "read"}, headers=hub.org_token(), timeout=5)
    assert patched.json()["permission"] == "read"
    listed = requests.get(base, headers=hub.org_token(), timeout=5).json()
    assert [p["group_id"] for p in listed["results"]] == [team["id"]]
    by_team = requests.get(
        f"{hub.url}/v2/orgs/{hub.org}/groups/students/repositories/",
        headers=hub.org_token(),
        timeout=5,
    ).json()
    assert by_team == [
        {
            "repository": f"{hub.org}/grantee-docker",
            "repository_type": "image",
            "permission": "read",
        }
    ]
    assert requests.delete(one, headers=hub.org_token(), timeout=5).status_code == 204
    assert requests.get(one, headers=hub.org_token(), timeout=5).status_code == 404
    unknown = requests.post(
        base, json={"group_id": 999999, "permission": "read"}, headers=hub.org_token(), timeout=5
    )
    assert unknown.status_code == 404
    bad = requests.post(
        base,
        json={"group_id": team["id"], "permission": "owner"},
        headers=hub.org_token(),
        timeout=5,
    )
    assert bad.status_code == 400


def test_a_push_updates_tags_the_audit_log_and_fires_the_webhook(
    hub: Hub, receiver: Receiver
) -> None:
    hub.create_repo("pushed", hub.org_token())
    hook = requests.post(
        f"{hub.url}/v2/repositories/{hub.org}/pushed/webhook_pipeline/",
        json={
            "name": "hubcourse",
            "expect_final_callback": False,
            "webhooks": [{"name": "hubcourse", "hook_url": receiver.url}],
            "registry": "registry-1.docker.io",
        },
        headers=hub.org_token(),
        timeout=5,
    )
    assert hook.status_code == 201
    assert hook.json()["slug"] == "hubcourse"
    digest = push_tag(hub.world, hub.org, "pushed", "latest", "trustedbuilder")
    assert receiver.arrived.wait(5)
    payload = receiver.bodies[0]
    assert (
        payload["push_data"]["tag"] == "latest"
        and payload["push_data"]["pusher"] == "trustedbuilder"
    )
    assert payload["repository"]["repo_name"] == f"{hub.org}/pushed"
    assert payload["callback_url"].startswith("http")

    tags = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/pushed/tags",
        headers=hub.org_token(),
        timeout=5,
    ).json()
    assert tags["count"] == 1
    tag = tags["results"][0]
    assert tag["name"] == "latest" and tag["tag_last_pushed"] and isinstance(tag["images"], list)
    assert tag["images"][0]["digest"] == digest
    one = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/pushed/tags/latest", timeout=5
    )
    assert one.json()["digest"] == digest
    assert (
        requests.get(
            f"{hub.url}/v2/namespaces/{hub.org}/repositories/pushed/tags/nope", timeout=5
        ).status_code
        == 404
    )

    logs = requests.get(
        f"{hub.url}/v2/auditlogs/{hub.org}",
        params={"action": "repo.tag.push"},
        headers=hub.org_token(),
        timeout=5,
    ).json()
    assert set(logs) == {"logs"}
    assert logs["logs"][0]["data"] == {"digest": digest, "tag": "latest"}
    assert logs["logs"][0]["name"] == f"{hub.org}/pushed"

    pipelines = requests.get(
        f"{hub.url}/v2/repositories/{hub.org}/pushed/webhook_pipeline",
        headers=hub.org_token(),
        timeout=5,
    ).json()
    assert [p["name"] for p in pipelines["results"]] == ["hubcourse"]
    gone = requests.delete(
        f"{hub.url}/v2/repositories/{hub.org}/pushed/webhook_pipeline/hubcourse/",
        headers=hub.org_token(),
        timeout=5,
    )
    assert gone.status_code == 204


def test_head_on_tags_says_whether_any_exist(hub: Hub) -> None:
    hub.create_repo("tagless", hub.org_token())
    url = f"{hub.url}/v2/namespaces/{hub.org}/repositories/tagless/tags"
    assert requests.head(url, headers=hub.org_token(), timeout=5).status_code == 404
    push_tag(hub.world, hub.org, "tagless", "v1", hub.seeded["dockerhub"]["owner"])
    assert requests.head(url, headers=hub.org_token(), timeout=5).status_code == 200


def test_webhooks_can_be_switched_off(hub: Hub, receiver: Receiver) -> None:
    hub.create_repo("quiet", hub.org_token())
    requests.post(
        f"{hub.url}/v2/repositories/{hub.org}/quiet/webhook_pipeline",
        json={"name": "q", "webhooks": [{"name": "q", "hook_url": receiver.url}]},
        headers=hub.org_token(),
        timeout=5,
    )
    requests.patch(f"{hub.url}/_sandbox/config", json={"webhooks_enabled": False}, timeout=5)
    push_tag(hub.world, hub.org, "quiet", "latest", "someone")
    assert hub.world.wait_idle(5)
    assert receiver.bodies == []
    assert hub.world.stats["webhooks"]["dockerhub"]["disabled"] == 1


def test_a_tag_page_larger_than_100_is_served_as_100(hub: Hub) -> None:
    # No 400 is documented for the tag list (tests/fidelity/STATUSES.md): capped, not refused.
    from sandbox.dockerhub import push_tag

    hub.create_repo("many-tags", hub.org_token())
    for n in range(3):
        push_tag(hub.world, hub.org, "many-tags", f"v{n}", hub.seeded["dockerhub"]["owner"])
    url = f"{hub.url}/v2/namespaces/{hub.org}/repositories/many-tags/tags"

    response = requests.get(url, params={"page_size": 1000}, headers=hub.org_token(), timeout=5)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    one = requests.get(url, params={"page_size": 1}, headers=hub.org_token(), timeout=5).json()
    assert "page_size=1" in one["next"]
