"""Docker Hub client: every call hubcourse makes to Docker Hub, returning typed values.

Built on the official spec (``shared/specs/dockerhub-api-latest.yaml``) and on what the real
service does beyond it (``shared/specs/dockerhub-api-notes.md``, cited as "notes §n").

* Login: ``POST /v2/auth/token`` with an identifier (organisation name for an organisation
  access token, else a username) and a secret. The JWT is cached process-wide until shortly
  before its ``exp``; a 401 on a call renews it once and retries that call once.
* Every request goes through ``hubcourse.http`` (timeouts, one exception family) and the
  rate-limit governor (180 requests a minute per credential, learned from the headers).
* Lists follow ``next`` to the end. Values are frozen pydantic models; raw dicts stay here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import jwt
import pydantic
import requests
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from hubcourse import http
from hubcourse.errors import AuthenticationFailed, NotFound, UnexpectedResponse
from hubcourse.governor import Governor, credential_key

SERVICE = "Docker Hub"
# The most Docker Hub allows per page (spec: page_size 1..100).
PAGE_SIZE = 100
# Past this a list is broken (a `next` that loops), not long: 100 000 rows.
MAX_PAGES = 1000
# Invitees per POST /v2/invites/bulk: the web UI's limit; the API's is undocumented (notes §4).
BULK_INVITE_MAX = 1000
# Renew the JWT this long before its exp, so a token never expires in flight.
TOKEN_RENEW_MARGIN = 60.0
# A JWT without exp is unexpected; the spec says tokens last 10 minutes, so trust it for less.
TOKEN_FALLBACK_LIFETIME = 300.0

Role = Literal["owner", "editor", "member"]
Permission = Literal["read", "write", "admin"]
MemberType = Literal["all", "invitee", "member"]

GOVERNOR = Governor(SERVICE, default_limit=180, window=60.0, burst=5)


# -- typed values ------------------------------------------------------------------------------


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DockerUser(_Value):
    """A Docker ID (user or organisation), from ``GET /v2/users/{name}/``."""

    id: str
    username: str
    full_name: str = ""
    type: str = "User"
    date_joined: dt.datetime | None = None


class Organization(_Value):
    id: str
    orgname: str
    full_name: str = ""


class OrgMember(_Value):
    """A member or, with ``role == "Invitee"``, a pending invitee of an organisation."""

    username: str = ""
    full_name: str = ""
    email: str = ""
    # Returned capitalised ("Owner", "Editor", "Member", "Invitee"); sent lowercase (notes §4).
    role: str
    groups: tuple[str, ...] = ()
    type: str = "User"

    @property
    def is_invitee(self) -> bool:
        return self.role == "Invitee"


class Invite(_Value):
    id: str
    invitee: str
    inviter_username: str = ""
    org: str = ""
    team: str = ""
    role: str = ""
    created_at: dt.datetime | None = None


class InviteResult(_Value):
    """One invitee's outcome in a bulk invite: ``invited``, ``existing_org_member``,
    ``invalid_email_or_docker_id`` (the documented ones) or another status Docker adds."""

    invitee: str
    status: str
    invite: Invite | None = None


class Team(_Value):
    """An organisation team ("group"): addressed by name in paths, by ``id`` in permissions."""

    id: int
    uuid: str = ""
    name: str
    description: str = ""
    member_count: int = 0


class TeamMember(_Value):
    username: str
    full_name: str = ""
    email: str = ""


class Repository(_Value):
    namespace: str
    name: str
    description: str = ""
    is_private: bool = False
    # Only the single-repository view has it; lists leave it out.
    is_automated: bool | None = None
    status_description: str = ""
    pull_count: int = 0
    last_updated: dt.datetime | None = None
    date_registered: dt.datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class TeamPermission(_Value):
    group_id: int
    group_name: str
    permission: str


class TeamRepository(_Value):
    """A repository a team has a permission on (``GET /v2/orgs/{o}/groups/{g}/repositories/``)."""

    repository: str
    permission: str


class TagImage(_Value):
    digest: str | None = None
    architecture: str = ""
    os: str = ""
    size: int = 0
    last_pushed: dt.datetime | None = None


class Tag(_Value):
    name: str
    digest: str | None = None
    full_size: int | None = None
    last_updated: dt.datetime | None = None
    last_updater_username: str = ""
    tag_last_pushed: dt.datetime | None = None
    tag_last_pulled: dt.datetime | None = None
    # An array in reality, an object in the spec (notes §1, bug 4).
    images: tuple[TagImage, ...] = ()


class AuditLogEntry(_Value):
    account: str
    action: str
    name: str = ""
    actor: str = ""
    data: dict[str, str] = Field(default_factory=dict)
    timestamp: dt.datetime
    action_description: str = ""


class Webhook(_Value):
    name: str = ""
    hook_url: str


class WebhookPipeline(_Value):
    name: str
    slug: str = ""
    expect_final_callback: bool = False
    webhooks: tuple[Webhook, ...] = ()


class CatalogPublisher(_Value):
    id: str = ""
    name: str = ""


class CatalogResult(_Value):
    """One image of the catalog search (undocumented ``api/search/v3``, notes §13)."""

    name: str
    slug: str = ""
    type: str = ""
    source: str = ""
    # "official", "verified_publisher" or "none" (notes §13).
    badge: str = "none"
    publisher: CatalogPublisher | None = None


OrgAccessTokenType = Literal["TYPE_REPO", "TYPE_ORG"]
# The push scope of Docker's access token reference ("Includes Image Pull").
IMAGE_PUSH_SCOPE = "scope-image-push"


class OrgAccessTokenResource(_Value):
    """What an organisation access token reaches: ``TYPE_REPO`` with ``org/repo``, or the org."""

    type: OrgAccessTokenType
    path: str
    scopes: tuple[str, ...]


class OrgAccessToken(_Value):
    """An organisation access token (spec ``orgAccessToken``). ``token`` is the secret, present
    only in the answer to its creation; it is kept out of ``repr``."""

    id: str
    label: str = ""
    created_by: str = ""
    is_active: bool = True
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    resources: tuple[OrgAccessTokenResource, ...] = ()
    token: str = Field(default="", repr=False)


_V = TypeVar("_V", bound=BaseModel)


# -- errors ------------------------------------------------------------------------------------


class DockerHubErrors(http.ErrorTranslator):
    """Docker Hub's error bodies: ``{detail, message}``, ``{fields, text}``, ``{code, message}``,
    Tastypie's ``{error}`` (notes §2). ``detail`` is the specific one when both are there."""

    def message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().message(response)
        if not isinstance(body, dict):
            return super().message(response)
        parts: list[str] = []
        for key in ("detail", "message", "text", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip())
                break
        fields = body.get("fields")
        if isinstance(fields, dict):
            for field, problems in fields.items():
                listed = problems if isinstance(problems, list) else [problems]
                parts.append(f"{field}: {' '.join(str(p) for p in listed)}")
        return "; ".join(parts) if parts else super().message(response)


