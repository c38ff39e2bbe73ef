"""Every documented Docker Hub route the sandbox serves, validated against Docker's own spec.

The spec (``shared/specs/dockerhub-api-latest.yaml``) is loaded verbatim, then corrected where
it is known to be wrong (notes §1 and §15). Each correction is one named function below, with
the reason; nothing else is relaxed. A scenario drives the sandbox through the routes like a
client would; every request and response it makes is checked by openapi-core.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

SPEC_CANDIDATES = (
    Path(os.environ.get("DOCKERHUB_SPEC", "/nonexistent")),
    Path(__file__).resolve().parents[3] / "shared" / "specs" / "dockerhub-api-latest.yaml",
    Path("/work/shared/specs/dockerhub-api-latest.yaml"),
)

Spec = dict[str, Any]


def _spec_path() -> Path | None:
    return next((p for p in SPEC_CANDIDATES if p.is_file()), None)


# -- named exceptions: the spec's known defects --------------------------------------------


def fix_integer_status_keys(spec: Spec) -> None:
    """§15: YAML reads ``201:`` as an integer; OpenAPI wants string status codes."""
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}


def fix_missing_response_descriptions(spec: Spec) -> None:
    """§15: the 200s of GET/HEAD .../repositories/{repository} have no ``description``."""
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for response in operation.get("responses", {}).values():
                    if isinstance(response, dict) and "$ref" not in response:
                        response.setdefault("description", "")


def fix_boolean_required(spec: Spec) -> None:
    """§15: ``required: true`` written on single properties instead of a list on the object."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                wanted = [
                    name
                    for name, prop in props.items()
                    if isinstance(prop, dict) and prop.get("required") is True
                ]
                for name in wanted:
                    del props[name]["required"]
                if wanted:
                    node["required"] = sorted(set(node.get("required") or []) | set(wanted))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


def fix_undeclared_path_parameter(spec: Spec) -> None:
    """§15: ``/v2/orgs/{name}/access-tokens`` (and settings) use ``{name}`` without declaring it."""
    for path, item in spec["paths"].items():
        if "{name}" not in path:
            continue
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                params = operation.setdefault("parameters", [])
                if not any(isinstance(p, dict) and p.get("name") == "name" for p in params):
                    params.append(
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    )


def fix_dangling_team_repo_ref(spec: Spec) -> None:
    """§1 bug 2: ``schemas.team_repo`` points at a response that does not exist."""
    spec["components"]["schemas"]["team_repo"] = {"type": "object"}


def fix_bearer_auth_name(spec: Spec) -> None:
    """§1 bug 1: CreateRepository names the scheme ``BearerAuth``; only ``bearerAuth`` exists."""
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for requirement in operation.get("security", []) or []:
                    if "BearerAuth" in requirement:
                        requirement["bearerAuth"] = requirement.pop("BearerAuth")


def fix_search_is_a_string(spec: Spec) -> None:
    """§1 bug 3: ``search`` is typed integer; it is a search term."""
    spec["components"]["parameters"]["search"]["schema"] = {"type": "string"}


def fix_tag_images_is_an_array(spec: Spec) -> None:
    """§1 bug 4: ``tag.images`` is an array of images in reality (hub-tool, Terraform)."""
    spec["components"]["schemas"]["tag"]["properties"]["images"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/image"},
    }


def fix_members_list_is_one_page(spec: Spec) -> None:
    """§1 bug 5: the members list is one page object, not an array of pages."""
    response = spec["paths"]["/v2/orgs/{org_name}/members"]["get"]["responses"]["200"]
    response["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/org_member_paginated"
    }


def fix_bulk_invite_body(spec: Spec) -> None:
    """§1 bug 6: the 202 body is ``{"invitees": [...]}``, not ``{"invitees": {"invitees": [...]}}``."""
    responses = spec["paths"]["/v2/invites/bulk"]["post"]["responses"]
    ref = responses["202"]
    if "$ref" in ref:
        ref = spec["components"]["responses"][ref["$ref"].rsplit("/", 1)[-1]]
    ref["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/bulk_invite"}


