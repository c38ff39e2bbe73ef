"""hubcourse's GitHub App: the app's JWT, its installations and installation tokens.

Three identities, three budgets:

* **the app** (``GitHubAppClient``): a JWT signed RS256 with the app's private key, for the
  ``/app`` routes, a repository's installation and minting installation tokens. The JWT is made
  here, ``iat`` a minute back for clock drift and ``exp`` nine minutes after it (GitHub refuses
  more than ten);
* **an installation** (``installation_client``): a one-hour token narrowed to ONE repository
  and the permissions asked for, cached encrypted in Django's cache until five minutes before
  it expires, with the governor keyed ``installation:{id}`` because GitHub counts the budget
  per installation, not per token;
* **a user of the app** (``GitHubClient.list_user_installations``): see client.py.

Every call goes through ``GitHubClient``'s plumbing (hubcourse.http, error translation,
governor). No token, key or JWT is ever logged or put in an error.

Reference: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache
from pydantic import BaseModel, ConfigDict, Field

from hubcourse.errors import NotFound
from hubcourse.secrets import SecretDecryptError, SecretValue, decrypt, encrypt
from integrations.github.client import Account, GitHubClient, Installation, Repository

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "READ",
    "AppRegistration",
    "GitHubApp",
    "GitHubAppClient",
    "GitHubAppConfig",
    "Installation",
    "InstallationToken",
    "app_jwt",
    "installation_client",
]

# What hubcourse asks of an installation. READ is enough to look at a student's repository
# (pre-flight reads the Dockerfile); ACTIONS is what the github-actions backend needs to commit
# its workflow (a file under .github/workflows/ needs workflows: write), store the Docker Hub
# token as a secret and the login name as a variable, and read runs and their logs.
READ: Mapping[str, str] = {"metadata": "read", "contents": "read"}
ACTIONS: Mapping[str, str] = {
    **READ,
    "contents": "write",
    "workflows": "write",
    "secrets": "write",
    "variables": "write",
    "actions": "read",
}
# The events a course needs delivered (see the manifest in organisation/).
EVENTS: tuple[str, ...] = ("installation_repositories", "push", "repository", "workflow_run")

JWT_BACKDATE = 60  # seconds: GitHub's advice for clock drift
JWT_LIFETIME = 9 * 60  # seconds after iat; GitHub's ceiling is ten minutes
# A cached installation token is dropped this long before it expires, so a call never
# starts with a token about to die mid-request (or mid-job).
TOKEN_MARGIN = dt.timedelta(minutes=5)
_JWT_REUSE = 5 * 60  # a JWT made less than this ago is reused by the same client
_CACHE_PREFIX = "github-app:token:"


@dataclasses.dataclass(frozen=True)
class GitHubAppConfig:
    """The app hubcourse runs as: from settings or from the manifest flow's registration."""

    app_id: int
    slug: str
    client_id: str
    client_secret: SecretValue
    private_key: SecretValue
    webhook_secret: SecretValue
    # Where a student installs it: {GITHUB_URL}/apps/{slug}/installations/new
    html_url: str
    # "settings" or "registration": where it came from, for the admin page.
    source: str = "settings"

    @property
    def install_url(self) -> str:
        return f"{self.html_url.rstrip('/')}/installations/new"


class _AppModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GitHubApp(_AppModel):
    """``GET /app``: the app as GitHub knows it."""

    id: int
    slug: str
    name: str
    owner: Account | None = None
    client_id: str | None = None
    html_url: str
    permissions: Mapping[str, str] = Field(default_factory=dict)
    events: tuple[str, ...] = ()
    installations_count: int | None = None


@dataclasses.dataclass(frozen=True)
class InstallationToken:
    """A minted installation token; ``token`` is left out of repr so it cannot leak."""

    token: str = dataclasses.field(repr=False)
    expires_at: dt.datetime
    permissions: Mapping[str, str]
    repository_selection: str
    repositories: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class AppRegistration:
    """What ``POST /app-manifests/{code}/conversions`` hands back, once: the new app's
    credentials. Store them encrypted at once; they are never shown again."""

    app_id: int
    slug: str
    name: str
    owner: str
    html_url: str
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    webhook_secret: str = dataclasses.field(repr=False)
    pem: str = dataclasses.field(repr=False)