_ERRORS = DockerHubErrors()


# -- the token cache -----------------------------------------------------------------------------

_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _token_expiry(token: str) -> float:
    # Only the expiry is read; the signature is Docker Hub's business (Docker's own Terraform
    # provider does the same, notes §2).
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        claims = {}
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        return float(exp)
    return time.time() + TOKEN_FALLBACK_LIFETIME


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


# -- the client --------------------------------------------------------------------------------


class DockerHubClient:
    """One Docker Hub identity. Thread-safe; cheap to create (tokens are cached per process)."""

    def __init__(
        self,
        base_url: str,
        identifier: str,
        secret: str,
        *,
        governor: Governor = GOVERNOR,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.identifier = identifier
        self._secret = secret
        self._governor = governor
        self._rate_key = credential_key("dockerhub", self.base_url, identifier.lower())
        # Calls made without a token (the catalog search) count against the host, not us.
        self._anonymous_key = credential_key("dockerhub", self.base_url, "anonymous")
        # The secret's digest is in the cache key, so new credentials never reuse an old token.
        secret_digest = hashlib.sha256(secret.encode()).hexdigest()
        self._cache_key = (self.base_url, identifier.lower(), secret_digest)

    @classmethod
    def from_settings(cls) -> DockerHubClient:
        return cls(
            settings.DOCKERHUB_API_URL,
            settings.DOCKERHUB_USERNAME,
            settings.DOCKERHUB_TOKEN,
        )

    def __repr__(self) -> str:
        return f"DockerHubClient({self.base_url!r}, {self.identifier!r})"

    # -- plumbing ----------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        # `next` links are absolute and may name another host (a proxy, the sandbox's public
        # URL): keep only their path and query, so the token only ever goes to base_url.
        parts = urlsplit(path_or_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.base_url + path

    def token(self) -> str:
        """A valid JWT, from the cache or a fresh login."""
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
        if cached is not None and cached[1] - TOKEN_RENEW_MARGIN > time.time():
            return cached[0]
        return self._login()

    def _login(self) -> str:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/authentication-api/operation/AuthCreateAccessToken
        operation = f"log in as {self.identifier}"
        self._governor.acquire(self._rate_key, operation)
        response = http.request(
            "POST",
            self.base_url + "/v2/auth/token",
            service=SERVICE,
            operation=operation,
            json={"identifier": self.identifier, "secret": self._secret},
            headers={"Accept": "application/json"},
            translator=_ERRORS,
            observer=self._governor.observer(self._rate_key),
        )
        token = _parse(_TokenAnswer, _json(response, operation), operation).access_token
        with _tokens_lock:
            _tokens[self._cache_key] = (token, _token_expiry(token))
        return token

    def _forget(self, token: str) -> None:
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
            if cached is not None and cached[0] == token:
                del _tokens[self._cache_key]

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        scheme: str = "Bearer",
    ) -> requests.Response:
        url = self._url(path)
        rate_key = self._rate_key if auth else self._anonymous_key
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            token = self.token() if auth else ""
            if auth:
                headers["Authorization"] = f"{scheme} {token}"
            self._governor.acquire(rate_key, operation)
            try:
                return http.request(
                    method,
                    url,
                    service=SERVICE,
                    operation=operation,
                    params=params,
                    json=json,
                    headers=headers,
                    translator=_ERRORS,
                    observer=self._governor.observer(rate_key),
                )
            except AuthenticationFailed:
                # A token can die before its exp (revoked, server clock ahead): log in again
                # once and retry once; a second 401 is real.
                if not auth or attempt == 2:
                    raise
                self._forget(token)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, model: type[_V], *, operation: str, **kwargs: Any) -> _V:
        response = self._request("GET", path, operation=operation, **kwargs)
        return _parse(model, _json(response, operation), operation)

    def _pages(
        self,
        path: str,
        model: type[_V],
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        count_key: str = "count",
    ) -> Iterator[_V]:
        """Follow Django-REST-style pages (``{count, next, results}``) to the end."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query.setdefault("page_size", self.page_size)
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._request("GET", url, operation=operation, params=query)
            body = _json(response, operation)
            page = _parse(_Page, body, operation)
            for row in page.results:
                yield _parse(model, row, operation)
            url = page.next
            # `next` carries the whole query already.
            query = {}
        raise UnexpectedResponse(SERVICE, operation, None, f"more than {MAX_PAGES} pages")

    # -- users and organisations -------------------------------------------------------------

    def get_user(self, username: str) -> DockerUser:
        """The Docker ID ``username``; ``NotFound`` if there is none."""
        # Reference: undocumented, relied on by many public scripts (notes §9)
        return self._get(
            f"/v2/users/{_seg(username)}/", DockerUser, operation=f"look up Docker ID {username}"
        )

    def user_exists(self, username: str) -> bool:
        try:
            self.get_user(username)
        except NotFound:
            return False
        return True

    def get_organization(self, org: str) -> Organization:
        # Reference: undocumented, used by Docker's Terraform provider (notes §4)
        return self._get(
            f"/v2/orgs/{_seg(org)}/", Organization, operation=f"read organisation {org}"
        )

    # -- members ---------------------------------------------------------------------------------

    def list_members(
        self,
        org: str,
        *,
        search: str | None = None,
        type: MemberType | None = None,
        role: Role | None = None,
    ) -> list[OrgMember]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/orgs/paths/~1v2~1orgs~1%7Borg_name%7D~1members/get
        # The spec says an array of pages; the service sends one page object (notes §1, bug 5).
        return list(
            self._pages(
                f"/v2/orgs/{_seg(org)}/members",
                OrgMember,
                operation=f"list the members of {org}",
                params={"search": search, "type": type, "role": role},
            )
        )

    def update_member_role(self, org: str, username: str, role: Role) -> OrgMember:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/orgs/paths/~1v2~1orgs~1%7Borg_name%7D~1members~1%7Busername%7D/put
        operation = f"make {username} {role} of {org}"
        response = self._request(
            "PUT",
            f"/v2/orgs/{_seg(org)}/members/{_seg(username)}",
            operation=operation,
            json={"role": role},
        )
        return _parse(OrgMember, _json(response, operation), operation)

    def remove_member(self, org: str, username: str) -> None:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/orgs/paths/~1v2~1orgs~1%7Borg_name%7D~1members~1%7Busername%7D/delete
        self._request(
            "DELETE",
            f"/v2/orgs/{_seg(org)}/members/{_seg(username)}",
            operation=f"remove {username} from {org}",
        )

    # -- invites ---------------------------------------------------------------------------------

    def list_invites(self, org: str) -> list[Invite]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/invites/paths/~1v2~1orgs~1%7Borg_name%7D~1invites/get
        operation = f"list the pending invites of {org}"
        response = self._request("GET", f"/v2/orgs/{_seg(org)}/invites", operation=operation)
        # Not paginated: `{data: [...]}` (notes §2).
        return list(_parse(_InviteList, _json(response, operation), operation).data)

    def bulk_invite(
        self,
        org: str,
        invitees: Sequence[str],
        *,
        team: str | None = None,
        role: Role = "member",
        dry_run: bool = False,
    ) -> list[InviteResult]:
        """Invite Docker IDs or emails, ``BULK_INVITE_MAX`` per request, results in order.

        ``dry_run`` validates without inviting: unknown Docker IDs come back as
        ``invalid_email_or_docker_id``.
        """
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/invites/paths/~1v2~1invites~1bulk/post
        results: list[InviteResult] = []
        for start in range(0, len(invitees), BULK_INVITE_MAX):
            chunk = list(invitees[start : start + BULK_INVITE_MAX])
            verb = "check invites of" if dry_run else "invite"
            operation = f"{verb} {_count(len(chunk), 'person', 'people')} to {org}"
            body: dict[str, Any] = {"org": org, "role": role, "invitees": chunk, "dry_run": dry_run}
            if team:
                body["team"] = team
            response = self._request("POST", "/v2/invites/bulk", operation=operation, json=body)
            # `{invitees: [...]}`, not the spec's nested form (notes §1, bug 6).
            results.extend(
                _parse(_BulkInviteAnswer, _json(response, operation), operation).invitees
            )
        return results

    def cancel_invite(self, invite_id: str) -> None:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/invites/paths/~1v2~1invites~1%7Bid%7D/delete
        self._request("DELETE", f"/v2/invites/{_seg(invite_id)}", operation="cancel an invite")

    def resend_invite(self, invite_id: str) -> None:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/invites/paths/~1v2~1invites~1%7Bid%7D~1resend/patch
        self._request(
            "PATCH", f"/v2/invites/{_seg(invite_id)}/resend", operation="resend an invite"
        )

    # -- teams -----------------------------------------------------------------------------------

    def list_teams(
        self, org: str, *, username: str | None = None, search: str | None = None
    ) -> list[Team]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups/get
        return list(
            self._pages(
                f"/v2/orgs/{_seg(org)}/groups",
                Team,
                operation=f"list the teams of {org}",
                params={"username": username, "search": search},
            )
        )

    def get_team(self, org: str, team: str) -> Team:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D/get
        return self._get(
            f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}",
            Team,
            operation=f"read team {team} of {org}",
        )

    def create_team(self, org: str, name: str, description: str = "") -> Team:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups/post
        operation = f"create team {name} in {org}"
        response = self._request(
            "POST",
            f"/v2/orgs/{_seg(org)}/groups",
            operation=operation,
            json={"name": name, "description": description},
        )
        return _parse(Team, _json(response, operation), operation)

    def update_team(
        self, org: str, team: str, *, name: str | None = None, description: str | None = None
    ) -> Team:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D/patch
        operation = f"update team {team} of {org}"
        body = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        response = self._request(
            "PATCH", f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}", operation=operation, json=body
        )
        return _parse(Team, _json(response, operation), operation)

    def delete_team(self, org: str, team: str) -> None:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D/delete
        self._request(
            "DELETE",
            f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}",
            operation=f"delete team {team} of {org}",
        )

    def list_team_members(
        self, org: str, team: str, *, search: str | None = None
    ) -> list[TeamMember]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D~1members/get
        return list(
            self._pages(
                f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}/members",
                TeamMember,
                operation=f"list the members of team {team} of {org}",
                params={"search": search},
            )
        )

    def add_team_member(self, org: str, team: str, username: str) -> None:
        """Add an organisation member (the invite must be accepted first) to a team."""
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D~1members/post
        self._request(
            "POST",
            f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}/members",
            operation=f"add {username} to team {team} of {org}",
            json={"member": username},
        )

    def remove_team_member(self, org: str, team: str, username: str) -> None:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/groups/paths/~1v2~1orgs~1%7Borg_name%7D~1groups~1%7Bgroup_name%7D~1members~1%7Busername%7D/delete
        self._request(
            "DELETE",
            f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}/members/{_seg(username)}",
            operation=f"remove {username} from team {team} of {org}",
        )

    def list_team_repositories(self, org: str, team: str) -> list[TeamRepository]:
        # Reference: undocumented; a bare array (notes §5)
        operation = f"list the repositories of team {team} of {org}"
        response = self._request(
            "GET", f"/v2/orgs/{_seg(org)}/groups/{_seg(team)}/repositories/", operation=operation
        )
        body = _json(response, operation)
        if not isinstance(body, list):
            raise UnexpectedResponse(SERVICE, operation, response.status_code, "expected a list")
        return [_parse(TeamRepository, row, operation) for row in body]

    # -- repositories ------------------------------------------------------------------------------

    def create_repository(
        self,
        namespace: str,
        name: str,
        *,
        description: str = "",
        full_description: str = "",
        is_private: bool = False,
    ) -> Repository:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/operation/CreateRepository
        operation = f"create repository {namespace}/{name}"
        response = self._request(
            "POST",
            f"/v2/namespaces/{_seg(namespace)}/repositories",
            operation=operation,
            json={
                "name": name,
                "namespace": namespace,
                "description": description,
                "full_description": full_description,
                "registry": "docker.io",
                "is_private": is_private,
            },
        )
        return _parse(Repository, _json(response, operation), operation)

    def get_repository(self, namespace: str, name: str) -> Repository:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/operation/GetRepository
        return self._get(
            f"/v2/namespaces/{_seg(namespace)}/repositories/{_seg(name)}",
            Repository,
            operation=f"read repository {namespace}/{name}",
        )

    def list_repositories(
        self, namespace: str, *, name: str | None = None, ordering: str | None = None
    ) -> list[Repository]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/paths/~1v2~1namespaces~1%7Bnamespace%7D~1repositories/get
        return list(
            self._pages(
                f"/v2/namespaces/{_seg(namespace)}/repositories",
                Repository,
                operation=f"list the repositories of {namespace}",
                params={"name": name, "ordering": ordering},
            )
        )

    def set_repository_privacy(self, namespace: str, name: str, *, is_private: bool) -> None:
        # Reference: undocumented, used by Docker's Terraform provider (notes §6)
        self._request(
            "POST",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/privacy",
            operation=f"make repository {namespace}/{name} {'private' if is_private else 'public'}",
            json={"is_private": is_private},
        )

    def update_repository(
        self,
        namespace: str,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
    ) -> Repository:
        # Reference: undocumented, used by Docker's Terraform provider (notes §6)
        operation = f"update repository {namespace}/{name}"
        body = {
            k: v
            for k, v in (("description", description), ("full_description", full_description))
            if v is not None
        }
        response = self._request(
            "PATCH",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/",
            operation=operation,
            json=body,
        )
        return _parse(Repository, _json(response, operation), operation)

    def delete_repository(self, namespace: str, name: str) -> None:
        # Reference: undocumented, used by Docker's Terraform provider and hub-tool (notes §6)
        self._request(
            "DELETE",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/",
            operation=f"delete repository {namespace}/{name}",
        )

    # -- team permissions on repositories ------------------------------------------------------

    def get_team_permission(self, namespace: str, name: str, team_id: int) -> TeamPermission | None:
        """Team ``team_id``'s permission on ``namespace/name``; ``None`` when it has none.

        Read per team: the list of a repository's team permissions (``GET .../groups``) is a
        route neither the spec nor any known client shows, while this one is Terraform's. A
        repository that is gone raises ``NotFound`` like every other read of it.
        """
        # Reference: undocumented, used by Docker's Terraform provider (notes §6)
        operation = f"read team {team_id}'s access to {namespace}/{name}"
        try:
            response = self._request(
                "GET",
                f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/{team_id}/",
                operation=operation,
            )
        except NotFound:
            # Both "no such permission" and "no such repository" are 404: ask which.
            self.get_repository(namespace, name)
            return None
        return _parse(TeamPermission, _json(response, operation), operation)

    def team_permissions(
        self, namespace: str, name: str, team_ids: Iterable[int]
    ) -> dict[int, TeamPermission]:
        """The permissions these teams hold on ``namespace/name`` (teams without one left out)."""
        found: dict[int, TeamPermission] = {}
        for team_id in dict.fromkeys(team_ids):
            permission = self.get_team_permission(namespace, name, team_id)
            if permission is not None:
                found[team_id] = permission
        return found

    def grant_team_permission(
        self, namespace: str, name: str, team_id: int, permission: Permission
    ) -> TeamPermission:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/paths/~1v2~1repositories~1%7Bnamespace%7D~1%7Brepository%7D~1groups/post
        operation = f"give team {team_id} {permission} access to {namespace}/{name}"
        response = self._request(
            "POST",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups",
            operation=operation,
            json={"group_id": team_id, "permission": permission},
        )
        return _parse(TeamPermission, _json(response, operation), operation)

    def change_team_permission(
        self, namespace: str, name: str, team_id: int, permission: Permission
    ) -> TeamPermission:
        # Reference: undocumented, used by Docker's Terraform provider (notes §6)
        operation = f"change team {team_id}'s access to {namespace}/{name} to {permission}"
        response = self._request(
            "PATCH",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/{team_id}/",
            operation=operation,
            json={"permission": permission},
        )
        return _parse(TeamPermission, _json(response, operation), operation)

    def revoke_team_permission(self, namespace: str, name: str, team_id: int) -> None:
        # Reference: undocumented, used by Docker's Terraform provider (notes §6)
        self._request(
            "DELETE",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/groups/{team_id}/",
            operation=f"remove team {team_id}'s access to {namespace}/{name}",
        )

    # -- tags --------------------------------------------------------------------------------

    def list_tags(self, namespace: str, name: str) -> list[Tag]:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/paths/~1v2~1namespaces~1%7Bnamespace%7D~1repositories~1%7Brepository%7D~1tags/get
        return list(
            self._pages(
                f"/v2/namespaces/{_seg(namespace)}/repositories/{_seg(name)}/tags",
                Tag,
                operation=f"list the tags of {namespace}/{name}",
            )
        )

    def get_tag(self, namespace: str, name: str, tag: str) -> Tag:
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/repositories/paths/~1v2~1namespaces~1%7Bnamespace%7D~1repositories~1%7Brepository%7D~1tags~1%7Btag%7D/get
        return self._get(
            f"/v2/namespaces/{_seg(namespace)}/repositories/{_seg(name)}/tags/{_seg(tag)}",
            Tag,
            operation=f"read tag {tag} of {namespace}/{name}",
        )

    # -- audit logs ----------------------------------------------------------------------------

    def list_audit_logs(
        self,
        account: str,
        *,
        action: str | None = None,
        name: str | None = None,
        actor: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[AuditLogEntry]:
        """Events newest first, e.g. ``action="repo.tag.push"`` for pushes."""
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/audit-logs/paths/~1v2~1auditlogs~1%7Baccount%7D/get
        operation = f"read the audit log of {account}"
        params: dict[str, Any] = {
            k: v for k, v in (("action", action), ("name", name), ("actor", actor)) if v
        }
        if since is not None:
            params["from"] = _rfc3339(since)
        if until is not None:
            params["to"] = _rfc3339(until)
        entries: list[AuditLogEntry] = []
        # Only `{logs: [...]}`, no count or next (notes §8): a short page is the last.
        for page in range(1, MAX_PAGES + 1):
            response = self._request(
                "GET",
                f"/v2/auditlogs/{_seg(account)}",
                operation=operation,
                params={**params, "page": page, "page_size": self.page_size},
            )
            logs = _parse(_AuditLogPage, _json(response, operation), operation).logs
            entries.extend(logs)
            if len(logs) < self.page_size:
                return entries
        raise UnexpectedResponse(SERVICE, operation, None, f"more than {MAX_PAGES} pages")

    # -- repository webhooks ---------------------------------------------------------------------

    def list_webhooks(self, namespace: str, name: str) -> list[WebhookPipeline]:
        # Reference: undocumented webhook_pipeline API (notes §12)
        return list(
            self._pages(
                f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/webhook_pipeline/",
                WebhookPipeline,
                operation=f"list the webhooks of {namespace}/{name}",
            )
        )

    def create_webhook(
        self, namespace: str, name: str, hook_name: str, url: str
    ) -> WebhookPipeline:
        # Reference: undocumented webhook_pipeline API (notes §12)
        operation = f"add webhook {hook_name} to {namespace}/{name}"
        response = self._request(
            "POST",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/webhook_pipeline/",
            operation=operation,
            json={
                "name": hook_name,
                "expect_final_callback": False,
                "webhooks": [{"name": hook_name, "hook_url": url}],
                "registry": "registry-1.docker.io",
            },
        )
        return _parse(WebhookPipeline, _json(response, operation), operation)

    def delete_webhook(self, namespace: str, name: str, slug: str) -> None:
        # Reference: undocumented webhook_pipeline API (notes §12)
        self._request(
            "DELETE",
            f"/v2/repositories/{_seg(namespace)}/{_seg(name)}/webhook_pipeline/{_seg(slug)}/",
            operation=f"delete webhook {slug} of {namespace}/{name}",
        )

    # -- for routes that live with the code that owns them --------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        scheme: str = "Bearer",
    ) -> requests.Response:
        """One request with this client's login, governor, retry on 401 and error words.

        For Docker Hub routes a single caller owns (the automated-build routes live with the
        autobuild backend, ``builds.backends.autobuild.client``), so they share this plumbing
        without this module knowing them.
        """
        return self._request(
            method, path, operation=operation, params=params, json=json, scheme=scheme
        )

    # -- the catalog (undocumented api/search/v3, notes §13) -------------------------------------

    def catalog_search(self, query: str, *, size: int = 25) -> list[CatalogResult]:
        """The first ``size`` catalog images matching ``query``, with their badges. Anonymous."""
        # Reference: undocumented https://hub.docker.com/api/search/v3/catalog/search (notes §13)
        operation = f"look up {query} in the Docker Hub catalog"
        response = self._request(
            "GET",
            "/api/search/v3/catalog/search",
            operation=operation,
            params={"query": query, "from": 0, "size": size, "type": "image"},
            auth=False,
        )
        return list(_parse(_CatalogPage, _json(response, operation), operation).results)

    def catalog_badge(self, repository: str) -> str:
        """``official``, ``verified_publisher`` or ``none`` for ``namespace/name``."""
        wanted = repository.lower()
        for result in self.catalog_search(repository):
            if (result.slug or result.name).lower() == wanted:
                return result.badge or "none"
        return "none"

    # -- organisation access tokens ----------------------------------------------------------------

    def create_org_access_token(
        self,
        org: str,
        *,
        label: str,
        resources: Sequence[OrgAccessTokenResource],
        description: str = "",
        expires_at: dt.datetime | None = None,
    ) -> OrgAccessToken:
        """A new token; its secret is in ``token`` of the answer, and nowhere ever again."""
        # Reference: https://docs.docker.com/reference/api/hub/latest/#tag/org-access-tokens (notes §3)
        operation = f"create an access token of {org}"
        response = self._request(
            "POST",
            f"/v2/orgs/{_seg(org)}/access-tokens",
            operation=operation,
            json={
                "label": label,
                "description": description,
                "resources": [resource.model_dump() for resource in resources],
                "expires_at": _rfc3339(expires_at) if expires_at else None,
            },
        )
        token = _parse(OrgAccessToken, _json(response, operation), operation)
        if not token.token:
            raise UnexpectedResponse(SERVICE, operation, response.status_code, "no token")
        return token

    def list_org_access_tokens(self, org: str) -> list[OrgAccessToken]:
        # Reference: spec getOrgAccessTokensResponse (it counts with `total`, notes §2)
        return list(
            self._pages(
                f"/v2/orgs/{_seg(org)}/access-tokens",
                OrgAccessToken,
                operation=f"list the access tokens of {org}",
            )
        )

    def delete_org_access_token(self, org: str, token_id: str) -> None:
        """Revoke a token for good. ``NotFound`` when it is already gone."""
        # Reference: spec DELETE /v2/orgs/{org_name}/access-tokens/{access_token_id} (204)
        self._request(
            "DELETE",
            f"/v2/orgs/{_seg(org)}/access-tokens/{_seg(token_id)}",
            operation=f"delete an access token of {org}",
        )


# -- wire shapes that never leave this module ----------------------------------------------------


class _TokenAnswer(_Value):
    access_token: str


class _Page(_Value):
    next: str | None = None
    results: tuple[dict[str, Any], ...] = ()


class _InviteList(_Value):
    data: tuple[Invite, ...] = ()


class _BulkInviteAnswer(_Value):
    invitees: tuple[InviteResult, ...] = ()


class _CatalogPage(_Value):
    results: tuple[CatalogResult, ...] = ()


class _AuditLogPage(_Value):
    logs: tuple[AuditLogEntry, ...] = ()


def _json(response: requests.Response, operation: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise UnexpectedResponse(
            SERVICE, operation, response.status_code, "the answer is not JSON"
        ) from exc


def parse_answer(model: type[_V], response: requests.Response, operation: str) -> _V:
    """The answer's JSON body as ``model``; anything else is an ``UnexpectedResponse``."""
    return parse_value(model, _json(response, operation), operation)


def parse_value(model: type[_V], data: Any, operation: str) -> _V:
    """``data`` (a part of an answer) as ``model``; anything else is an ``UnexpectedResponse``."""
    return _parse(model, data, operation)


def _parse(model: type[_V], data: Any, operation: str) -> _V:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise UnexpectedResponse(SERVICE, operation, None, f"{where}: {first['msg']}") from exc


def _seg(value: str) -> str:
    """One URL path segment: a name with a slash must not reach another route."""
    return quote(value, safe="")


def _rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
