"""What every Docker Hub route shares: the blueprint, errors, JWT auth, permissions, pagination.

References: ``shared/specs/dockerhub-api-latest.yaml`` (the spec) and
``shared/specs/dockerhub-api-notes.md`` (the notes; section numbers below are theirs).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.world import World

bp = Blueprint("dockerhub", __name__)

TOKEN_TTL_S = 600  # "The created access token. This expires in 10 minutes." (spec)
REPO_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
# Docker IDs: 4-30 lowercase letters and digits (Docker's sign-up rule).
DOCKER_ID_RE = re.compile(r"^[a-z0-9]{4,30}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class HubError(Exception):
    """An error answer in Docker Hub's shape; raised anywhere in a route, turned into JSON here."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        message: str | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.message = message if message is not None else detail
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        # The spec's `error` schema; hub-tool reads `message`, then `detail` (notes §2).
        body = (
            self.body
            if self.body is not None
            else {"errinfo": {}, "detail": self.detail, "message": self.message}
        )
        response = jsonify(body)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def value_error(field: str, problem: str, text: str | None = None) -> HubError:
    """400 in the spec's ``ValueError`` shape (``{fields, text}``)."""
    return HubError(
        400, text or problem, body={"fields": {field: [problem]}, "text": text or problem}
    )


def method_not_allowed() -> HubError:
    """Django REST framework's answer to a method a route does not have."""
    return HubError(405, f'Method "{request.method}" not allowed.')


def not_found(what: str = "object not found") -> HubError:
    return HubError(404, what)


@bp.errorhandler(HubError)
def _hub_error(exc: HubError) -> Response:
    return exc.response()


def world() -> World:
    w: World = current_app.extensions["sandbox_world"]
    return w


def hub() -> dict[str, Any]:
    return world().dockerhub


# -- request bodies ------------------------------------------------------------------------


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True, force=True)
    if data is None and request.form:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        raise HubError(
            400, "JSON parse error - Expecting an object", message="invalid request body"
        )
    return data


