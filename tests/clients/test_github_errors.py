"""GitHub error handling without a network: responses are built here and fed to the translator,
or returned from a patched ``hubcourse.http.request`` (the one seam HTTP is faked at)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from nacl.public import PrivateKey, SealedBox

from hubcourse import errors, http
from hubcourse.governor import Governor, SQLiteStore
from integrations.github import client as github

NOW = dt.datetime.now(dt.UTC)
REPOSITORY = {
    "name": "r",
    "full_name": "o/r",
    "owner": {"login": "o", "id": 1},
    "private": False,
    "html_url": "https://github.com/o/r",
}


def _response(
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
    url: str = "https://api.github.com/repos/o/r",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body if body is not None else {}).encode()
    response.headers.update({"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    response.url = url
    return response


def _error(response: requests.Response) -> errors.ExternalServiceError:
    return github.TRANSLATOR.error(response, service="GitHub", operation="read repository o/r")


def test_a_plain_permission_403_is_forbidden_and_permanent():
    response = _response(
        403,
        {"message": "Resource not accessible by personal access token"},
        {"x-ratelimit-remaining": "4990", "x-ratelimit-reset": "1900000000"},
    )

    error = _error(response)

    assert type(error) is errors.Forbidden
    assert error.permanent
    assert str(error) == (
        "GitHub refused to read repository o/r: "
        "Resource not accessible by personal access token (HTTP 403)"
    )


def test_a_403_with_no_remaining_budget_is_the_primary_limit_until_the_reset():
    reset = int(NOW.timestamp()) + 1200
    response = _response(
        403,
        {"message": "API rate limit exceeded for user ID 1."},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )

    error = _error(response)

    assert isinstance(error, errors.RateLimited)
    assert not error.permanent
    assert error.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)


def test_a_403_with_retry_after_waits_that_many_seconds():
    response = _response(403, {"message": "Slow down"}, {"retry-after": "30"})

    error = _error(response)

    assert isinstance(error, errors.RateLimited)
    assert 29 <= error.seconds_to_wait() <= 31


def test_a_secondary_limit_message_without_headers_waits_at_least_a_minute():
    response = _response(
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        {"x-ratelimit-remaining": "4000"},
    )

    error = _error(response)

    assert isinstance(error, errors.RateLimited)
    assert 59 <= error.seconds_to_wait() <= 61


def test_a_429_is_rate_limited():
    error = _error(_response(429, {"message": "Too many requests"}, {"retry-after": "5"}))

    assert isinstance(error, errors.RateLimited)
    assert error.status == 429


def test_a_validation_failure_names_githubs_reasons():
    body = {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "Hook",
                "code": "custom",
                "message": "Hook already exists on this repository",
            }
        ],
        "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
    }

    error = _error(_response(422, body))

    assert isinstance(error, errors.Invalid)
    assert error.message == "Validation Failed: Hook already exists on this repository"


def test_a_sealed_secret_opens_with_the_repository_private_key():
    private = PrivateKey.generate()
    public = base64.b64encode(bytes(private.public_key)).decode()

    sealed = github.seal_secret(public, "dckr_oat_value")

    assert SealedBox(private).decrypt(base64.b64decode(sealed)) == b"dckr_oat_value"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2026-12-01 10:00:00 UTC", dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)),
        ("2026-12-01 10:00:00 +0100", dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)),
        ("soon", None),
        (None, None),
    ],
)
def test_it_reads_the_token_expiry_header(header, expected):
    assert github._parse_expiry(header) == expected


# -- through a patched hubcourse.http.request ----------------------------------------------------


class FakeHTTP:
    def __init__(self, responses: list[requests.Response]) -> None:
        self.responses = responses
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append((method, url, dict(kwargs.get("headers") or {})))
        return self.responses.pop(0)


@pytest.fixture
def client(tmp_path: Path) -> github.GitHubClient:
    governor = Governor(
        "GitHub",
        default_limit=5000,
        window=3600.0,
        burst=30,
        max_wait=1.0,
        store=SQLiteStore(tmp_path / "governor.sqlite3"),
    )
    return github.GitHubClient("ghp_secret", api_url="https://api.github.com", governor=governor)


def test_a_next_link_naming_another_host_is_followed_on_the_api_host(client, monkeypatch):
    first = _response(
        200,
        [{**REPOSITORY, "id": 1}],
        {"Link": '<https://elsewhere.example/user/repos?per_page=100&page=2>; rel="next"'},
    )
    second = _response(200, [{**REPOSITORY, "id": 2}])
    fake = FakeHTTP([first, second])
    monkeypatch.setattr(http, "request", fake)

    listed = client.list_my_repositories()

    assert [repo.id for repo in listed] == [1, 2]
    # The token only ever goes to the API host.
    assert [url for _, url, _ in fake.calls] == [
        "https://api.github.com/user/repos",
        "https://api.github.com/user/repos?per_page=100&page=2",
    ]


def test_an_answer_of_the_wrong_shape_is_an_unexpected_response(client, monkeypatch):
    monkeypatch.setattr(http, "request", FakeHTTP([_response(200, {"name": "r"})]))

    with pytest.raises(errors.UnexpectedResponse) as caught:
        client.get_repository("o", "r")

    assert "id: Field required" in str(caught.value)
    assert caught.value.permanent


def test_the_job_log_url_is_the_redirect_target(client, monkeypatch):
    hop = _response(302, headers={"Location": "https://logs.example/job/7?sig=abc"})
    final = _response(200, url="https://logs.example/job/7?sig=abc")
    final._content = b"log text"
    final.history = [hop]
    monkeypatch.setattr(http, "request", FakeHTTP([final]))

    assert client.job_log_url("o", "r", 7) == "https://logs.example/job/7?sig=abc"


def test_the_client_repr_never_shows_the_token(client):
    assert "ghp_secret" not in repr(client)
