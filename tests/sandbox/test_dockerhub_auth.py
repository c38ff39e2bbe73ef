"""Docker Hub authentication: JWTs with exp, both header schemes, 401s, user lookup."""

from __future__ import annotations

import jwt
import requests

from tests.sandbox.conftest import Hub


def test_it_issues_a_jwt_that_expires_in_ten_minutes(hub: Hub) -> None:
    token = hub.login(hub.seeded["dockerhub"]["owner"], hub.seeded["dockerhub"]["owner_password"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


def test_it_accepts_a_personal_access_token_and_an_organisation_access_token(hub: Hub) -> None:
    seeded = hub.seeded["dockerhub"]
    for identifier, secret in (
        (seeded["owner"], seeded["owner_token"]),
        (seeded["org"], seeded["org_token"]),
    ):
        token = hub.login(identifier, secret)
        response = requests.get(
            f"{hub.url}/v2/orgs/{hub.org}/members", headers=hub.headers(token), timeout=5
        )
        assert response.status_code == 200


def test_it_refuses_a_wrong_secret_with_the_error_body(hub: Hub) -> None:
    response = requests.post(
        f"{hub.url}/v2/auth/token",
        json={"identifier": hub.org, "secret": "dckr_oat_wrong"},
        timeout=5,
    )
    assert response.status_code == 401
    assert set(response.json()) >= {"detail", "message"}


def test_it_accepts_both_bearer_and_jwt_schemes(hub: Hub) -> None:
    token = hub.login(hub.org, hub.seeded["dockerhub"]["org_token"])
    for scheme in ("Bearer", "JWT"):
        response = requests.get(
            f"{hub.url}/v2/orgs/{hub.org}/groups", headers=hub.headers(token, scheme), timeout=5
        )
        assert response.status_code == 200, scheme


def test_it_answers_401_without_a_token_or_with_a_forged_one(hub: Hub) -> None:
    url = f"{hub.url}/v2/orgs/{hub.org}/members"
    assert requests.get(url, timeout=5).status_code == 401
    forged = jwt.encode(
        {"exp": 4102444800, "https://hub.docker.com": {"username": "x"}},
        "not-the-sandbox-secret-but-long-enough-for-hs256",
    )
    assert requests.get(url, headers=hub.headers(forged), timeout=5).status_code == 401


def test_it_answers_401_once_the_token_has_expired(hub: Hub) -> None:
    headers = hub.org_token()
    url = f"{hub.url}/v2/orgs/{hub.org}/members"
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    moved = requests.post(f"{hub.url}/_sandbox/clock", json={"advance_seconds": 601}, timeout=5)
    assert moved.status_code == 200
    response = requests.get(url, headers=headers, timeout=5)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_the_deprecated_login_returns_a_token_usable_with_the_jwt_scheme(hub: Hub) -> None:
    seeded = hub.seeded["dockerhub"]
    response = requests.post(
        f"{hub.url}/v2/users/login/",
        json={"username": seeded["owner"], "password": seeded["owner_password"]},
        timeout=5,
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = requests.get(f"{hub.url}/v2/user/", headers=hub.headers(token, "JWT"), timeout=5)
    assert me.json()["username"] == seeded["owner"]
    bad = requests.post(
        f"{hub.url}/v2/users/login", json={"username": seeded["owner"], "password": "x"}, timeout=5
    )
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Incorrect authentication credentials"}


def test_a_token_dies_with_its_revoked_organisation_access_token(hub: Hub) -> None:
    headers = hub.org_token()
    with hub.world.lock:
        for oat in hub.world.dockerhub["orgs"][hub.org]["access_tokens"].values():
            oat["is_active"] = False
    response = requests.get(f"{hub.url}/v2/orgs/{hub.org}/members", headers=headers, timeout=5)
    assert response.status_code == 401


def test_user_lookup_needs_no_auth_and_404s_for_an_unknown_docker_id(hub: Hub) -> None:
    hub.create_user("studentone")
    found = requests.get(f"{hub.url}/v2/users/studentone/", timeout=5)
    assert found.status_code == 200
    assert found.json()["username"] == "studentone"
    assert requests.get(f"{hub.url}/v2/users/studentone", timeout=5).status_code == 200
    assert requests.get(f"{hub.url}/v2/users/nobodyhere/", timeout=5).status_code == 404


def test_a_malformed_body_is_a_400_not_a_crash(hub: Hub) -> None:
    response = requests.post(
        f"{hub.url}/v2/auth/token",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "detail" in response.json()
