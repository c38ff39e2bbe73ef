"""Every GitHub route the sandbox serves, checked against GitHub's published OpenAPI description.

The description is the npm package ``@octokit/openapi`` (a republication of
github/rest-api-description), file ``generated/api.github.com.deref.json``; fetch it with
``scripts/fetch_github_openapi.sh``. Each exchange checks that the status is documented for the
operation, that the JSON body validates against the documented schema (OpenAPI 3.0 rules,
``nullable`` included, formats such as ``date-time`` checked), and that a request body we send
validates against the operation's request schema. Query parameters used must be documented too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from nacl.public import PublicKey, SealedBox
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)

from tests.fidelity.descriptions import github_spec
from tests.sandbox.app_support import app_jwt, control, install, user_access_token
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub, Receiver, start_receiver

WORKFLOW = """\
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo building
"""


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # Skipped without the description locally; failed under CI (tests/fidelity/descriptions).
    return github_spec()


# Defects of the description itself, each with why it is one: (method, path, status) -> why.
# For these the body is validated against the named alternative instead of the whole schema.
SPEC_DEFECTS: dict[tuple[str, str, int], tuple[int, str]] = {
    ("PUT", "/repos/{owner}/{repo}/contents/{path}", 409): (
        0,
        "oneOf [basic-error, repository-rule-violation-error]: both accept any "
        "{message, documentation_url}, so every 409 body matches both and oneOf always fails",
    ),
}


def _account_any_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``GET /app/installations``: each item's ``account`` is ``allOf [Simple User, Enterprise]``,
    which no account can satisfy (a user has no ``slug``, an enterprise no ``login``); the same
    field of ``GET /app/installations/{installation_id}`` says ``anyOf``, the evident intent."""
    account = schema["items"]["properties"]["account"]
    fixed_account = {"nullable": True, "anyOf": account["allOf"]}
    items = {
        **schema["items"],
        "properties": {**schema["items"]["properties"], "account": fixed_account},
    }
    return {**schema, "items": items}


# Defects of the description fixed by rewriting the schema: (method, path, status) -> fix.
SCHEMA_FIXES: dict[tuple[str, str, int], Any] = {
    ("GET", "/app/installations", 200): _account_any_of,
}


