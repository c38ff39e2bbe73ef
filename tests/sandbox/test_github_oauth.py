"""The OAuth web flow as django-allauth drives it, end to end over HTTP."""

from __future__ import annotations

import urllib.parse

import pytest
import requests

from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub

CALLBACK = "http://127.0.0.1:9/accounts/github/login/callback/"


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


def register_app(gh: GitHub, **extra: str) -> dict[str, str]:
    body = {"client_id": "hubcourse-client", "client_secret": "s3cret", **extra}
    response = requests.post(f"{gh.url}/_sandbox/github/oauth-apps", json=body, timeout=5)
    assert response.status_code == 201, response.text
    return dict(response.json())


def authorize(gh: GitHub, login: str, **params: str) -> requests.Response:
    """The browser part: the consent page, then the user's click on their login."""
    query = {
        "client_id": "hubcourse-client",
        "redirect_uri": CALLBACK,
        "scope": "read:user user:email",
        "response_type": "code",
        "state": "xyz123",
        **params,
    }
    page = requests.get(f"{gh.url}/login/oauth/authorize", params=query, timeout=5)
    assert page.status_code == 200
    assert "Authorize" in page.text
    return requests.post(
        f"{gh.url}/login/oauth/authorize",
        data={**query, "login": login, "decision": "authorize"},
        allow_redirects=False,
        timeout=5,
    )


def code_from(response: requests.Response) -> str:
    assert response.status_code == 302, response.text
    location = urllib.parse.urlparse(response.headers["Location"])
    assert location._replace(query="").geturl() == CALLBACK
    query = urllib.parse.parse_qs(location.query)
    assert query["state"] == ["xyz123"]
    return query["code"][0]


def exchange(gh: GitHub, code: str, secret: str = "s3cret", **headers: str) -> requests.Response:
    return requests.post(
        f"{gh.url}/login/oauth/access_token",
        data={
            "client_id": "hubcourse-client",
            "client_secret": secret,
            "code": code,
            "redirect_uri": CALLBACK,
            "grant_type": "authorization_code",
        },
        headers={"Accept": "*/*", **headers},
        timeout=5,
    )


def test_the_consent_page_lists_sandbox_users(gh: GitHub) -> None:
    gh.create_user("student-one")
    register_app(gh)
    page = requests.get(
        f"{gh.url}/login/oauth/authorize",
        params={"client_id": "hubcourse-client", "redirect_uri": CALLBACK},
        timeout=5,
    )
    assert page.status_code == 200
    assert 'value="student-one"' in page.text


def test_the_whole_flow_gives_a_token_that_reads_the_user_and_emails(gh: GitHub) -> None:
    gh.create_user("student-one", "student1@example.edu")
    register_app(gh)
    code = code_from(authorize(gh, "student-one"))

    answer = exchange(gh, code)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    fields = dict(urllib.parse.parse_qsl(answer.text))
    assert fields["token_type"] == "bearer"
    assert fields["scope"] == "read:user,user:email"
    token = fields["access_token"]
    assert token.startswith("gho_")

    user = gh.api("GET", "/user", token)
    assert user.status_code == 200
    assert user.json()["login"] == "student-one"
    emails = gh.api("GET", "/user/emails", token)
    assert emails.json() == [
        {
            "email": "student1@example.edu",
            "primary": True,
            "verified": True,
            "visibility": "private",
        }
    ]
    assert user.headers["X-OAuth-Scopes"] == "read:user, user:email"


def test_the_token_answer_is_json_when_asked(gh: GitHub) -> None:
    gh.create_user("student-one")
    register_app(gh)
    answer = exchange(gh, code_from(authorize(gh, "student-one")), Accept="application/json")
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "scope"}


def test_a_code_works_once(gh: GitHub) -> None:
    gh.create_user("student-one")
    register_app(gh)
    code = code_from(authorize(gh, "student-one"))
    assert "access_token" in exchange(gh, code, Accept="application/json").json()
    again = exchange(gh, code, Accept="application/json")
    # GitHub answers token errors with 200 and the error in the body.
    assert again.status_code == 200
    assert again.json()["error"] == "bad_verification_code"


def test_a_wrong_client_secret_is_refused(gh: GitHub) -> None:
    gh.create_user("student-one")
    register_app(gh)
    code = code_from(authorize(gh, "student-one"))
    answer = exchange(gh, code, secret="wrong", Accept="application/json")
    assert answer.json()["error"] == "incorrect_client_credentials"


def test_an_unknown_app_binds_its_secret_on_first_exchange(gh: GitHub) -> None:
    gh.create_user("student-one")
    first = exchange(gh, code_from(authorize(gh, "student-one")), secret="chosen")
    assert "access_token=" in first.text
    other = exchange(gh, code_from(authorize(gh, "student-one")), secret="different")
    assert "error=incorrect_client_credentials" in other.text


def test_typing_a_new_login_creates_that_user(gh: GitHub) -> None:
    register_app(gh)
    code = code_from(authorize(gh, "", login_typed="newcomer"))
    token = dict(urllib.parse.parse_qsl(exchange(gh, code).text))["access_token"]
    assert gh.api("GET", "/user", token).json()["login"] == "newcomer"


def test_cancel_redirects_with_access_denied(gh: GitHub) -> None:
    register_app(gh)
    response = requests.post(
        f"{gh.url}/login/oauth/authorize",
        data={
            "client_id": "hubcourse-client",
            "redirect_uri": CALLBACK,
            "state": "s1",
            "decision": "cancel",
        },
        allow_redirects=False,
        timeout=5,
    )
    query = urllib.parse.parse_qs(urllib.parse.urlparse(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s1"]


def test_a_redirect_uri_outside_the_registered_callback_is_refused(gh: GitHub) -> None:
    register_app(gh, callback_url="http://127.0.0.1:9/accounts/")
    response = requests.get(
        f"{gh.url}/login/oauth/authorize",
        params={"client_id": "hubcourse-client", "redirect_uri": "http://evil.invalid/cb"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "redirect_uri MUST match" in response.text


def test_api_calls_without_a_valid_token_get_401(gh: GitHub) -> None:
    assert gh.api("GET", "/user").json()["message"] == "Requires authentication"
    bad = gh.api("GET", "/user", "gho_not-a-token")
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
