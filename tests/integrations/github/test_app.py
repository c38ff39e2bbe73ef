"""hubcourse as a GitHub App, against the sandbox over HTTP: its JWT, installations, tokens
narrowed to one repository and cached, budgets per installation, and user-side listing."""

from __future__ import annotations

import dataclasses
import logging
import time
import urllib.parse
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from accounts.credentials import github_app
from hubcourse import governor
from hubcourse.errors import AuthenticationFailed, Forbidden, NotFound
from hubcourse.secrets import SecretValue, encrypt
from integrations.github.app import (
    ACTIONS,
    READ,
    GitHubAppClient,
    GitHubAppConfig,
    app_jwt,
    installation_client,
)
from integrations.github.client import GitHubClient
from tests.integrations.github.support import STUDENT, count_requests, student_with_app
from tests.sandbox.app_support import control, install, user_access_token
from tests.sandbox.github_support import GitHub


@pytest.fixture
def config(sandbox: Any, db: Any) -> GitHubAppConfig:
    cache.clear()  # installation tokens of an earlier test
    found = github_app()
    assert found is not None
    return found


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# -- the app's JWT ---------------------------------------------------------------------------


def test_the_jwt_is_rs256_issued_a_minute_back_for_nine_minutes_and_github_accepts_it(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    now = time.time()
    token = app_jwt(config, now)
    public = serialization.load_pem_private_key(
        config.private_key.reveal().encode(), password=None
    ).public_key()
    claims = jwt.decode(token, public, algorithms=["RS256"], options={"verify_exp": False})  # type: ignore[arg-type]
    assert claims["iat"] == int(now) - 60
    assert claims["exp"] == claims["iat"] + 9 * 60
    assert claims["iss"] == sandbox.seeded["github"]["app"]["client_id"]

    app = GitHubAppClient(config).get_app()
    assert app.slug == "hubcourse-sandbox"
    assert app.id == sandbox.seeded["github"]["app"]["id"]


def test_an_expired_jwt_is_refused_in_words(config: GitHubAppConfig) -> None:
    an_hour_ago = GitHubAppClient(config, clock=lambda: time.time() - 3600)
    with pytest.raises(AuthenticationFailed) as caught:
        an_hour_ago.get_app()
    text = str(caught.value)
    assert text.startswith("GitHub refused to read the GitHub App:")
    assert "Expiration time" in text
    assert "eyJ" not in text  # no JWT in the words


def test_a_jwt_signed_with_the_wrong_key_is_refused_in_words(config: GitHubAppConfig) -> None:
    wrong = dataclasses.replace(config, private_key=SecretValue(encrypt(_other_key())))
    with pytest.raises(AuthenticationFailed) as caught:
        GitHubAppClient(wrong).get_app()
    assert "A JSON web token could not be decoded" in str(caught.value)


# -- installations -----------------------------------------------------------------------------


def test_the_app_finds_the_installation_of_a_repository_and_none_where_it_is_not(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    _gh, installation_id = student_with_app(sandbox)
    client = GitHubAppClient(config)
    found = client.repository_installation(STUDENT, "course")
    assert found is not None
    assert found.id == installation_id
    assert found.account.login == STUDENT
    assert client.repository_installation(STUDENT, "notes") is None
    assert [i.id for i in client.list_installations()] == [installation_id]
    assert client.get_installation(installation_id).repository_selection == "selected"


def test_an_installation_token_is_narrowed_to_one_repository_and_the_permissions_asked(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    _gh, installation_id = student_with_app(sandbox)
    minted = GitHubAppClient(config).create_installation_token(
        installation_id, [f"{STUDENT}/course"], READ
    )
    assert minted.repositories == (f"{STUDENT}/course",)
    assert dict(minted.permissions) == dict(READ)
    assert minted.token not in repr(minted)

    client = installation_client(config, installation_id, f"{STUDENT}/course", READ)
    assert client.get_repository(STUDENT, "course").private is True
    assert client.get_file(STUDENT, "course", "DockerfileVolume").text.startswith("FROM")
    # The other private repository of the same installation is out of this token's reach.
    with pytest.raises(NotFound):
        client.get_repository(STUDENT, "diary")
    # READ cannot write.
    with pytest.raises(Forbidden):
        client.create_or_update_file(STUDENT, "course", "x.txt", "x", message="try")


def test_a_permission_the_app_lacks_is_refused_in_words(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    _gh, installation_id = student_with_app(sandbox)
    with pytest.raises(Exception) as caught:
        GitHubAppClient(config).create_installation_token(
            installation_id, ["course"], {**ACTIONS, "administration": "write"}
        )
    assert "GitHub refused to get a token for installation" in str(caught.value)


def test_the_token_is_reused_from_the_cache_and_never_logged(
    config: GitHubAppConfig, sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    _gh, installation_id = student_with_app(sandbox)
    caplog.set_level(logging.DEBUG)
    sent = count_requests(monkeypatch)
    stored: list[tuple[str, Any, Any]] = []
    real_set = cache.set

    def spy(key: str, value: Any, timeout: Any = None, **kwargs: Any) -> Any:
        stored.append((key, value, timeout))
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", spy)

    first = installation_client(config, installation_id, f"{STUDENT}/course", READ)
    first.get_repository(STUDENT, "course")
    second = installation_client(config, installation_id, f"{STUDENT}/course", READ)
    second.get_repository(STUDENT, "course")

    assert sent.count("POST", "/access_tokens") == 1
    assert sent.count("GET", f"/repos/{STUDENT}/course") == 2
    # Cached for the hour less five minutes, encrypted.
    [(_key, value, timeout)] = stored
    assert 55 * 60 - 10 <= timeout <= 55 * 60
    token = first._token
    assert token.startswith("ghs_")
    assert token not in str(value)
    assert token not in caplog.text
    assert "new token for installation" in caplog.text

    # Another repository or other permissions: another token.
    installation_client(config, installation_id, f"{STUDENT}/diary", READ)
    assert sent.count("POST", "/access_tokens") == 2


def test_a_token_close_to_expiry_is_not_cached(
    config: GitHubAppConfig, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Minted with less than five minutes to live (a slow clock, a short-lived token), it is
    used once and a fresh one is minted next time."""
    import datetime as dt

    from integrations.github import app as app_module

    _gh, installation_id = student_with_app(sandbox)
    # Our clock 56 minutes ahead of GitHub's: the hour token has 4 minutes left.
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=56)
    monkeypatch.setattr(app_module, "_now", lambda: ahead)
    sent = count_requests(monkeypatch)
    installation_client(config, installation_id, f"{STUDENT}/course", READ)
    installation_client(config, installation_id, f"{STUDENT}/course", READ)
    assert sent.count("POST", "/access_tokens") == 2


def test_the_governor_keeps_one_budget_per_installation(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    gh, first_id = student_with_app(sandbox)
    gh.create_user("kim-student")
    gh.create_repo("kim-student", "course", {"DockerfileVolume": "FROM alpine\n"}, private=True)
    app = sandbox.seeded["github"]["app"]
    second_id = install(gh, app, "kim-student", ["course"])
    control(gh, "POST", f"/installations/{first_id}/rate-limit", limit=700)
    control(gh, "POST", f"/installations/{second_id}/rate-limit", limit=900)

    installation_client(config, first_id, f"{STUDENT}/course", READ).get_repository(
        STUDENT, "course"
    )
    installation_client(config, first_id, f"{STUDENT}/diary", READ).get_repository(STUDENT, "diary")
    installation_client(config, second_id, "kim-student/course", READ).get_repository(
        "kim-student", "course"
    )

    store = governor.default_store()  # the test's own store (tests/conftest.py)
    first, second = (
        store.state(f"installation:{first_id}"),
        store.state(f"installation:{second_id}"),
    )
    # Two tokens of the first installation spent one budget; the second has its own.
    assert (first.limit, first.remaining) == (700, 698)
    assert (second.limit, second.remaining) == (900, 899)


# -- the user side: confirming an installation -------------------------------------------------


def test_a_user_token_lists_the_installations_and_repositories_the_user_can_reach(
    config: GitHubAppConfig, sandbox: Any
) -> None:
    gh, installation_id = student_with_app(sandbox)
    app = sandbox.seeded["github"]["app"]
    client = GitHubClient.for_oauth_token(user_access_token(gh, app, STUDENT))
    assert [i.id for i in client.list_user_installations()] == [installation_id]
    names = sorted(r.full_name for r in client.list_user_installation_repositories(installation_id))
    assert names == [f"{STUDENT}/course", f"{STUDENT}/diary"]

    gh.create_user("eve-outsider")
    outsider = GitHubClient.for_oauth_token(user_access_token(gh, app, "eve-outsider"))
    assert outsider.list_user_installations() == []
    with pytest.raises(NotFound):
        outsider.list_user_installation_repositories(installation_id)


# -- registering from a manifest --------------------------------------------------------------


def test_a_manifest_code_converts_into_the_new_apps_credentials(sandbox: Any, db: Any) -> None:
    gh = GitHub(sandbox.url)
    control(gh, "POST", "/manifest-auto-confirm", enabled=True, login="revelare-instructor")
    manifest = {
        "name": "hubcourse-test",
        "url": "http://127.0.0.1:9/",
        "hook_attributes": {"url": "http://127.0.0.1:9/webhooks/github/app/"},
        "redirect_url": "http://127.0.0.1:9/organisation/github-app/registered/",
        "public": False,
        "default_permissions": dict(READ),
        "default_events": ["push"],
    }
    import json

    answer = requests.post(
        f"{sandbox.url}/settings/apps/new",
        data={"manifest": json.dumps(manifest), "state": "s1"},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code in (302, 303), answer.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    made = GitHubAppClient.convert_manifest(query["code"][0])
    assert made.slug.startswith("hubcourse-test")
    assert made.pem.startswith("-----BEGIN")
    assert made.client_secret not in repr(made)
    # The code is single-use.
    with pytest.raises(NotFound):
        GitHubAppClient.convert_manifest(query["code"][0])
