"""The sandbox GitHub as a GitHub App sees it, over HTTP: JWT auth, installation tokens and
their scope, per-installation budgets, conditional requests, the manifest flow, the install
page, user access tokens, and the Docker Hub link that build sources go through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.sandbox.app_support import (
    app_jwt,
    control,
    install,
    installation_token,
    user_access_token,
)
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub, Receiver, start_receiver

DOCKERFILE = 'FROM python:3.12-slim\nCMD ["python"]\n'


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def app(hub: Hub) -> dict[str, Any]:
    return dict(hub.seeded["github"]["app"])


@pytest.fixture
def alice(gh: GitHub) -> dict[str, Any]:
    user = gh.create_user("alice")
    gh.create_repo("alice", "course", {"DockerfileVolume": DOCKERFILE}, private=True)
    gh.create_repo("alice", "diary", {"README.md": "private\n"}, private=True)
    gh.create_repo("alice", "public-notes", {"README.md": "hello\n"})
    return user


@pytest.fixture
def receiver() -> Any:
    running = start_receiver()
    yield running
    running.stop()


# -- JWT ---------------------------------------------------------------------------------------


def test_an_app_jwt_signed_with_its_key_opens_get_app_by_client_id_or_app_id(
    gh: GitHub, app: dict[str, Any]
) -> None:
    by_client_id = gh.api("GET", "/app", app_jwt(app))
    by_app_id = gh.api("GET", "/app", app_jwt(app, iss=str(app["id"])), prefix="")
    # Some clients send the app id as a number (Octokit does): GitHub takes both.
    claims = {"iat": int(time.time()) - 60, "exp": int(time.time()) + 500, "iss": app["id"]}
    numeric = jwt.api_jws.encode(json.dumps(claims).encode(), app["pem"], algorithm="RS256")
    assert gh.api("GET", "/app", numeric).status_code == 200
    assert by_client_id.status_code == 200, by_client_id.text
    assert by_client_id.json()["slug"] == app["slug"]
    assert by_app_id.status_code == 200
    assert by_app_id.json()["permissions"]["contents"] == "write"


def test_a_jwt_expired_badly_signed_too_long_or_from_the_future_is_refused(
    gh: GitHub, app: dict[str, Any]
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_pem = other_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cases = {
        "expired": app_jwt(app, iat_offset=-700, lifetime=600),
        "forged": app_jwt({**app, "pem": forged_pem}),
        "too long": app_jwt(app, lifetime=900),
        "from the future": app_jwt(app, iat_offset=300),
        "unknown issuer": app_jwt(app, iss="Iv23linobody"),
        "HS256": jwt.encode({"iss": app["client_id"], "iat": 1, "exp": 2}, "k" * 32),
    }
    for why, token in cases.items():
        response = gh.api("GET", "/app", token)
        assert response.status_code == 401, why
        body = response.json()
        assert body["message"] and body["documentation_url"].startswith("https://docs.github.com")
    assert "Expiration time" in gh.api("GET", "/app", cases["expired"]).json()["message"]
    assert "too far" in gh.api("GET", "/app", cases["too long"]).json()["message"]


def test_other_credentials_cannot_act_as_the_app_and_a_jwt_reaches_only_app_routes(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    refused = gh.api("GET", "/app/installations", alice["token"])
    assert refused.status_code == 401
    assert refused.json()["message"] == "A JSON web token could not be decoded"
    assert gh.api("GET", "/app").status_code == 401
    on_repo = gh.api("GET", "/repos/alice/public-notes", app_jwt(app))
    assert on_repo.status_code == 403
    assert on_repo.json()["message"] == "Resource not accessible by integration"


# -- installations and their tokens --------------------------------------------------------------


def test_the_app_finds_installations_by_repository_and_user_and_can_uninstall(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    token = app_jwt(app)
    listed = gh.api("GET", "/app/installations", token).json()
    assert [i["id"] for i in listed] == [installation_id]
    assert listed[0]["repository_selection"] == "selected"
    assert gh.api("GET", "/repos/alice/course/installation", token).json()["id"] == installation_id
    assert gh.api("GET", "/repos/alice/diary/installation", token).status_code == 404
    assert gh.api("GET", "/users/alice/installation", token).json()["account"]["login"] == "alice"
    minted = installation_token(gh, app, installation_id)

    assert gh.api("DELETE", f"/app/installations/{installation_id}", token).status_code == 204

    assert gh.api("GET", f"/app/installations/{installation_id}", token).status_code == 404
    assert gh.api("GET", "/repos/alice/course", minted["token"]).status_code == 401


def test_an_installation_token_reaches_only_its_repositories(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    gh.create_user("bob")
    gh.create_repo("bob", "secret", {"README.md": "x"}, private=True)
    minted = installation_token(gh, app, installation_id)
    token = minted["token"]
    assert token.startswith("ghs_")
    assert minted["repository_selection"] == "selected"
    assert minted["permissions"]["workflows"] == "write"

    assert gh.api("GET", "/repos/alice/course/contents/DockerfileVolume", token).status_code == 200
    assert gh.api("GET", "/repos/alice/diary", token).status_code == 404
    assert gh.api("GET", "/repos/bob/secret", token).status_code == 404
    # Public data stays readable, as with any token; writing there is not the app's to do.
    assert gh.api("GET", "/repos/alice/public-notes", token).status_code == 200
    content = base64.b64encode(b"notes\n").decode()
    outside = gh.api(
        "PUT",
        "/repos/alice/public-notes/contents/x.md",
        token,
        json={"message": "m", "content": content},
    )
    assert outside.status_code == 403
    listed = gh.api("GET", "/installation/repositories", token).json()
    assert [r["full_name"] for r in listed["repositories"]] == ["alice/course"]

    written = gh.api(
        "PUT",
        "/repos/alice/course/contents/.github/workflows/hubcourse.yml",
        token,
        json={"message": "Add the workflow", "content": content},
    )
    assert written.status_code == 201, written.text
    assert written.json()["commit"]["author"]["name"] == f"{app['slug']}[bot]"


def test_a_narrowed_token_lacks_what_it_did_not_ask_for(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course", "diary"])
    narrow = installation_token(
        gh, app, installation_id, repositories=["course"], permissions={"contents": "write"}
    )
    token = narrow["token"]
    assert [r["full_name"] for r in narrow["repositories"]] == ["alice/course"]
    content = base64.b64encode(b"on: push\n").decode()
    workflow = gh.api(
        "PUT",
        "/repos/alice/course/contents/.github/workflows/hubcourse.yml",
        token,
        json={"message": "m", "content": content},
    )
    assert workflow.status_code == 403
    assert workflow.json()["message"] == "Resource not accessible by integration"
    key = gh.api("GET", "/repos/alice/course/actions/secrets/public-key", token)
    assert key.status_code == 403
    runs = gh.api("GET", "/repos/alice/course/actions/runs", token)
    assert runs.status_code == 403
    assert gh.api("GET", "/repos/alice/diary", token).status_code == 404
    plain = gh.api(
        "PUT",
        "/repos/alice/course/contents/README.md",
        token,
        json={"message": "m", "content": content},
    )
    assert plain.status_code == 201


def test_a_token_cannot_ask_for_more_than_the_installation_has(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    url = f"/app/installations/{installation_id}/access_tokens"
    too_much = gh.api("POST", url, app_jwt(app), json={"permissions": {"administration": "write"}})
    assert too_much.status_code == 422
    elsewhere = gh.api("POST", url, app_jwt(app), json={"repositories": ["diary"]})
    assert elsewhere.status_code == 422
    assert gh.api("POST", "/app/installations/999/access_tokens", app_jwt(app)).status_code == 404


def test_an_installation_token_expires_after_an_hour(
    gh: GitHub, hub: Hub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    token = installation_token(gh, app, installation_id)["token"]
    assert gh.api("GET", "/repos/alice/course", token).status_code == 200
    hub.world.advance_clock(3601)
    expired = gh.api("GET", "/repos/alice/course", token)
    assert expired.status_code == 401
    assert expired.json()["message"] == "Bad credentials"


def test_a_suspended_installation_mints_nothing_and_its_tokens_stop(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    token = installation_token(gh, app, installation_id)["token"]
    control(gh, "POST", f"/installations/{installation_id}/suspend")
    assert gh.api("GET", "/repos/alice/course", token).status_code == 403
    assert (
        gh.api(
            "POST", f"/app/installations/{installation_id}/access_tokens", app_jwt(app)
        ).status_code
        == 403
    )
    control(gh, "POST", f"/installations/{installation_id}/unsuspend")
    assert gh.api("GET", "/repos/alice/course", token).status_code == 200


# -- rate limits and conditional requests ---------------------------------------------------------


def test_each_installation_has_its_own_budget(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    gh.create_user("bob")
    gh.create_repo("bob", "course", {"README.md": "x"})
    alices = install(gh, app, "alice", ["course"])
    bobs = install(gh, app, "bob", ["course"])
    control(gh, "POST", f"/installations/{alices}/rate-limit", limit=3)
    alice_token = installation_token(gh, app, alices)["token"]
    bob_token = installation_token(gh, app, bobs)["token"]

    answers = [gh.api("GET", "/repos/alice/course", alice_token) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert answers[2].headers["X-RateLimit-Resource"] == "core"
    assert answers[3].json()["message"] == f"API rate limit exceeded for installation ID {alices}."
    bob_answer = gh.api("GET", "/repos/bob/course", bob_token)
    assert bob_answer.status_code == 200
    assert bob_answer.headers["X-RateLimit-Limit"] == "5000"
    assert bob_answer.headers["X-RateLimit-Used"] == "1"


def test_a_secondary_limit_can_be_aimed_at_one_installation(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    token = installation_token(gh, app, installation_id)["token"]
    control(gh, "POST", f"/installations/{installation_id}/secondary-limit", count=1, status=429)
    # alice's own token is not that installation: it passes while the refusal waits.
    assert gh.api("GET", "/repos/alice/public-notes", alice["token"]).status_code == 200
    refused = gh.api("GET", "/repos/alice/course", token)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert gh.api("GET", "/repos/alice/course", token).status_code == 200


def test_a_matching_etag_answers_304_without_spending_the_budget(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    installation_id = install(gh, app, "alice", ["course"])
    token = installation_token(gh, app, installation_id)["token"]
    first = gh.api("GET", "/repos/alice/course/branches/main", token)
    etag = first.headers["ETag"]
    used = int(first.headers["X-RateLimit-Used"])

    again = gh.api(
        "GET", "/repos/alice/course/branches/main", token, headers={"If-None-Match": etag}
    )
    commit = gh.api("GET", "/repos/alice/course/commits/main", token)
    commit_again = gh.api(
        "GET",
        "/repos/alice/course/commits/main",
        token,
        headers={"If-None-Match": commit.headers["ETag"]},
    )

    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["X-RateLimit-Used"]) == used
    assert commit_again.status_code == 304
    assert int(commit_again.headers["X-RateLimit-Used"]) == used + 1
    gh.push("alice/course", {"app.py": "print(2)\n"})
    changed = gh.api(
        "GET", "/repos/alice/course/branches/main", token, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_conditional_reads_work_for_anyone_but_count_when_unauthenticated(
    gh: GitHub, alice: dict[str, Any]
) -> None:
    first = gh.api("GET", "/repos/alice/public-notes/branches/main")
    again = gh.api(
        "GET",
        "/repos/alice/public-notes/branches/main",
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    assert int(again.headers["X-RateLimit-Used"]) == int(first.headers["X-RateLimit-Used"]) + 1
    with_token = gh.api("GET", "/repos/alice/public-notes/branches/main", alice["token"])
    repeated = gh.api(
        "GET",
        "/repos/alice/public-notes/branches/main",
        alice["token"],
        headers={"If-None-Match": with_token.headers["ETag"]},
    )
    assert repeated.status_code == 304
    assert repeated.headers["X-RateLimit-Used"] == with_token.headers["X-RateLimit-Used"]


def test_the_branch_head_can_be_read_as_a_bare_sha(gh: GitHub, alice: dict[str, Any]) -> None:
    head = gh.api(
        "GET",
        "/repos/alice/public-notes/commits/main",
        headers={"Accept": "application/vnd.github.sha"},
    )
    assert head.status_code == 200
    assert len(head.text) == 40 and head.headers["Content-Type"].startswith(
        "application/vnd.github.sha"
    )


# -- the manifest flow -----------------------------------------------------------------------------


def manifest(receiver_url: str = "https://hubcourse.example/github/events/") -> dict[str, Any]:
    return {
        "name": "Course Builds",
        "url": "https://hubcourse.example",
        "hook_attributes": {"url": receiver_url},
        "redirect_url": "https://hubcourse.example/github/app/created/",
        "callback_urls": ["https://hubcourse.example/accounts/github/login/callback/"],
        "setup_url": "https://hubcourse.example/github/setup/",
        "public": False,
        "default_permissions": {"contents": "read", "metadata": "read"},
        "default_events": ["push", "repository"],
    }


def code_and_state(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 302, response.text
    location = urllib.parse.urlparse(response.headers["Location"])
    assert location._replace(query="").geturl() == "https://hubcourse.example/github/app/created/"
    query = urllib.parse.parse_qs(location.query)
    return query["code"][0], query["state"][0]


def test_the_manifest_flow_confirms_then_converts_once(gh: GitHub, alice: dict[str, Any]) -> None:
    form = {"manifest": json.dumps(manifest()), "state": "st-1", "login": "alice"}
    page = requests.post(f"{gh.url}/settings/apps/new", data=form, timeout=5)
    assert page.status_code == 200 and "Create GitHub App for alice" in page.text
    confirmed = requests.post(
        f"{gh.url}/settings/apps/new",
        data={**form, "confirm": "1"},
        allow_redirects=False,
        timeout=5,
    )
    code, state = code_and_state(confirmed)
    assert state == "st-1"

    converted = gh.api("POST", f"/app-manifests/{code}/conversions")
    again = gh.api("POST", f"/app-manifests/{code}/conversions")

    assert converted.status_code == 201, converted.text
    created = converted.json()
    assert created["owner"]["login"] == "alice"
    assert created["slug"] == "course-builds"
    assert created["pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert created["webhook_secret"] and created["client_secret"]
    assert again.status_code == 404
    as_app = gh.api(
        "GET", "/app", app_jwt({"client_id": created["client_id"], "pem": created["pem"]})
    )
    assert as_app.json()["events"] == ["push", "repository"]


def test_a_manifest_code_lasts_an_hour_and_auto_mode_creates_for_an_organisation(
    gh: GitHub, hub: Hub, alice: dict[str, Any]
) -> None:
    control(gh, "POST", "/orgs", login="course-org", admins=["alice"])
    control(gh, "POST", "/manifest-auto-confirm", enabled=True, login="alice")
    created = requests.post(
        f"{gh.url}/organizations/course-org/settings/apps/new",
        data={"manifest": json.dumps(manifest()), "state": "st-2"},
        allow_redirects=False,
        timeout=5,
    )
    code, _ = code_and_state(created)
    late = requests.post(
        f"{gh.url}/settings/apps/new",
        data={"manifest": json.dumps({**manifest(), "name": "Late"}), "state": "st-3"},
        allow_redirects=False,
        timeout=5,
    )
    late_code, _ = code_and_state(late)
    converted = gh.api("POST", f"/app-manifests/{code}/conversions")
    assert converted.json()["owner"]["login"] == "course-org"
    hub.world.advance_clock(3601)
    assert gh.api("POST", f"/app-manifests/{late_code}/conversions").status_code == 404


# -- the install page and user access tokens ----------------------------------------------------------


def test_the_install_page_installs_on_chosen_repositories_and_returns_to_the_setup_url(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any], receiver: Receiver
) -> None:
    control(
        gh,
        "PATCH",
        f"/apps/{app['slug']}",
        setup_url="https://hubcourse.example/github/setup/?from=github",
        hook_url=receiver.url,
    )
    course_id = control(gh, "GET", "/repos/alice/course")["id"]
    page = requests.get(
        f"{gh.url}/apps/{app['slug']}/installations/new",
        params={"state": "abc", "login": "alice"},
        timeout=5,
    )
    assert page.status_code == 200
    assert "alice/course" in page.text and "Only select repositories" in page.text

    submitted = requests.post(
        f"{gh.url}/apps/{app['slug']}/installations/new",
        data={
            "login": "alice",
            "state": "abc",
            "selection": "selected",
            "repository_ids": [course_id],
        },
        allow_redirects=False,
        timeout=5,
    )

    assert submitted.status_code == 302
    location = urllib.parse.urlparse(submitted.headers["Location"])
    query = urllib.parse.parse_qs(location.query)
    assert location.path == "/github/setup/"
    assert query["from"] == ["github"] and query["state"] == ["abc"]
    assert query["setup_action"] == ["install"]
    installation_id = int(query["installation_id"][0])
    (created,) = receiver.wait_for(1, "installation")
    payload = json.loads(created.body)
    assert payload["action"] == "created" and payload["installation"]["id"] == installation_id
    assert [r["full_name"] for r in payload["repositories"]] == ["alice/course"]

    diary_id = control(gh, "GET", "/repos/alice/diary")["id"]
    updated = requests.post(
        f"{gh.url}/apps/{app['slug']}/installations/new",
        data={
            "login": "alice",
            "state": "def",
            "selection": "selected",
            "repository_ids": [course_id, diary_id],
        },
        allow_redirects=False,
        timeout=5,
    )
    query = urllib.parse.parse_qs(urllib.parse.urlparse(updated.headers["Location"]).query)
    assert query["setup_action"] == ["update"] and query["installation_id"] == [
        str(installation_id)
    ]
    (added,) = receiver.wait_for(1, "installation_repositories")
    assert [r["full_name"] for r in json.loads(added.body)["repositories_added"]] == ["alice/diary"]


def test_the_install_page_knows_who_signed_in_through_oauth(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    session = requests.Session()
    query = {"client_id": app["client_id"], "redirect_uri": "http://127.0.0.1:9/cb/", "state": "s"}
    session.post(
        f"{gh.url}/login/oauth/authorize",
        data={**query, "login": "alice", "decision": "authorize"},
        allow_redirects=False,
        timeout=5,
    )
    page = session.get(f"{gh.url}/apps/{app['slug']}/installations/new", timeout=5)
    anonymous = requests.get(f"{gh.url}/apps/{app['slug']}/installations/new", timeout=5)
    assert "Signed in as <strong>alice</strong>" in page.text
    assert "Sign in to install" in anonymous.text


def test_a_user_token_lists_only_the_installations_that_user_can_access(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    gh.create_user("mallory")
    gh.create_repo("mallory", "course", {"README.md": "x"})
    alices = install(gh, app, "alice", ["course"])
    mallorys = install(gh, app, "mallory", ["course"])
    token = user_access_token(gh, app, "mallory")

    listed = gh.api("GET", "/user/installations", token)
    forged = gh.api("GET", f"/user/installations/{alices}/repositories", token)
    own = gh.api("GET", f"/user/installations/{mallorys}/repositories", token)

    assert [i["id"] for i in listed.json()["installations"]] == [mallorys]
    assert forged.status_code == 404
    assert [r["full_name"] for r in own.json()["repositories"]] == ["mallory/course"]
    assert gh.api("GET", "/user/installations", alice["token"]).status_code == 403
    # The user token acts within the app's installations: alice's repository stays hidden.
    assert gh.api("GET", "/repos/alice/course", token).status_code == 404
    assert gh.api("GET", "/user", token).json()["login"] == "mallory"


# -- app webhooks ----------------------------------------------------------------------------------


def test_app_events_are_signed_with_the_webhook_secret_and_name_the_installation(
    gh: GitHub, hub: Hub, app: dict[str, Any], alice: dict[str, Any], receiver: Receiver
) -> None:
    control(gh, "PATCH", f"/apps/{app['slug']}", hook_url=receiver.url)
    installation_id = install(gh, app, "alice", ["course"])
    gh.push("alice/course", {"app.py": "print(3)\n"})
    gh.push("alice/diary", {"notes.md": "not covered\n"})
    (push,) = receiver.wait_for(1, "push")
    assert hub.world.wait_idle(10)
    assert len([r for r in receiver.received if r.headers["X-GitHub-Event"] == "push"]) == 1

    expected = hmac.new(app["webhook_secret"].encode(), push.body, hashlib.sha256).hexdigest()
    assert push.headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert push.headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert push.headers["X-GitHub-Hook-Installation-Target-ID"] == str(app["id"])
    assert push.headers["X-GitHub-Delivery"]
    payload = json.loads(push.body)
    assert payload["installation"]["id"] == installation_id
    assert payload["repository"]["full_name"] == "alice/course"


def test_repository_events_follow_renames_transfers_and_deletions(
    gh: GitHub, hub: Hub, app: dict[str, Any], alice: dict[str, Any], receiver: Receiver
) -> None:
    control(gh, "PATCH", f"/apps/{app['slug']}", hook_url=receiver.url)
    gh.create_user("bob")
    installation_id = install(gh, app, "alice", ["course", "diary"])
    control(gh, "POST", "/repos/alice/course/rename", name="docker-course")
    control(gh, "POST", "/repos/alice/docker-course/visibility", private=False)
    control(gh, "POST", "/repos/alice/diary/transfer", new_owner="bob")
    events = receiver.wait_for(3, "repository")
    actions = [json.loads(e.body)["action"] for e in events]
    assert actions == ["renamed", "publicized", "transferred"]
    renamed = json.loads(events[0].body)
    assert renamed["changes"] == {"repository": {"name": {"from": "course"}}}
    assert json.loads(events[2].body)["changes"]["owner"]["from"]["user"]["login"] == "alice"
    view = control(gh, "GET", f"/installations/{installation_id}")
    assert view["repositories"] == ["alice/docker-course"]

    requests.delete(f"{gh.url}/_sandbox/github/repos/alice/docker-course", timeout=5)
    deleted = receiver.wait_for(4, "repository")[3]
    assert json.loads(deleted.body)["action"] == "deleted"
    assert control(gh, "GET", f"/installations/{installation_id}")["repositories"] == []


def test_a_rename_through_the_api_with_an_installation_token_is_an_event_too(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any], receiver: Receiver
) -> None:
    control(
        gh,
        "PATCH",
        f"/apps/{app['slug']}",
        hook_url=receiver.url,
        permissions={**app["permissions"], "administration": "write"},
    )
    installation_id = install(gh, app, "alice", ["course"])
    control(gh, "POST", f"/installations/{installation_id}/accept-permissions")
    token = installation_token(gh, app, installation_id)["token"]
    renamed = gh.api("PATCH", "/repos/alice/course", token, json={"name": "renamed"})
    assert renamed.status_code == 200, renamed.text
    (event,) = receiver.wait_for(1, "repository")
    assert json.loads(event.body)["sender"]["login"] == f"{app['slug']}[bot]"
    accepted = [
        json.loads(r.body)["action"]
        for r in receiver.received
        if r.headers["X-GitHub-Event"] == "installation"
    ]
    # Deliveries run in the background: their order of arrival is not the order they were sent.
    assert sorted(accepted) == ["created", "new_permissions_accepted"]


# -- Docker Hub: build sources through the linked GitHub account ------------------------------------


def create_source(hub: Hub, name: str, owner: str, headers: dict[str, str]) -> requests.Response:
    assert hub.create_repo(name, hub.org_token()).status_code == 201
    return requests.post(
        f"{hub.url}/api/build/v1/source/",
        json={
            "image": f"{hub.org}/{name}",
            "provider": "github",
            "owner": owner,
            "repository": "course",
            "build_settings": [{"source_type": "Branch", "source_name": "main"}],
        },
        headers=headers,
        timeout=5,
    )


def test_a_build_source_needs_a_linked_github_account_that_administers_the_repository(
    gh: GitHub, hub: Hub, alice: dict[str, Any]
) -> None:
    instructor = hub.seeded["github"]["instructor"]["login"]
    control(gh, "POST", "/orgs", login="course-org", admins=[instructor])
    gh.create_repo("course-org", "course", {"DockerfileVolume": DOCKERFILE})
    owner = hub.owner()

    students = create_source(hub, "alice-course", "alice", owner)
    own = create_source(hub, "instructor-course", instructor, owner)
    in_org = create_source(hub, "org-course", "course-org", owner)

    assert students.status_code == 403
    assert "is not an admin of alice/course" in students.json()["error"]
    assert own.status_code == 201 and in_org.status_code == 201
    unlinked = requests.delete(
        f"{hub.url}/_sandbox/dockerhub/users/{hub.seeded['dockerhub']['owner']}/github-link",
        timeout=5,
    )
    assert unlinked.json()["linked_github_login"] is None
    nothing_linked = create_source(hub, "again-course", instructor, owner)
    assert nothing_linked.status_code == 403
    assert "No GitHub account is linked" in nothing_linked.json()["error"]


# -- the unkind demo -----------------------------------------------------------------------------------


def test_the_unkind_demo_has_students_own_repositories_and_some_installations(
    gh: GitHub, hub: Hub
) -> None:
    seeded = requests.post(
        f"{hub.url}/_sandbox/reset", json={"seed": "demo-unkind"}, timeout=10
    ).json()
    app = seeded["github"]["app"]
    course_token = seeded["github"]["instructor"]["token"]
    students = seeded["students"]
    private = [s for s in students if s["private"]]
    public = [s for s in students if not s["private"]]
    installed = [s for s in students if s["app_installation_id"]]
    assert private and public and installed and len(installed) < len(students)

    assert gh.api("GET", f"/repos/{private[0]['github_repo']}", course_token).status_code == 404
    hook = gh.api(
        "POST",
        f"/repos/{public[0]['github_repo']}/hooks",
        course_token,
        json={"config": {"url": "https://hubcourse.example/hooks/github", "content_type": "json"}},
    )
    assert hook.status_code == 404
    for student in students:
        found = gh.api("GET", f"/repos/{student['github_repo']}/installation", app_jwt(app))
        assert found.status_code == (200 if student["app_installation_id"] else 404)
    owner = {
        "Authorization": f"Bearer {hub.login(seeded['dockerhub']['owner'], seeded['dockerhub']['owner_password'])}"
    }
    hub.seeded = seeded
    assert create_source(hub, "unkind-course", public[0]["github_login"], owner).status_code == 403


def test_a_user_token_of_the_app_reads_emails_only_with_the_email_addresses_permission(
    gh: GitHub, app: dict[str, Any], alice: dict[str, Any]
) -> None:
    token = user_access_token(gh, app, "alice")
    emails = gh.api("GET", "/user/emails", token)
    assert emails.status_code == 200, emails.text
    assert emails.json()[0]["email"] == "alice@example.edu"

    permissions = {k: v for k, v in app["permissions"].items() if k != "emails"}
    control(gh, "PATCH", f"/apps/{app['slug']}", permissions=permissions)
    assert gh.api("GET", "/user/emails", token).status_code == 404