class _Token(_AppModel):
    token: str
    expires_at: dt.datetime
    permissions: Mapping[str, str] = Field(default_factory=dict)
    repository_selection: str = "selected"
    repositories: tuple[Repository, ...] = ()


class _Conversion(_AppModel):
    id: int
    slug: str
    name: str
    owner: Account | None = None
    html_url: str
    client_id: str
    client_secret: str
    webhook_secret: str | None = None
    pem: str


def app_jwt(config: GitHubAppConfig, now: float | None = None) -> str:
    """The app's JWT: RS256 with its private key, ``iss`` its client id (or app id)."""
    issued = int(time.time() if now is None else now) - JWT_BACKDATE
    claims = {
        "iat": issued,
        "exp": issued + JWT_LIFETIME,
        "iss": config.client_id or str(config.app_id),
    }
    return jwt.encode(claims, config.private_key.reveal(), algorithm="RS256")


def _api_url(api_url: str | None) -> str:
    return (api_url or str(settings.GITHUB_API_URL)).rstrip("/")


class _JWTClient(GitHubClient):
    """``GitHubClient``'s plumbing with a JWT that renews itself before it runs out."""

    def __init__(
        self, config: GitHubAppConfig, *, api_url: str, clock: Callable[[], float]
    ) -> None:
        self._config = config
        self._clock = clock
        self._issued = time.monotonic()
        super().__init__(
            app_jwt(config, clock()), api_url=api_url, governor_key=f"app:{config.app_id}"
        )

    def __repr__(self) -> str:
        return f"GitHubAppClient(app_id={self._config.app_id}, api_url={self.api_url!r})"

    def _request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        if time.monotonic() - self._issued > _JWT_REUSE:
            self._token = app_jwt(self._config, self._clock())
            self._issued = time.monotonic()
        return super()._request(method, path_or_url, **kwargs)


class _AnonymousClient(GitHubClient):
    """No ``Authorization`` header: for the one call that takes none (manifest conversion)."""

    def __init__(self, *, api_url: str) -> None:
        super().__init__("anonymous", api_url=api_url, governor_key=f"anonymous:{api_url}")

    def _request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        # GitHubClient sets Authorization before merging these; an empty value drops it
        # (requests leaves out headers whose value is None).
        headers["Authorization"] = None
        return super()._request(method, path_or_url, headers=headers, **kwargs)


