"""Repository webhooks: CRUD, signed ping and push deliveries to a receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub, Receiver, start_receiver

SECRET = "webhook-secret"


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.stop()


@pytest.fixture
def alice(gh: GitHub) -> dict[str, Any]:
    user = gh.create_user("alice")
    gh.create_repo("alice", "docker-class", {"DockerfileVolume": "FROM alpine\n"})
    return user


def create_hook(gh: GitHub, token: str, url: str, **config: Any) -> dict[str, Any]:
    response = gh.api(
        "POST",
        "/repos/alice/docker-class/hooks",
        token,
        json={"name": "web", "events": ["push"], "config": {"url": url, **config}},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def verify(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_a_new_hook_is_pinged_with_a_signed_body(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    hook = create_hook(gh, alice["token"], receiver.url, content_type="json", secret=SECRET)
    assert hook["config"]["secret"] == "********"
    assert hook["config"]["url"] == receiver.url
    (ping,) = receiver.wait_for(1, "ping")
    assert verify(ping.body, ping.headers["X-Hub-Signature-256"])
    assert ping.headers["X-GitHub-Hook-ID"] == str(hook["id"])
    assert ping.headers["User-Agent"].startswith("GitHub-Hookshot/")
    payload = json.loads(ping.body)
    assert payload["hook_id"] == hook["id"]
    assert payload["repository"]["full_name"] == "alice/docker-class"


def test_a_push_delivers_the_push_event_with_the_real_shape(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    create_hook(gh, alice["token"], receiver.url, content_type="json", secret=SECRET)
    before = gh.api("GET", "/repos/alice/docker-class/branches/main").json()["commit"]["sha"]
    after = gh.push(
        "alice/docker-class", {"DockerfileVolume": "FROM python:3.12\n", "new.txt": "n"}
    )

    (delivery,) = receiver.wait_for(1, "push")
    assert verify(delivery.body, delivery.headers["X-Hub-Signature-256"])
    sha1 = "sha1=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha1).hexdigest()
    assert delivery.headers["X-Hub-Signature"] == sha1
    assert delivery.headers["Content-Type"] == "application/json"
    assert len(delivery.headers["X-GitHub-Delivery"]) == 36
    payload = json.loads(delivery.body)
    assert payload["ref"] == "refs/heads/main"
    assert (payload["before"], payload["after"]) == (before, after)
    assert payload["repository"]["full_name"] == "alice/docker-class"
    # Push events carry unix times for these two, unlike every other event.
    assert isinstance(payload["repository"]["pushed_at"], int)
    assert payload["pusher"]["name"] == "alice"
    assert payload["sender"]["login"] == "alice"
    assert payload["head_commit"]["id"] == after
    assert payload["head_commit"]["added"] == ["new.txt"]
    assert payload["head_commit"]["modified"] == ["DockerfileVolume"]
    assert payload["created"] is False


def test_a_tampered_body_fails_verification(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    create_hook(gh, alice["token"], receiver.url, content_type="json", secret=SECRET)
    gh.push("alice/docker-class", {"x": "1"})
    (delivery,) = receiver.wait_for(1, "push")
    assert not verify(delivery.body + b" ", delivery.headers["X-Hub-Signature-256"])


def test_form_hooks_get_a_payload_field_and_unsigned_hooks_no_signature(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    create_hook(gh, alice["token"], receiver.url)  # GitHub's default content type is form
    gh.push("alice/docker-class", {"x": "1"})
    (delivery,) = receiver.wait_for(1, "push")
    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "X-Hub-Signature-256" not in delivery.headers
    payload = json.loads(urllib.parse.parse_qs(delivery.body.decode())["payload"][0])
    assert payload["ref"] == "refs/heads/main"


def test_hooks_list_get_update_and_delete(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    hook = create_hook(gh, alice["token"], receiver.url, content_type="json")
    listed = gh.api("GET", "/repos/alice/docker-class/hooks", alice["token"]).json()
    assert [item["id"] for item in listed] == [hook["id"]]
    patched = gh.api(
        "PATCH",
        f"/repos/alice/docker-class/hooks/{hook['id']}",
        alice["token"],
        json={"add_events": ["workflow_run"], "active": False},
    )
    assert patched.status_code == 200
    assert patched.json()["events"] == ["push", "workflow_run"]
    assert patched.json()["active"] is False
    deleted = gh.api("DELETE", f"/repos/alice/docker-class/hooks/{hook['id']}", alice["token"])
    assert deleted.status_code == 204
    assert (
        gh.api("GET", f"/repos/alice/docker-class/hooks/{hook['id']}", alice["token"]).status_code
        == 404
    )


def test_inactive_hooks_get_no_push(gh: GitHub, alice: dict[str, Any], receiver: Receiver) -> None:
    hook = create_hook(gh, alice["token"], receiver.url, content_type="json")
    receiver.wait_for(1, "ping")
    gh.api(
        "PATCH",
        f"/repos/alice/docker-class/hooks/{hook['id']}",
        alice["token"],
        json={"active": False},
    )
    gh.push("alice/docker-class", {"x": "1"})
    # A second hook that is active shows the push did go out, to it only.
    second = start_receiver()
    try:
        create_hook(gh, alice["token"], second.url, content_type="json")
        gh.push("alice/docker-class", {"x": "2"})
        second.wait_for(1, "push")
    finally:
        second.stop()
    assert [r.headers["X-GitHub-Event"] for r in receiver.received] == ["ping"]


def test_ping_route_sends_a_ping(gh: GitHub, alice: dict[str, Any], receiver: Receiver) -> None:
    hook = create_hook(gh, alice["token"], receiver.url, content_type="json")
    response = gh.api("POST", f"/repos/alice/docker-class/hooks/{hook['id']}/pings", alice["token"])
    assert response.status_code == 204
    receiver.wait_for(2, "ping")


def test_hook_validation_errors_are_422(
    gh: GitHub, alice: dict[str, Any], receiver: Receiver
) -> None:
    no_url = gh.api("POST", "/repos/alice/docker-class/hooks", alice["token"], json={"config": {}})
    assert no_url.status_code == 422
    assert no_url.json()["message"] == "Validation Failed"
    assert no_url.json()["errors"][0]["message"] == "Config must contain url"
    create_hook(gh, alice["token"], receiver.url)
    again = gh.api(
        "POST",
        "/repos/alice/docker-class/hooks",
        alice["token"],
        json={"config": {"url": receiver.url}},
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"] == "Hook already exists on this repository"
    bad_event = gh.api(
        "POST",
        "/repos/alice/docker-class/hooks",
        alice["token"],
        json={"config": {"url": receiver.url + "2"}, "events": ["nonsense"]},
    )
    assert bad_event.status_code == 422


def test_only_the_owner_sees_hooks(gh: GitHub, alice: dict[str, Any]) -> None:
    bob = gh.create_user("bob")
    assert gh.api("GET", "/repos/alice/docker-class/hooks", bob["token"]).status_code == 404
    assert gh.api("GET", "/repos/alice/docker-class/hooks").status_code == 401


def test_dropped_webhooks_are_not_delivered(
    gh: GitHub, hub: Hub, alice: dict[str, Any], receiver: Receiver
) -> None:
    create_hook(gh, alice["token"], receiver.url, content_type="json")
    receiver.wait_for(1, "ping")
    hub.world.config.update({"drop_webhook_rate": 1.0})
    gh.push("alice/docker-class", {"x": "1"})
    hub.world.wait_idle(5)
    assert [r.headers["X-GitHub-Event"] for r in receiver.received] == ["ping"]
    assert hub.world.stats["webhooks"]["github"]["dropped"] == 1
