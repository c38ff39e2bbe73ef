"""Helpers for the GitHub App tests: a client-side JWT, installations through the control API,
installation tokens, and a user access token through the OAuth web flow."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import jwt
import requests

from tests.sandbox.github_support import GitHub

CALLBACK = "http://127.0.0.1:9/github/callback/"


def app_jwt(
    app: dict[str, Any], *, iat_offset: int = -60, lifetime: int = 600, **claims: Any
) -> str:
    """A JWT as a client makes it: ``iat`` a minute back, ``exp`` at most 10 minutes later."""
    iat = int(time.time()) + iat_offset
    payload = {"iat": iat, "exp": iat + lifetime, "iss": app["client_id"], **claims}
    return jwt.encode(payload, app["pem"], algorithm="RS256")


def control(gh: GitHub, method: str, path: str, **body: Any) -> Any:
    response = requests.request(method, f"{gh.url}/_sandbox/github{path}", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def install(gh: GitHub, app: dict[str, Any], account: str, repositories: list[str] | None) -> int:
    body: dict[str, Any] = {"account": account}
    if repositories is not None:
        body["repositories"] = repositories
    return int(
        control(gh, "POST", f"/apps/{app['slug']}/installations", **body)["installation"]["id"]
    )


def installation_token(
    gh: GitHub, app: dict[str, Any], installation_id: int, **body: Any
) -> dict[str, Any]:
    response = gh.api(
        "POST",
        f"/app/installations/{installation_id}/access_tokens",
        app_jwt(app),
        json=body or None,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def user_access_token(gh: GitHub, app: dict[str, Any], login: str) -> str:
    """``ghu_…``: the OAuth web flow with the app's client id, as the user ``login``."""
    query = {"client_id": app["client_id"], "redirect_uri": CALLBACK, "state": "s1"}
    authorized = requests.post(
        f"{gh.url}/login/oauth/authorize",
        data={**query, "login": login, "decision": "authorize"},
        allow_redirects=False,
        timeout=5,
    )
    assert authorized.status_code == 302, authorized.text
    code = urllib.parse.parse_qs(urllib.parse.urlparse(authorized.headers["Location"]).query)[
        "code"
    ][0]
    exchanged = requests.post(
        f"{gh.url}/login/oauth/access_token",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "code": code},
        headers={"Accept": "application/json"},
        timeout=5,
    )
    token = str(exchanged.json()["access_token"])
    assert token.startswith("ghu_")
    return token