def _nullable_enums(schema: Any) -> Any:
    """Defect of the description: fields marked ``nullable`` with an ``enum`` that lacks null.

    OpenAPI 3.0.3 says such an enum must list null to accept it; GitHub's description does
    not, yet GitHub sends null there (``workflow_run.conclusion`` until a run completes). The
    intent is clearly "nullable", so null is added to those enums before validating.
    """
    if isinstance(schema, list):
        return [_nullable_enums(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    fixed = {key: _nullable_enums(value) for key, value in schema.items()}
    if (
        fixed.get("nullable") is True
        and isinstance(fixed.get("enum"), list)
        and None not in fixed["enum"]
    ):
        fixed["enum"] = [*fixed["enum"], None]
    return fixed


def _errors(validator_class: Any, schema: dict[str, Any], instance: Any) -> list[str]:
    validator = validator_class(_nullable_enums(schema), format_checker=oas30_format_checker)
    found = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message[:300]}")
    return found


class Checker:
    """Sends requests and records every deviation from the description, per operation."""

    def __init__(self, spec: dict[str, Any], gh: GitHub) -> None:
        self.spec = spec
        self.gh = gh
        self.checked: list[str] = []

    def call(
        self,
        method: str,
        template: str,
        path: str,
        token: str | None,
        *,
        body: dict[str, Any] | None = None,
        expect: int,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        operation = self.spec["paths"][template][method.lower()]
        label = f"{method} {template} -> {expect}"
        if body is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            problems = _errors(OAS30WriteValidator, schema, body)
            assert not problems, f"{label}: our request body is not valid: {problems}"
        query = urllib.parse.urlparse(path).query
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for name in urllib.parse.parse_qs(query):
            assert name in documented, f"{label}: query parameter {name} is not documented"
        response = self.gh.api(
            method, path, token, json=body, allow_redirects=False, headers=headers or {}
        )
        assert response.status_code == expect, (
            f"{label}: got {response.status_code} {response.text[:300]}"
        )
        responses = operation["responses"]
        assert str(expect) in responses, f"{label}: status {expect} is not documented"
        content = responses[str(expect)].get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            defect = SPEC_DEFECTS.get((method, template, expect))
            if defect is not None:
                schema = schema["oneOf"][defect[0]]
            fix = SCHEMA_FIXES.get((method, template, expect))
            if fix is not None:
                schema = fix(schema)
            problems = _errors(OAS30ReadValidator, schema, response.json())
            assert not problems, f"{label}: response does not match the description:\n" + "\n".join(
                problems[:15]
            )
        elif response.content:
            assert not response.headers.get("Content-Type", "").startswith("application/json"), (
                label
            )
        self.checked.append(label)
        return response


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.stop()


@pytest.fixture
def world_with_a_repo(gh: GitHub, hub: Hub) -> dict[str, Any]:
    user = gh.create_user("alice")
    files = {
        "DockerfileVolume": 'FROM python:3.12-slim\nCMD ["python"]\n',
        "src/app.py": "print('hi')\n",
        ".github/workflows/build.yml": WORKFLOW,
    }
    gh.create_repo("alice", "docker-class", files)
    gh.push("alice/docker-class", {"src/app.py": "print('v2')\n"}, message="Second")
    assert hub.world.wait_idle(10)
    return user


def test_user_and_repository_reads_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    check.call("GET", "/user", "/user", token, expect=200)
    check.call("GET", "/user", "/user", None, expect=401)
    check.call("GET", "/user", "/user", "ghp_unknown", expect=401)
    check.call("GET", "/user/emails", "/user/emails", token, expect=200)
    check.call("GET", "/user/repos", "/user/repos?per_page=5&sort=pushed", token, expect=200)
    check.call("GET", "/users/{username}", "/users/alice", None, expect=200)
    check.call("GET", "/users/{username}", "/users/nobody-here", None, expect=404)
    check.call("GET", "/repos/{owner}/{repo}", "/repos/alice/docker-class", token, expect=200)
    check.call("GET", "/repos/{owner}/{repo}", "/repos/alice/docker-class", None, expect=200)
    check.call("GET", "/repos/{owner}/{repo}", "/repos/alice/missing", token, expect=404)
    check.call(
        "GET",
        "/repos/{owner}/{repo}/branches",
        "/repos/alice/docker-class/branches",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}",
        "/repos/alice/docker-class/branches/main",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}",
        "/repos/alice/docker-class/branches/nope",
        token,
        expect=404,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}",
        "/repos/alice/docker-class/commits/main",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}",
        "/repos/alice/docker-class/commits/abcdef1",
        token,
        expect=422,
    )
    check.call("GET", "/rate_limit", "/rate_limit", token, expect=200)
    check.call(
        "PATCH",
        "/repos/{owner}/{repo}",
        "/repos/alice/docker-class",
        token,
        body={"name": "docker-course", "description": "Renamed"},
        expect=200,
    )
    check.call("GET", "/repos/{owner}/{repo}", "/repos/alice/docker-class", token, expect=301)


def test_contents_reads_and_writes_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    template = "/repos/{owner}/{repo}/contents/{path}"
    base = "/repos/alice/docker-class/contents"
    check.call("GET", template, f"{base}/DockerfileVolume?ref=main", token, expect=200)
    check.call("GET", template, f"{base}/src", token, expect=200)
    check.call("GET", template, f"{base}/nothing", token, expect=404)
    content = base64.b64encode(b"notes\n").decode()
    created = check.call(
        "PUT",
        template,
        f"{base}/NOTES.md",
        token,
        body={"message": "Add notes", "content": content},
        expect=201,
    )
    sha = created.json()["content"]["sha"]
    check.call(
        "PUT",
        template,
        f"{base}/NOTES.md",
        token,
        body={"message": "Edit notes", "content": content, "sha": sha, "branch": "main"},
        expect=200,
    )
    check.call(
        "PUT",
        template,
        f"{base}/NOTES.md",
        token,
        body={"message": "Stale", "content": content, "sha": "0" * 40},
        expect=409,
    )
    check.call(
        "PUT",
        template,
        f"{base}/NOTES.md",
        token,
        body={"message": "No sha", "content": content},
        expect=422,
    )
    check.call(
        "DELETE",
        template,
        f"{base}/NOTES.md",
        token,
        body={"message": "Remove", "sha": sha},
        expect=200,
    )


