"""Repository Actions secrets: a real curve25519 key per repository, sealed boxes round trip."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox

from sandbox import github_state
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def alice(gh: GitHub) -> dict[str, Any]:
    user = gh.create_user("alice")
    gh.create_repo("alice", "docker-class", {"DockerfileVolume": "FROM alpine\n"})
    return user


def seal(public_key_b64: str, value: str) -> str:
    box = SealedBox(PublicKey(base64.b64decode(public_key_b64)))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def public_key(gh: GitHub, token: str, repo: str = "docker-class") -> dict[str, Any]:
    response = gh.api("GET", f"/repos/alice/{repo}/actions/secrets/public-key", token)
    assert response.status_code == 200
    return dict(response.json())


def test_each_repository_has_its_own_curve25519_key(gh: GitHub, alice: dict[str, Any]) -> None:
    gh.create_repo("alice", "other", {})
    first = public_key(gh, alice["token"])
    second = public_key(gh, alice["token"], "other")
    assert len(base64.b64decode(first["key"])) == 32
    assert first["key"] != second["key"]
    assert first["key_id"] != second["key_id"]


def test_a_sealed_secret_round_trips_through_the_sandbox(
    gh: GitHub, hub: Hub, alice: dict[str, Any]
) -> None:
    key = public_key(gh, alice["token"])
    body = {"encrypted_value": seal(key["key"], "dckr_oat_value"), "key_id": key["key_id"]}
    created = gh.api(
        "PUT",
        "/repos/alice/docker-class/actions/secrets/DOCKERHUB_TOKEN",
        alice["token"],
        json=body,
    )
    assert created.status_code == 201
    updated = gh.api(
        "PUT",
        "/repos/alice/docker-class/actions/secrets/dockerhub_token",
        alice["token"],
        json=body,
    )
    assert updated.status_code == 204

    # The sandbox keeps the private key, so it can open what the client sealed.
    repo = github_state.get_repo(hub.world, "alice/docker-class")
    assert repo is not None
    stored = repo["secrets"]["DOCKERHUB_TOKEN"]["encrypted_value"]
    private = PrivateKey(base64.b64decode(repo["secret_key"]["private"]))
    assert SealedBox(private).decrypt(base64.b64decode(stored)) == b"dckr_oat_value"

    listed = gh.api("GET", "/repos/alice/docker-class/actions/secrets", alice["token"]).json()
    assert listed["total_count"] == 1
    assert listed["secrets"][0]["name"] == "DOCKERHUB_TOKEN"
    single = gh.api(
        "GET", "/repos/alice/docker-class/actions/secrets/DOCKERHUB_TOKEN", alice["token"]
    )
    assert single.json()["name"] == "DOCKERHUB_TOKEN"
    assert "encrypted_value" not in single.json()


def test_secret_names_follow_githubs_rules(gh: GitHub, alice: dict[str, Any]) -> None:
    key = public_key(gh, alice["token"])
    body = {"encrypted_value": seal(key["key"], "v"), "key_id": key["key_id"]}
    for name in ("GITHUB_TOKEN", "1ABC", "HAS-DASH"):
        response = gh.api(
            "PUT", f"/repos/alice/docker-class/actions/secrets/{name}", alice["token"], json=body
        )
        assert response.status_code == 422, name


def test_a_stale_key_id_or_garbage_value_is_refused(gh: GitHub, alice: dict[str, Any]) -> None:
    key = public_key(gh, alice["token"])
    path = "/repos/alice/docker-class/actions/secrets/TOKEN"
    stale = gh.api(
        "PUT", path, alice["token"], json={"encrypted_value": seal(key["key"], "v"), "key_id": "1"}
    )
    assert stale.status_code == 422
    garbage = gh.api(
        "PUT", path, alice["token"], json={"encrypted_value": "!!!", "key_id": key["key_id"]}
    )
    assert garbage.status_code == 422
    missing = gh.api("PUT", path, alice["token"], json={})
    assert missing.status_code == 422


def test_secrets_need_the_owner(gh: GitHub, alice: dict[str, Any]) -> None:
    bob = gh.create_user("bob")
    assert (
        gh.api(
            "GET", "/repos/alice/docker-class/actions/secrets/public-key", bob["token"]
        ).status_code
        == 404
    )


def test_delete_secret(gh: GitHub, alice: dict[str, Any]) -> None:
    key = public_key(gh, alice["token"])
    path = "/repos/alice/docker-class/actions/secrets/TOKEN"
    gh.api(
        "PUT",
        path,
        alice["token"],
        json={"encrypted_value": seal(key["key"], "v"), "key_id": key["key_id"]},
    )
    assert gh.api("DELETE", path, alice["token"]).status_code == 204
    assert gh.api("GET", path, alice["token"]).status_code == 404
    assert gh.api("DELETE", path, alice["token"]).status_code == 404