class GitHubAppClient:
    """The app's own calls (JWT): the app, its installations, tokens, manifest conversion."""

    def __init__(
        self,
        config: GitHubAppConfig,
        *,
        api_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.api_url = _api_url(api_url)
        self._client = _JWTClient(config, api_url=self.api_url, clock=clock)

    def __repr__(self) -> str:
        return f"GitHubAppClient(app_id={self.config.app_id}, api_url={self.api_url!r})"

    def get_app(self) -> GitHubApp:
        # Reference: https://docs.github.com/en/rest/apps/apps#get-the-authenticated-app
        operation = "read the GitHub App"
        response = self._client._request("GET", "/app", operation=operation)
        return self._client._parse(GitHubApp, response, operation)

    def list_installations(self) -> list[Installation]:
        # Reference: https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app
        operation = "list the GitHub App's installations"
        return [
            self._client._validate(Installation, item, operation)
            for item in self._client._paginate("/app/installations", operation=operation)
        ]

    def get_installation(self, installation_id: int) -> Installation:
        operation = f"read installation {int(installation_id)} of the GitHub App"
        response = self._client._request(
            "GET", f"/app/installations/{int(installation_id)}", operation=operation
        )
        return self._client._parse(Installation, response, operation)

    def repository_installation(self, owner: str, repo: str) -> Installation | None:
        """The app's installation that covers ``owner/repo``, or ``None`` when there is none."""
        # Reference: https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
        operation = f"find the GitHub App's installation on {owner}/{repo}"
        try:
            response = self._client._request(
                "GET",
                f"/repos/{_segment(owner)}/{_segment(repo)}/installation",
                operation=operation,
            )
        except NotFound:
            return None
        return self._client._parse(Installation, response, operation)

    def create_installation_token(
        self,
        installation_id: int,
        repositories: list[str] | tuple[str, ...] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> InstallationToken:
        """A one-hour token of the installation, narrowed to ``repositories`` (names, without
        the owner) and ``permissions`` (a subset of the app's; GitHub answers 422 otherwise)."""
        # Reference: https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
        operation = f"get a token for installation {int(installation_id)} of the GitHub App"
        body: dict[str, Any] = {}
        if repositories is not None:
            body["repositories"] = [name.rsplit("/", 1)[-1] for name in repositories]
        if permissions is not None:
            body["permissions"] = dict(permissions)
        response = self._client._request(
            "POST",
            f"/app/installations/{int(installation_id)}/access_tokens",
            operation=operation,
            json=body or None,
        )
        minted = self._client._parse(_Token, response, operation)
        return InstallationToken(
            token=minted.token,
            expires_at=minted.expires_at,
            permissions=dict(minted.permissions),
            repository_selection=minted.repository_selection,
            repositories=tuple(repo.full_name for repo in minted.repositories),
        )

    def delete_installation(self, installation_id: int) -> None:
        # Reference: https://docs.github.com/en/rest/apps/apps#delete-an-installation-for-the-authenticated-app
        self._client._request(
            "DELETE",
            f"/app/installations/{int(installation_id)}",
            operation=f"uninstall the GitHub App (installation {int(installation_id)})",
        )

    @staticmethod
    def convert_manifest(code: str, *, api_url: str | None = None) -> AppRegistration:
        """Turn the manifest flow's one-hour code into the new app's credentials (no auth)."""
        # Reference: https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest
        client = _AnonymousClient(api_url=_api_url(api_url))
        operation = "finish registering the GitHub App"
        response = client._request(
            "POST", f"/app-manifests/{_segment(code)}/conversions", operation=operation
        )
        made = client._parse(_Conversion, response, operation)
        return AppRegistration(
            app_id=made.id,
            slug=made.slug,
            name=made.name,
            owner=made.owner.login if made.owner else "",
            html_url=made.html_url,
            client_id=made.client_id,
            client_secret=made.client_secret,
            webhook_secret=made.webhook_secret or "",
            pem=made.pem,
        )


def installation_client(
    config: GitHubAppConfig,
    installation_id: int,
    repository: str,
    permissions: Mapping[str, str],
    *,
    api_url: str | None = None,
) -> GitHubClient:
    """A ``GitHubClient`` on an installation token for ONE repository (``owner/name`` or
    ``name``) and ``permissions``; the token is minted once and reused from the cache."""
    base = _api_url(api_url)
    token = _cached_token(config, installation_id, repository, permissions, base)
    return GitHubClient(token, api_url=base, governor_key=f"installation:{int(installation_id)}")


def _cache_key(
    config: GitHubAppConfig,
    installation_id: int,
    repository: str,
    permissions: Mapping[str, str],
    api_url: str,
) -> str:
    # The client id too: a re-registered app may reuse an app id, never a client id.
    scope = json.dumps(
        [api_url, config.client_id, repository.lower(), sorted(permissions.items())],
        separators=(",", ":"),
    )
    digest = hashlib.sha256(scope.encode()).hexdigest()[:32]
    return f"{_CACHE_PREFIX}{config.app_id}:{int(installation_id)}:{digest}"


def _cached_token(
    config: GitHubAppConfig,
    installation_id: int,
    repository: str,
    permissions: Mapping[str, str],
    api_url: str,
) -> str:
    key = _cache_key(config, installation_id, repository, permissions, api_url)
    stored = cache.get(key)
    if isinstance(stored, str):
        try:
            return decrypt(stored)
        except SecretDecryptError:
            cache.delete(key)  # a rotated key: mint a new one
    minted = GitHubAppClient(config, api_url=api_url).create_installation_token(
        installation_id, [repository], permissions
    )
    lifetime = (minted.expires_at - TOKEN_MARGIN - _now()).total_seconds()
    if lifetime > 0:
        # Encrypted in the cache too: Redis or the cache folder is not a place for secrets.
        cache.set(key, encrypt(minted.token), timeout=int(lifetime))
    logger.info(
        "GitHub App: new token for installation %s (%s), valid until %s",
        installation_id,
        repository,
        minted.expires_at.isoformat(),
    )
    return minted.token


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")