def test_webhook_routes_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any], receiver: Receiver
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    hooks = "/repos/alice/docker-class/hooks"
    body = {
        "name": "web",
        "active": True,
        "events": ["push", "workflow_run"],
        "config": {"url": receiver.url, "content_type": "json", "secret": "s", "insecure_ssl": "0"},
    }
    hook = check.call(
        "POST", "/repos/{owner}/{repo}/hooks", hooks, token, body=body, expect=201
    ).json()
    check.call("POST", "/repos/{owner}/{repo}/hooks", hooks, token, body=body, expect=422)
    check.call("GET", "/repos/{owner}/{repo}/hooks", hooks, token, expect=200)
    one = "/repos/{owner}/{repo}/hooks/{hook_id}"
    check.call("GET", one, f"{hooks}/{hook['id']}", token, expect=200)
    check.call(
        "PATCH", one, f"{hooks}/{hook['id']}", token, body={"add_events": ["ping"]}, expect=200
    )
    check.call("GET", one, f"{hooks}/999", token, expect=404)
    check.call(
        "POST",
        "/repos/{owner}/{repo}/hooks/{hook_id}/pings",
        f"{hooks}/{hook['id']}/pings",
        token,
        expect=204,
    )
    check.call("DELETE", one, f"{hooks}/{hook['id']}", token, expect=204)
    check.call("DELETE", one, f"{hooks}/{hook['id']}", token, expect=404)


def test_secret_routes_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    base = "/repos/alice/docker-class/actions/secrets"
    key = check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/secrets/public-key",
        f"{base}/public-key",
        token,
        expect=200,
    ).json()
    sealed = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt(b"dckr_oat_x")
    body = {"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]}
    one = "/repos/{owner}/{repo}/actions/secrets/{secret_name}"
    check.call("PUT", one, f"{base}/DOCKERHUB_TOKEN", token, body=body, expect=201)
    check.call("PUT", one, f"{base}/DOCKERHUB_TOKEN", token, body=body, expect=204)
    check.call("GET", one, f"{base}/DOCKERHUB_TOKEN", token, expect=200)
    check.call("GET", "/repos/{owner}/{repo}/actions/secrets", base, token, expect=200)
    check.call("DELETE", one, f"{base}/DOCKERHUB_TOKEN", token, expect=204)


def test_variable_routes_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    base = "/repos/alice/docker-class/actions/variables"
    one = "/repos/{owner}/{repo}/actions/variables/{name}"
    body = {"name": "DOCKERHUB_USERNAME", "value": "course-org"}
    check.call(
        "POST", "/repos/{owner}/{repo}/actions/variables", base, token, body=body, expect=201
    )
    # A second create is refused with 409, which the description does not list; clients
    # (gh variable set) rely on it to update instead.
    again = gh.api("POST", base, token, json=body)
    assert again.status_code == 409 and "already exists" in again.json()["message"].lower()
    got = check.call("GET", one, f"{base}/dockerhub_username", token, expect=200).json()
    assert (got["name"], got["value"]) == ("DOCKERHUB_USERNAME", "course-org")
    check.call(
        "PATCH", one, f"{base}/DOCKERHUB_USERNAME", token, body={"value": "other"}, expect=204
    )
    listed = check.call(
        "GET", "/repos/{owner}/{repo}/actions/variables", base, token, expect=200
    ).json()
    assert [(v["name"], v["value"]) for v in listed["variables"]] == [
        ("DOCKERHUB_USERNAME", "other")
    ]
    check.call("DELETE", one, f"{base}/DOCKERHUB_USERNAME", token, expect=204)
    # Not listed by the description either: GitHub's 404 for a variable that is not there,
    # and its 422 for a name it refuses.
    gone = f"{base}/DOCKERHUB_USERNAME"
    assert gh.api("GET", gone, token).status_code == 404
    assert gh.api("DELETE", gone, token).status_code == 404
    assert gh.api("PATCH", gone, token, json={"value": "x"}).status_code == 404
    bad = {"name": "GITHUB_LOGIN", "value": "x"}
    assert gh.api("POST", base, token, json=bad).status_code == 422


def test_actions_routes_match_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    base = "/repos/alice/docker-class/actions"
    check.call(
        "GET", "/repos/{owner}/{repo}/actions/workflows", f"{base}/workflows", token, expect=200
    )
    runs = check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/runs",
        f"{base}/runs?branch=main&event=push&status=completed&per_page=10",
        token,
        expect=200,
    ).json()
    # Creating the repository commits without a push event; the one push made one run.
    assert runs["total_count"] == 1
    run = runs["workflow_runs"][0]
    head_sha_query = f"{base}/runs?head_sha={run['head_sha']}"
    check.call("GET", "/repos/{owner}/{repo}/actions/runs", head_sha_query, token, expect=200)
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
        f"{base}/workflows/build.yml/runs",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/runs/{run_id}",
        f"{base}/runs/{run['id']}",
        token,
        expect=200,
    )
    jobs = check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
        f"{base}/runs/{run['id']}/jobs",
        token,
        expect=200,
    ).json()
    job_id = jobs["jobs"][0]["id"]
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/jobs/{job_id}",
        f"{base}/jobs/{job_id}",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
        f"{base}/jobs/{job_id}/logs",
        token,
        expect=302,
    )