def fix_nullable_page_links(spec: Spec) -> None:
    """§15: ``next``/``previous`` are null on the first/last page, but are not marked nullable.

    Applied to every schema with string ``next``/``previous`` (shared ``page`` and inline ones).
    """

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and "results" in props:
                for link in ("next", "previous"):
                    if isinstance(props.get(link), dict) and props[link].get("type") == "string":
                        props[link]["nullable"] = True
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    for name in ("page", "org_member_paginated"):
        for link in ("next", "previous"):
            spec["components"]["schemas"][name]["properties"][link]["nullable"] = True


def fix_undocumented_429_and_401(spec: Spec) -> None:
    """§15: any request may get 429 (the rate-limiting tag) and bearer routes 401, undocumented."""
    error = {
        "description": "sandbox: undocumented error",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}, "message": {"type": "string"}},
                }
            }
        },
    }
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", copy.deepcopy(error))
                operation["responses"].setdefault("401", copy.deepcopy(error))


SPEC_FIXES: tuple[Callable[[Spec], None], ...] = (
    fix_integer_status_keys,
    fix_missing_response_descriptions,
    fix_boolean_required,
    fix_undeclared_path_parameter,
    fix_dangling_team_repo_ref,
    fix_bearer_auth_name,
    fix_search_is_a_string,
    fix_tag_images_is_an_array,
    fix_members_list_is_one_page,
    fix_bulk_invite_body,
    fix_nullable_page_links,
    fix_undocumented_429_and_401,
)


def load_spec(server_url: str) -> Spec:
    path = _spec_path()
    if path is None:
        pytest.skip("dockerhub-api-latest.yaml not found (set DOCKERHUB_SPEC)")
    with open(path, encoding="utf-8") as fh:
        spec: Spec = yaml.safe_load(fh)
    for fix in SPEC_FIXES:
        fix(spec)
    # The sandbox stands where hub.docker.com stands.
    spec["servers"] = [{"url": server_url}]
    return spec


# -- the scenario ---------------------------------------------------------------------------

# Documented routes the sandbox does not serve, because hubcourse does not use them.
NOT_SERVED = {
    "/v2/users/2fa-login",
    "/v2/access-tokens",
    "/v2/access-tokens/{uuid}",
    "/v2/orgs/{name}/settings",
    "/v2/namespaces/{namespace}/repositories/{repository}/immutabletags",
    "/v2/namespaces/{namespace}/repositories/{repository}/immutabletags/verify",
}


