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
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from nacl.public import PublicKey, SealedBox
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)

from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub, Receiver, start_receiver

SPEC_PATH = Path(__file__).resolve().parents[2] / ".cache" / "octokit" / "api.github.com.deref.json"
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
    if not SPEC_PATH.exists():
        message = f"GitHub's OpenAPI description is absent ({SPEC_PATH}); run scripts/fetch_github_openapi.sh"
        # CI must check the sandbox against it: there a missing description is a failure.
        if os.environ.get("CI") == "true" or os.environ.get("GITHUB_OPENAPI_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


# Defects of the description itself, each with why it is one: (method, path, status) -> why.
# For these the body is validated against the named alternative instead of the whole schema.
SPEC_DEFECTS: dict[tuple[str, str, int], tuple[int, str]] = {
    ("PUT", "/repos/{owner}/{repo}/contents/{path}", 409): (
        0,
        "oneOf [basic-error, repository-rule-violation-error]: both accept any "
        "{message, documentation_url}, so every 409 body matches both and oneOf always fails",
    ),
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
        response = self.gh.api(method, path, token, json=body, allow_redirects=False)
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