def test_workflow_dispatch_matches_the_description(
    spec: dict[str, Any], gh: GitHub, hub: Hub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    template = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
    path = "/repos/alice/docker-class/actions/workflows/build.yml/dispatches"
    # build.yml runs on push only: GitHub refuses to dispatch it with 422, a status the
    # description leaves out (as it does the 404 of an unknown workflow).
    refused = gh.api("POST", path, token, json={"ref": "main"})
    assert refused.status_code == 422
    assert refused.json()["message"] == "Workflow does not have 'workflow_dispatch' trigger"
    gh.push(
        "alice/docker-class",
        {".github/workflows/build.yml": WORKFLOW.replace("on:\n", "on:\n  workflow_dispatch:\n")},
        message="Allow manual runs",
    )
    check.call("POST", template, path, token, body={"ref": "main"}, expect=204)
    details = check.call(
        "POST", template, path, token, body={"ref": "main", "return_run_details": True}, expect=200
    ).json()
    nowhere = "/repos/alice/docker-class/actions/workflows/nope.yml/dispatches"
    assert gh.api("POST", nowhere, token, json={"ref": "main"}).status_code == 404
    assert hub.world.wait_idle(10)
    run = gh.api(
        "GET", f"/repos/alice/docker-class/actions/runs/{details['workflow_run_id']}", token
    )
    assert run.json()["event"] == "workflow_dispatch"
    assert run.json()["conclusion"] == "success"


def test_rate_limit_refusals_match_the_description(
    spec: dict[str, Any], gh: GitHub, hub: Hub, world_with_a_repo: dict[str, Any]
) -> None:
    token = world_with_a_repo["token"]
    check = Checker(spec, gh)
    requests.post(
        f"{gh.url}/_sandbox/github/secondary-limit", json={"count": 1, "status": 403}, timeout=5
    )
    refused = check.call(
        "GET", "/repos/{owner}/{repo}", "/repos/alice/docker-class", token, expect=403
    )
    assert re.search(r"secondary rate limit", refused.json()["message"])


def _check_delivery(spec: dict[str, Any], key: str, headers: dict[str, str], body: bytes) -> None:
    """A delivered webhook against the description's ``x-webhooks`` entry: headers and body."""
    operation = spec["x-webhooks"][key]["post"]
    lowered = {name.lower() for name in headers}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter.get("required"):
            assert parameter["name"].lower() in lowered, (
                f"{key}: header {parameter['name']} missing"
            )
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    problems = _errors(OAS30ReadValidator, schema, json.loads(body))
    assert not problems, f"webhook {key} does not match the description:\n" + "\n".join(
        problems[:15]
    )


def test_webhook_payloads_match_the_description(
    spec: dict[str, Any],
    gh: GitHub,
    hub: Hub,
    world_with_a_repo: dict[str, Any],
    receiver: Receiver,
) -> None:
    token = world_with_a_repo["token"]
    body = {
        "events": ["push", "workflow_run"],
        "config": {"url": receiver.url, "content_type": "json", "secret": "s"},
    }
    assert gh.api("POST", "/repos/alice/docker-class/hooks", token, json=body).status_code == 201
    (ping,) = receiver.wait_for(1, "ping")
    _check_delivery(spec, "ping", ping.headers, ping.body)

    gh.push("alice/docker-class", {"src/app.py": "print('v3')\n"}, message="Third")
    (push,) = receiver.wait_for(1, "push")
    _check_delivery(spec, "push", push.headers, push.body)
    assert hub.world.wait_idle(10)
    runs = receiver.wait_for(3, "workflow_run")
    actions_seen = [json.loads(r.body)["action"] for r in runs]
    assert actions_seen == ["requested", "in_progress", "completed"]
    for delivery, action in zip(runs, actions_seen, strict=True):
        _check_delivery(
            spec, f"workflow-run-{action.replace('_', '-')}", delivery.headers, delivery.body
        )


# -- GitHub Apps -------------------------------------------------------------------------------


def test_app_routes_match_the_description(
    spec: dict[str, Any], gh: GitHub, hub: Hub, world_with_a_repo: dict[str, Any]
) -> None:
    app = hub.seeded["github"]["app"]
    gh.create_repo("alice", "diary", {"README.md": "x"}, private=True)
    installation_id = install(gh, app, "alice", ["docker-class"])
    check = Checker(spec, gh)
    token = app_jwt(app)
    check.call("GET", "/app", "/app", token, expect=200)
    check.call("GET", "/app/installations", "/app/installations?per_page=10", token, expect=200)
    one = "/app/installations/{installation_id}"
    check.call("GET", one, f"/app/installations/{installation_id}", token, expect=200)
    check.call("GET", one, "/app/installations/1", token, expect=404)
    tokens = "/app/installations/{installation_id}/access_tokens"
    minted = check.call(
        "POST",
        tokens,
        f"/app/installations/{installation_id}/access_tokens",
        token,
        body={"repositories": ["docker-class"], "permissions": {"contents": "read"}},
        expect=201,
    ).json()
    check.call(
        "POST",
        tokens,
        f"/app/installations/{installation_id}/access_tokens",
        token,
        body={"permissions": {"administration": "write"}},
        expect=422,
    )
    check.call("POST", tokens, "/app/installations/1/access_tokens", token, expect=404)
    check.call(
        "POST", tokens, f"/app/installations/{installation_id}/access_tokens", "ghp_x", expect=401
    )
    full = check.call(
        "POST", tokens, f"/app/installations/{installation_id}/access_tokens", token, expect=201
    ).json()["token"]
    check.call(
        "GET",
        "/repos/{owner}/{repo}/installation",
        "/repos/alice/docker-class/installation",
        token,
        expect=200,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/installation",
        "/repos/alice/diary/installation",
        token,
        expect=404,
    )
    check.call(
        "GET", "/users/{username}/installation", "/users/alice/installation", token, expect=200
    )
    check.call("GET", "/apps/{app_slug}", f"/apps/{app['slug']}", None, expect=200)
    check.call("GET", "/apps/{app_slug}", "/apps/no-such-app", None, expect=404)

    listed = check.call(
        "GET",
        "/installation/repositories",
        "/installation/repositories",
        minted["token"],
        expect=200,
    )
    check.call(
        "GET",
        "/installation/repositories",
        "/installation/repositories",
        minted["token"],
        expect=304,
        headers={"If-None-Match": listed.headers["ETag"]},
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/branches/{branch}",
        "/repos/alice/docker-class/branches/main",
        minted["token"],
        expect=200,
    )
    check.call("GET", "/repos/{owner}/{repo}", "/repos/alice/diary", minted["token"], expect=404)
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/secrets/public-key",
        "/repos/alice/docker-class/actions/secrets/public-key",
        full,
        expect=200,
    )
    check.call(
        "PUT",
        "/repos/{owner}/{repo}/contents/{path}",
        "/repos/alice/docker-class/contents/.github/workflows/ci.yml",
        full,
        body={"message": "Add CI", "content": base64.b64encode(WORKFLOW.encode()).decode()},
        expect=201,
    )
    check.call(
        "GET",
        "/repos/{owner}/{repo}/actions/runs",
        "/repos/alice/docker-class/actions/runs",
        full,
        expect=200,
    )
    # Refusals GitHub sends but the description leaves out (403 on these routes): body shape only.
    refused = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/x.md",
        minted["token"],
        json={"message": "m", "content": "eA=="},
    )
    assert refused.status_code == 403
    assert set(refused.json()) >= {"message", "documentation_url"}

    user_token = user_access_token(gh, app, "alice")
    mine = "/user/installations/{installation_id}/repositories"
    installs = check.call(
        "GET", "/user/installations", "/user/installations", user_token, expect=200
    )
    check.call(
        "GET",
        "/user/installations",
        "/user/installations",
        user_token,
        expect=304,
        headers={"If-None-Match": installs.headers["ETag"]},
    )
    check.call(
        "GET", "/user/installations", "/user/installations", world_with_a_repo["token"], expect=403
    )
    check.call("GET", "/user/installations", "/user/installations", None, expect=401)
    check.call(
        "GET", mine, f"/user/installations/{installation_id}/repositories", user_token, expect=200
    )
    check.call("GET", mine, "/user/installations/1/repositories", user_token, expect=404)

    check.call("DELETE", "/installation/token", "/installation/token", minted["token"], expect=204)
    check.call("DELETE", one, f"/app/installations/{installation_id}", token, expect=204)
    check.call("DELETE", one, f"/app/installations/{installation_id}", token, expect=404)