class Recorder:
    """A requests session that keeps every exchange for validation afterwards."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.exchanges: list[requests.Response] = []
        self.session.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.exchanges.append(response)

    def call(
        self, method: str, path: str, token: str | None = None, expect: int = 200, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.session.request(
            method, self.base + path, headers=headers, timeout=5, **kwargs
        )
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text[:300]}"
        )
        return response


@pytest.fixture
def recorded(hub: Any) -> Iterator[tuple[Recorder, Any]]:
    from sandbox.dockerhub import push_tag

    rec = Recorder(hub.url)
    seeded = hub.seeded["dockerhub"]
    org = seeded["org"]
    token = rec.call(
        "POST", "/v2/auth/token", json={"identifier": org, "secret": seeded["org_token"]}
    ).json()["access_token"]
    rec.call("POST", "/v2/auth/token", json={"identifier": org, "secret": "wrong"}, expect=401)
    owner = rec.call(
        "POST",
        "/v2/users/login",
        json={"username": seeded["owner"], "password": seeded["owner_password"]},
    ).json()["token"]
    rec.call(
        "POST", "/v2/users/login", json={"username": seeded["owner"], "password": "x"}, expect=401
    )

    hub.create_user("fidelityone")
    hub.create_user("fidelitytwo")
    invited = rec.call(
        "POST",
        "/v2/invites/bulk",
        token,
        expect=202,
        json={"org": org, "invitees": ["fidelityone", "fidelitytwo", "bad id", seeded["owner"]]},
        headers={"X-Analytics-Client-Feature": "web"},
    ).json()
    rec.call(
        "POST",
        "/v2/invites/bulk",
        token,
        expect=202,
        json={"org": org, "invitees": ["x@y.io"], "dry_run": True},
    )
    rec.call("POST", "/v2/invites/bulk", token, expect=400, json={"org": org})
    rec.call("GET", f"/v2/orgs/{org}/invites", token)
    second_invite = invited["invitees"][1]["invite"]["id"]
    rec.call("PATCH", f"/v2/invites/{second_invite}/resend", token, expect=204)
    rec.call("DELETE", f"/v2/invites/{second_invite}", token, expect=204)
    rec.call("DELETE", f"/v2/invites/{second_invite}", token, expect=404)
    requests.post(
        f"{hub.url}/_sandbox/dockerhub/orgs/{org}/accept",
        json={"invitee": "fidelityone"},
        timeout=5,
    )

    rec.call("GET", f"/v2/orgs/{org}/members", token, params={"page_size": 1})
    rec.call(
        "GET",
        f"/v2/orgs/{org}/members",
        token,
        params={"search": "fidelity", "type": "all", "page": 1},
    )
    rec.call("GET", f"/v2/orgs/{org}/members", token, params={"role": "owner", "invites": "true"})
    rec.call("GET", f"/v2/orgs/{org}/members/export", token)
    rec.call("PUT", f"/v2/orgs/{org}/members/fidelityone", token, json={"role": "member"})
    rec.call("GET", "/v2/orgs/nosuchorg/members", token, expect=404)

    team = rec.call(
        "POST",
        f"/v2/orgs/{org}/groups",
        token,
        expect=201,
        json={"name": "students", "description": "class"},
    ).json()
    rec.call("POST", f"/v2/orgs/{org}/groups", token, expect=400, json={"description": "no name"})
    rec.call(
        "GET", f"/v2/orgs/{org}/groups", token, params={"page": 1, "page_size": 10, "search": "stu"}
    )
    rec.call("GET", f"/v2/orgs/{org}/groups/students", token)
    rec.call(
        "PATCH", f"/v2/orgs/{org}/groups/students", token, json={"description": "class of 2026"}
    )
    rec.call(
        "PUT",
        f"/v2/orgs/{org}/groups/students",
        token,
        json={"name": "students", "description": "c"},
    )
    rec.call("GET", f"/v2/orgs/{org}/groups/nosuch", token, expect=404)
    rec.call(
        "POST", f"/v2/orgs/{org}/groups/students/members", token, json={"member": "fidelityone"}
    )
    rec.call("GET", f"/v2/orgs/{org}/groups/students/members", token, params={"search": "fid"})
    rec.call("DELETE", f"/v2/orgs/{org}/groups/students/members/fidelityone", token, expect=204)

    repo_path = f"/v2/namespaces/{org}/repositories"
    rec.call(
        "POST",
        repo_path,
        token,
        expect=201,
        json={
            "name": "fidelity-repo",
            "namespace": org,
            "description": "d",
            "is_private": False,
            "registry": "docker.io",
        },
    )
    rec.call("POST", repo_path, token, expect=400, json={"name": "Bad Name", "namespace": org})
    rec.call("POST", repo_path, expect=401, json={"name": "anon", "namespace": org})
    rec.call(
        "GET", repo_path, token, params={"page": 1, "page_size": 10, "ordering": "-last_updated"}
    )
    rec.call("GET", repo_path, params={"page": 5}, expect=404)
    rec.call("GET", repo_path, token, params={"ordering": "stars"}, expect=400)
    rec.call("GET", f"{repo_path}/fidelity-repo", token)
    rec.call("HEAD", f"{repo_path}/fidelity-repo", token)
    rec.call("GET", f"{repo_path}/nosuchrepo", token, expect=404)
    # Docker Official and Verified Publisher images, as pre-flight reads them: the whole
    # repository_info, anonymously too.
    rec.call("GET", "/v2/namespaces/library/repositories/python", token)
    rec.call("GET", "/v2/namespaces/library/repositories/python")
    rec.call("GET", "/v2/namespaces/bitnami/repositories/python", token)
    rec.call("GET", "/v2/namespaces/library/repositories/python/tags/3.12", token)
    rec.call(
        "POST",
        f"/v2/repositories/{org}/fidelity-repo/groups",
        token,
        json={"group_id": team["id"], "permission": "write"},
    )
    rec.call(
        "POST",
        f"/v2/repositories/{org}/fidelity-repo/groups",
        token,
        expect=400,
        json={"group_id": team["id"], "permission": "owner"},
    )

    tokens = f"/v2/orgs/{org}/access-tokens"
    scoped = rec.call(
        "POST",
        tokens,
        owner,
        expect=201,
        json={
            "label": "push fidelity-repo",
            "description": "one repository",
            "resources": [
                {
                    "type": "TYPE_REPO",
                    "path": f"{org}/fidelity-repo",
                    "scopes": ["scope-image-push"],
                }
            ],
            "expires_at": None,
        },
    ).json()
    rec.call("POST", tokens, owner, expect=400, json={"label": "no resources", "resources": []})
    rec.call("POST", tokens, token, expect=403, json={"label": "x", "resources": []})
    rec.call("GET", tokens, owner, params={"page": 1, "page_size": 10})
    rec.call("GET", f"{tokens}/{scoped['id']}", owner)
    rec.call("PATCH", f"{tokens}/{scoped['id']}", owner, json={"is_active": False})
    rec.call("DELETE", f"{tokens}/{scoped['id']}", owner, expect=204)
    rec.call("GET", f"{tokens}/{scoped['id']}", owner, expect=404)

    push_tag(hub.world, org, "fidelity-repo", "latest", seeded["owner"])
    rec.call("GET", f"{repo_path}/fidelity-repo/tags", token, params={"page": 1, "page_size": 10})
    rec.call("HEAD", f"{repo_path}/fidelity-repo/tags", token)
    rec.call("GET", f"{repo_path}/fidelity-repo/tags/latest", token)
    # A page over 100 is capped, not refused (tests/fidelity/STATUSES.md).
    rec.call("GET", f"{repo_path}/fidelity-repo/tags", token, params={"page_size": 1000})
    rec.call("HEAD", f"{repo_path}/fidelity-repo/tags/latest", token)
    rec.call("GET", f"{repo_path}/fidelity-repo/tags/nope", token, expect=404)

    rec.call(
        "GET", f"/v2/auditlogs/{org}", token, params={"action": "repo.tag.push", "page_size": 5}
    )
    rec.call("GET", f"/v2/auditlogs/{org}/actions", token)

    rec.call("DELETE", f"/v2/orgs/{org}/members/fidelityone", owner, expect=204)
    rec.call("DELETE", f"/v2/orgs/{org}/members/{seeded['owner']}", owner, expect=400)
    rec.call("DELETE", f"/v2/orgs/{org}/groups/students", token, expect=204)

    hub.world.config.update({"rate_limit": 1})
    hub.world.rate_windows.clear()
    rec.call("GET", f"/v2/orgs/{org}/groups", token)
    rec.call("GET", f"/v2/orgs/{org}/groups", token, expect=429)
    yield rec, hub


def _template_of(openapi_paths: list[str], path: str) -> str | None:
    import re

    for template in openapi_paths:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    return None


def test_every_exchange_validates_against_the_spec(recorded: tuple[Recorder, Any]) -> None:
    from urllib.parse import urlsplit

    from openapi_core import OpenAPI
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    rec, hub = recorded
    spec = load_spec(hub.url)
    openapi = OpenAPI.from_dict(spec)
    # Longest templates first, so /tags/{tag} wins over /{repository} and so on.
    templates = sorted(spec["paths"], key=lambda p: (-p.count("/"), p))
    problems: list[str] = []
    covered: set[tuple[str, str]] = set()
    for response in rec.exchanges:
        request = response.request
        path = urlsplit(str(request.url)).path
        template = _template_of(templates, path)
        assert template is not None, f"{request.method} {path} is not a documented route"
        covered.add((str(request.method), template))
        openapi_request = RequestsOpenAPIRequest(request)
        # Requests answered 4xx were wrong on purpose (bad names, no token, bad ordering):
        # only their answers are checked.
        if response.status_code < 400:
            for error in openapi.iter_request_errors(openapi_request):
                problems.append(f"request {request.method} {path}: {error}")
        if request.method == "HEAD":
            continue  # no body to validate; the status is checked by the scenario
        if response.headers.get("Content-Type", "").startswith("text/csv"):
            # §15: the export's row schema is an array of objects (with a `Role` column it never
            # defines) for a text/csv body no validator can read; the CSV header row is checked
            # in test_dockerhub_orgs instead.
            continue
        for error in openapi.iter_response_errors(
            openapi_request, RequestsOpenAPIResponse(response)
        ):
            cause = getattr(error, "__cause__", None)
            problems.append(
                f"response {request.method} {path} {response.status_code}: {error} {cause or ''}"
            )
    assert not problems, "\n".join(problems)

    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete", "head")
        and path not in NOT_SERVED
        and not path.startswith("/v2/scim/")
    }
    assert documented - covered == set()