def require_str(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None or value == "":
        raise value_error(field, "This field is required.", f"{field}: This field is required.")
    if not isinstance(value, str):
        raise value_error(field, "Not a valid string.", f"{field}: Not a valid string.")
    return value


def optional_bool(data: dict[str, Any], field: str, default: bool) -> bool:
    value = data.get(field, default)
    if not isinstance(value, bool):
        raise value_error(field, "Must be a valid boolean.", f"{field}: Must be a valid boolean.")
    return value


# -- authentication ------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a user (password or PAT) or an organisation (OAT)."""

    kind: str  # "user" or "org"
    name: str
    source: str  # "pwd", "pat" or "oat"
    token_id: str | None = None

    @property
    def actor(self) -> str:
        return self.name


def issue_jwt(w: World, identity: Identity) -> str:
    now = int(w.now())
    account = (w.dockerhub["users"] if identity.kind == "user" else w.dockerhub["orgs"])[
        identity.name
    ]
    claims = {
        "iss": "https://hub.docker.com",
        "sub": account["id"],
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_TTL_S,
        "jti": w.new_id(),
        "https://hub.docker.com": {
            "username": identity.name,
            "kind": identity.kind,
            "source": {"type": identity.source, "id": identity.token_id or ""},
        },
    }
    return jwt.encode(claims, w.meta["jwt_secret"], algorithm="HS256")


def _decode(w: World, token: str) -> Identity | None:
    try:
        # Expiry is checked against the sandbox clock (which the control API can move), not here.
        claims = jwt.decode(
            token,
            w.meta["jwt_secret"],
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= w.now():
        return None
    info = claims.get("https://hub.docker.com") or {}
    source = info.get("source") or {}
    identity = Identity(
        kind=str(info.get("kind")),
        name=str(info.get("username")),
        source=str(source.get("type")),
        token_id=source.get("id") or None,
    )
    return identity if credential_alive(w, identity) else None


def credential_alive(w: World, identity: Identity) -> bool:
    """A token dies with its account, and with the PAT or OAT it was made from."""
    with w.lock:
        if identity.kind == "user":
            user = w.dockerhub["users"].get(identity.name)
            if user is None:
                return False
            if identity.source == "pat":
                pat = user["pats"].get(identity.token_id or "")
                return bool(pat and pat["is_active"])
            return True
        if identity.kind == "org":
            org = w.dockerhub["orgs"].get(identity.name)
            if org is None:
                return False
            oat = org["access_tokens"].get(identity.token_id or "")
            return bool(oat and oat["is_active"] and not _expired(w, oat.get("expires_at")))
    return False


def _expired(w: World, expires_at: float | None) -> bool:
    return expires_at is not None and expires_at <= w.now()


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # Both the spec's `Bearer` and the older clients' `JWT` (notes §2).
    if scheme.lower() in ("bearer", "jwt") and token.strip():
        return token.strip()
    return None


def current_identity() -> Identity | None:
    token = _bearer()
    return _decode(world(), token) if token else None


def require_auth() -> Identity:
    token = _bearer()
    if token is None:
        raise HubError(401, "Authentication credentials were not provided.", message="unauthorized")
    identity = _decode(world(), token)
    if identity is None:
        raise HubError(401, "Token is invalid or expired.", message="unauthorized")
    return identity


def rate_limit_key(w: World) -> str:
    """The credential a request is counted against: its account, else the client address."""
    token = _bearer()
    if token:
        identity = _decode(w, token)
        if identity is not None:
            return f"{identity.kind}:{identity.name}"
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    return f"ip:{request.remote_addr}"


# -- permissions ---------------------------------------------------------------------------

ROLE_NAMES = {"owner": "Owner", "editor": "Editor", "member": "Member"}


def get_org(name: str) -> dict[str, Any]:
    org: dict[str, Any] | None = hub()["orgs"].get(name.lower())
    if org is None:
        raise not_found()
    return org


# Organisation access token scopes on a repository (Docker's access token reference): each
# value grants its level and the lower ones. The spec's own example writes "repo-pull".
OAT_REPO_LEVELS = {
    "scope-image-pull": "read",
    "repo-pull": "read",
    "scope-repository-read": "read",
    "scope-tag-read": "read",
    "scope-webhook-read": "read",
    "scope-image-push": "write",
    "repo-push": "write",
    "scope-image-delete": "write",
    "scope-repository-edit": "write",
    "scope-tag-admin": "write",
    "scope-webhook-edit": "write",
    "scope-webhook-admin": "write",
    "scope-repository-admin": "admin",
}
OAT_PUSH_SCOPES = frozenset({"scope-image-push", "repo-push", "scope-image-delete"})


def org_token(identity: Identity, org: dict[str, Any]) -> dict[str, Any] | None:
    """The organisation access token a request acts with (None for a user)."""
    if identity.kind != "org" or identity.name != org["orgname"]:
        return None
    token: dict[str, Any] | None = org["access_tokens"].get(identity.token_id or "")
    return token


def token_is_scoped(token: dict[str, Any]) -> bool:
    """A token made with ``resources`` reaches only those; the seed's own token has none and
    stands for the organisation's full access (an owner's), as before scopes existed here."""
    return "resources" in token


def token_repo_scopes(token: dict[str, Any], full_name: str) -> set[str]:
    """The scopes a scoped token holds on repository ``namespace/name`` (globs allowed)."""
    scopes: set[str] = set()
    for resource in token.get("resources") or []:
        if resource.get("type") != "TYPE_REPO":
            continue
        if fnmatch.fnmatchcase(full_name.lower(), str(resource.get("path", "")).lower()):
            scopes.update(str(scope) for scope in resource.get("scopes") or [])
    return scopes


def token_repo_level(token: dict[str, Any], full_name: str) -> str | None:
    ranks = ("read", "write", "admin")
    levels = [
        OAT_REPO_LEVELS[s] for s in token_repo_scopes(token, full_name) if s in OAT_REPO_LEVELS
    ]
    return max(levels, key=ranks.index) if levels else None


def org_role(identity: Identity, org: dict[str, Any]) -> str | None:
    """``owner`` for the org's own unscoped access token, else the user's role, else None.

    A token scoped to resources has no role in the organisation: it reaches its repositories
    only (``token_repo_level``).
    """
    if identity.kind == "org":
        token = org_token(identity, org)
        if token is None or token_is_scoped(token):
            return None
        return "owner"
    member = org["members"].get(identity.name)
    return member["role"] if member else None


def require_org_member(identity: Identity, org: dict[str, Any]) -> str:
    role = org_role(identity, org)
    if role is None:
        raise HubError(
            403, "You do not have permission to perform this action.", message="forbidden"
        )
    return role


def require_org_owner(identity: Identity, org: dict[str, Any]) -> None:
    if require_org_member(identity, org) != "owner":
        raise HubError(
            403, "Only users in the owners group can perform this action.", message="forbidden"
        )


# -- pagination ----------------------------------------------------------------------------


def base_url() -> str:
    configured = world().config.public_url
    return (configured or request.host_url).rstrip("/")


def _int_param(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise value_error(name, "A valid integer is required.", f"Invalid {name}") from exc


def page_params(
    default_size: int = 10, max_size: int = 100, *, cap: bool = False
) -> tuple[int, int]:
    """``cap``: a ``page_size`` above ``max_size`` is served as ``max_size`` (Django REST
    framework's ``max_page_size``) instead of refused, for routes whose spec has no 400."""
    page = _int_param("page", 1)
    size = _int_param("page_size", default_size)
    if page < 1:
        raise not_found("Invalid page.")
    if cap and size > max_size:
        size = max_size
    if size < 1 or size > max_size:
        raise value_error(
            "page_size",
            f"Ensure this value is between 1 and {max_size}.",
            f"Invalid page_size: must be between 1 and {max_size}",
        )
    return page, size


def paginate(
    items: list[Any],
    *,
    default_size: int = 10,
    max_size: int = 100,
    count_key: str = "count",
    cap: bool = False,
) -> dict[str, Any]:
    """Django REST Framework style: absolute ``next``/``previous``, 404 for a page past the end."""
    page, size = page_params(default_size, max_size, cap=cap)
    total = len(items)
    last_page = max(1, -(-total // size))
    if page > last_page:
        raise not_found("Invalid page.")
    start = (page - 1) * size

    def link(number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(number)
        args["page_size"] = str(size)
        return f"{base_url()}{request.path}?{urlencode(args)}"

    return {
        count_key: total,
        "next": link(page + 1) if page < last_page else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": items[start : start + size],
    }