def test_manifest_conversion_matches_the_description(
    spec: dict[str, Any], gh: GitHub, world_with_a_repo: dict[str, Any]
) -> None:
    manifest = {
        "name": "Fidelity App",
        "url": "https://hubcourse.example",
        "hook_attributes": {"url": "https://hubcourse.example/hooks/"},
        "redirect_url": "https://hubcourse.example/created/",
        "default_permissions": {"contents": "read"},
        "default_events": ["push"],
    }
    created = requests.post(
        f"{gh.url}/settings/apps/new",
        data={"manifest": json.dumps(manifest), "state": "s", "login": "alice", "confirm": "1"},
        allow_redirects=False,
        timeout=5,
    )
    code = urllib.parse.parse_qs(urllib.parse.urlparse(created.headers["Location"]).query)["code"][
        0
    ]
    check = Checker(spec, gh)
    template = "/app-manifests/{code}/conversions"
    check.call("POST", template, f"/app-manifests/{code}/conversions", None, expect=201)
    check.call("POST", template, f"/app-manifests/{code}/conversions", None, expect=404)


def test_app_webhook_payloads_match_the_description(
    spec: dict[str, Any],
    gh: GitHub,
    hub: Hub,
    world_with_a_repo: dict[str, Any],
    receiver: Receiver,
) -> None:
    app = hub.seeded["github"]["app"]
    requests.patch(
        f"{gh.url}/_sandbox/github/apps/{app['slug']}", json={"hook_url": receiver.url}, timeout=5
    )
    gh.create_user("bob")
    gh.create_repo("alice", "notes", {"README.md": "x"})
    installation_id = install(gh, app, "alice", ["docker-class"])
    base = f"/installations/{installation_id}"
    control(gh, "POST", f"{base}/repositories", add=["notes"])
    control(gh, "POST", f"{base}/repositories", remove=["notes"])
    control(gh, "POST", f"{base}/repositories", add=["notes"])
    gh.push("alice/docker-class", {"src/app.py": "print('v9')\n"}, message="Ninth")
    assert hub.world.wait_idle(10)
    control(gh, "POST", "/repos/alice/docker-class/rename", name="docker-course")
    control(gh, "POST", "/repos/alice/docker-course/visibility", private=True)
    control(gh, "POST", "/repos/alice/docker-course/visibility", private=False)
    control(gh, "POST", "/repos/alice/notes/transfer", new_owner="bob")
    control(gh, "POST", f"{base}/suspend")
    control(gh, "POST", f"{base}/unsuspend")
    control(gh, "POST", f"{base}/accept-permissions")
    requests.delete(f"{gh.url}/_sandbox/github/repos/alice/docker-course", timeout=5)
    requests.delete(f"{gh.url}/_sandbox/github{base}", timeout=5)
    assert hub.world.wait_idle(10)

    expected = [
        "installation-created",
        "installation-repositories-added",
        "installation-repositories-removed",
        "installation-repositories-added",
        "push",
        "workflow-run-requested",
        "workflow-run-in-progress",
        "workflow-run-completed",
        "repository-renamed",
        "repository-privatized",
        "repository-publicized",
        "repository-transferred",
        "installation-suspend",
        "installation-unsuspend",
        "installation-new-permissions-accepted",
        "repository-deleted",
        "installation-deleted",
    ]
    # Deliveries run concurrently: the order of arrival is not the order of sending.
    deliveries = receiver.wait_for(len(expected))
    seen = []
    for delivery in deliveries:
        event = delivery.headers["X-GitHub-Event"]
        body = json.loads(delivery.body)
        key = event if event == "push" else f"{event}-{body['action']}"
        key = key.replace("_", "-")
        seen.append(key)
        _check_delivery(spec, key, delivery.headers, delivery.body)
        assert delivery.headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
        signature = hmac.new(app["webhook_secret"].encode(), delivery.body, hashlib.sha256)
        assert delivery.headers["X-Hub-Signature-256"] == f"sha256={signature.hexdigest()}"
        assert body["installation"]["id"] == installation_id
    assert sorted(seen) == sorted(expected)
