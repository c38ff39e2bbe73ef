"""Organisation access tokens (OATs): ``/v2/orgs/{org}/access-tokens``, as the spec documents.

hubcourse's github-actions backend stores, per student, a token that may push to that
student's repository only. The routes follow the spec's shapes (``orgAccessToken``; the list
counts with ``total``, not ``count``; the secret ``token`` only in the create answer) and the
notes §3. Scopes are the values of Docker's access token reference (``scope-image-push``...,
plus the spec's own example ``repo-pull``), checked by ``dockerhub_common.token_repo_level``
on the repository API and by ``dockerhub.may_push`` on a registry push.

Fidelity: Docker documents that organisation owners manage OATs and lists no OAT scope for
managing tokens, so here only a signed-in owner (password or personal access token) may; an
OAT gets 403. ``description`` and ``resources`` are stored and shown; a ``TYPE_ORG`` resource
is accepted and stored but grants nothing in the sandbox. A ``TYPE_REPO`` path must name a
repository of this organisation that exists, a glob of them (``org/*``) or ``*/*/public``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify

from sandbox import dockerhub_common as common
from sandbox.dockerhub_common import HubError, json_body, value_error
from sandbox.world import World

bp = Blueprint("dockerhub_oats", __name__)

ORG_SCOPES = frozenset(
    {
        "scope-member-read",
        "scope-member-edit",
        "scope-invite-read",
        "scope-invite-edit",
        "scope-group-read",
        "scope-group-edit",
        "scope-activity-read",
        "scope-repository-create",
        "scope-repository-list",
    }
)
LABEL_MAX = 100


@bp.errorhandler(HubError)
def _hub_error(exc: HubError) -> Response:
    return exc.response()


def _managed_org(org_name: str) -> dict[str, Any]:
    identity = common.require_auth()
    org = common.get_org(org_name)
    if identity.kind != "user":
        raise HubError(
            403,
            "Organization access tokens are managed by organization owners.",
            message="forbidden",
        )
    common.require_org_owner(identity, org)
    return org


def _iso(w: World, value: float | None) -> str | None:
    return w.iso(value) if value is not None else None


def token_view(w: World, token: dict[str, Any], *, resources: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": token["id"],
        "label": token["label"],
        "created_by": token.get("created_by", ""),
        "is_active": token["is_active"],
        "created_at": w.iso(token["created_at"]),
        "expires_at": _iso(w, token.get("expires_at")),
        "last_used_at": _iso(w, token.get("last_used_at")),
    }
    if resources:
        view["resources"] = list(token.get("resources") or [])
    return view


def _expiry(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise value_error("expires_at", "Not a valid date-time.")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise value_error("expires_at", "Not a valid date-time.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _resources(w: World, org: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise value_error("resources", "At least one resource is required.")
    cleaned: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise value_error("resources", "Each resource is an object.")
        kind, path, scopes = item.get("type"), item.get("path"), item.get("scopes")
        if kind not in ("TYPE_REPO", "TYPE_ORG"):
            raise value_error("resources", f"Unknown resource type {kind!r}.")
        if not isinstance(path, str) or not path:
            raise value_error("resources", "A resource needs a path.")
        if (
            not isinstance(scopes, list)
            or not scopes
            or not all(isinstance(scope, str) for scope in scopes)
        ):
            raise value_error("resources", "A resource needs its scopes.")
        known = common.OAT_REPO_LEVELS if kind == "TYPE_REPO" else ORG_SCOPES
        unknown = [scope for scope in scopes if scope not in known]
        if unknown:
            raise value_error("resources", f"Unknown scope {unknown[0]!r} for {kind}.")
        if kind == "TYPE_REPO":
            _check_repo_path(w, org, path)
        elif path.lower() != org["orgname"]:
            raise value_error("resources", f"{path} is not this organization.")
        cleaned.append({"type": kind, "path": path.lower(), "scopes": list(scopes)})
    return cleaned


def _check_repo_path(w: World, org: dict[str, Any], path: str) -> None:
    if path == "*/*/public":
        return
    namespace, _, name = path.lower().partition("/")
    if namespace != org["orgname"] or not name:
        raise value_error("resources", f"{path} is not a repository of {org['orgname']}.")
    if "*" not in name and f"{namespace}/{name}" not in w.dockerhub["repos"]:
        raise value_error("resources", f"The repository {path} does not exist.")


def _token_or_404(org: dict[str, Any], token_id: str) -> dict[str, Any]:
    token: dict[str, Any] | None = org["access_tokens"].get(token_id)
    if token is None:
        raise common.not_found()
    return token


@bp.post("/v2/orgs/<org_name>/access-tokens")
def create_token(org_name: str) -> Response:
    data = json_body()
    label = common.require_str(data, "label")
    if len(label) > LABEL_MAX:
        raise value_error("label", f"Ensure this field has no more than {LABEL_MAX} characters.")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise value_error("description", "Not a valid string.")
    w = common.world()
    with w.lock:
        org = _managed_org(org_name)
        resources = _resources(w, org, data.get("resources"))
        expires_at = _expiry(data.get("expires_at"))
        identity = common.require_auth()
        token_id = w.new_id()
        token = {
            "id": token_id,
            "label": label,
            "description": description,
            "token": "dckr_oat_" + secrets.token_urlsafe(24),
            "is_active": True,
            "created_at": w.now(),
            "created_by": identity.name,
            "expires_at": expires_at,
            "last_used_at": None,
            "resources": resources,
        }
        org["access_tokens"][token_id] = token
        view = {**token_view(w, token), "token": token["token"]}
    w.count("dockerhub.oat")
    response = jsonify(view)
    response.status_code = 201
    return response


@bp.get("/v2/orgs/<org_name>/access-tokens")
def list_tokens(org_name: str) -> Response:
    w = common.world()
    with w.lock:
        org = _managed_org(org_name)
        tokens = sorted(org["access_tokens"].values(), key=lambda t: (t["created_at"], t["id"]))
        items = [token_view(w, token, resources=False) for token in tokens]
        return jsonify(common.paginate(items, count_key="total"))


@bp.get("/v2/orgs/<org_name>/access-tokens/<token_id>")
def get_token(org_name: str, token_id: str) -> Response:
    w = common.world()
    with w.lock:
        org = _managed_org(org_name)
        return jsonify(token_view(w, _token_or_404(org, token_id)))


@bp.patch("/v2/orgs/<org_name>/access-tokens/<token_id>")
def update_token(org_name: str, token_id: str) -> Response:
    data = json_body()
    w = common.world()
    with w.lock:
        org = _managed_org(org_name)
        token = _token_or_404(org, token_id)
        if "label" in data:
            token["label"] = common.require_str(data, "label")[:LABEL_MAX]
        if "description" in data and isinstance(data["description"], str):
            token["description"] = data["description"]
        if "is_active" in data:
            token["is_active"] = common.optional_bool(data, "is_active", token["is_active"])
        if "resources" in data:
            token["resources"] = _resources(w, org, data["resources"])
        return jsonify(token_view(w, token))


@bp.delete("/v2/orgs/<org_name>/access-tokens/<token_id>")
def delete_token(org_name: str, token_id: str) -> Response:
    w = common.world()
    with w.lock:
        org = _managed_org(org_name)
        _token_or_404(org, token_id)
        # Deleting is permanent: a JWT made from it dies too (credential_alive).
        del org["access_tokens"][token_id]
    return Response(status=204)
