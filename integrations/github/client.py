"""The GitHub REST client: the calls hubcourse makes on a student's repository.

Authentication is one token, sent as ``Authorization: Bearer``: a GitHub App installation
token, a fine-grained or classic personal access token, or the signed-in student's OAuth
token (``GitHubClient.for_oauth_token``). Every request carries GitHub's media type and a
pinned API version, goes through ``hubcourse.http`` (timeouts, one exception family) and
through the rate-limit governor, keyed by a hash of the token (or by ``governor_key``: an
installation's tokens share one budget, see app.py).

GitHub answers a rate limit with 403 *or* 429; a 403 is a rate limit when
``x-ratelimit-remaining`` is 0, when ``retry-after`` is present or when the message says so,
and a plain permission refusal otherwise. The first becomes ``RateLimited`` (transient, with
the time to come back), the second ``Forbidden`` (permanent).

Results are frozen pydantic models parsed at this boundary; raw dicts never leave the module.
Reference: https://docs.github.com/en/rest
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TypeVar

import requests
from django.conf import settings
from nacl.public import PublicKey, SealedBox
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hubcourse import http
from hubcourse.errors import (
    Conflict,
    ExternalServiceError,
    Invalid,
    NotFound,
    RateLimited,
    Throttled,
    UnexpectedResponse,
)
from hubcourse.governor import Governor, credential_key

logger = logging.getLogger(__name__)

SERVICE = "GitHub"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
RAW_MEDIA_TYPE = "application/vnd.github.raw+json"
# A commit read with this media type answers the bare SHA: the cheapest way to read a head.
SHA_MEDIA_TYPE = "application/vnd.github.sha"
PER_PAGE = 100
# 50 pages of 100 is more than any repository hubcourse looks at has hooks, branches or
# runs worth reading; past it we stop and say so rather than loop on a broken Link header.
MAX_PAGES = 50
# GitHub's validation message when a hook with the same URL exists (422).
HOOK_EXISTS = "hook already exists"
_RATE_LIMIT_WORDS = ("rate limit", "abuse detection")

# A token's primary limit is 5,000 requests an hour. Spread evenly that is one call per
# 0.72 s, which would make a class's pre-flight crawl while most of the budget sits unused:
# once the budget left is known, calls may run a quarter of the hour left ahead of the even
# pace. GitHub's own guidance bounds that: the secondary limit counts 900 points a minute
# (a read 1, a write 5), so reads stay under 600 a minute with writes at most one a second
# (the spacing GitHub asks for between writes).
GOVERNOR = Governor(
    SERVICE,
    default_limit=5000,
    window=3600.0,
    burst=30,
    burst_share=0.25,
    minute_limit=600,
    write_spacing=1.0,
)

_Model = TypeVar("_Model", bound=BaseModel)


# -- typed results ---------------------------------------------------------------------------


class _GitHubModel(BaseModel):
    # Frozen values; GitHub adds fields freely, so unknown ones are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Account(_GitHubModel):
    login: str
    id: int
    type: str = "User"


class GitHubUser(_GitHubModel):
    login: str
    id: int
    type: str = "User"
    name: str | None = None
    email: str | None = None
    html_url: str | None = None


class TokenIdentity(_GitHubModel):
    """Who a token acts for and what it may do, from ``GET /user`` and its headers."""

    user: GitHubUser
    # Classic and OAuth tokens list their scopes in ``x-oauth-scopes``; fine-grained and
    # installation tokens send no such header, so ``None`` means "not listed", not "none".
    scopes: frozenset[str] | None
    expires_at: dt.datetime | None = None

    def has_scope(self, *any_of: str) -> bool:
        """True if the token lists one of ``any_of`` (``repo`` implies ``public_repo``)."""
        if self.scopes is None:
            return False
        granted = set(self.scopes)
        if "repo" in granted:
            granted.add("public_repo")
        if "admin:repo_hook" in granted:
            granted |= {"write:repo_hook", "read:repo_hook"}
        return any(scope in granted for scope in any_of)


class RepositoryPermissions(_GitHubModel):
    admin: bool = False
    maintain: bool = False
    push: bool = False
    triage: bool = False
    pull: bool = False


class Repository(_GitHubModel):
    id: int
    name: str
    full_name: str
    owner: Account
    private: bool
    visibility: str | None = None
    default_branch: str | None = None
    html_url: str
    clone_url: str | None = None
    archived: bool = False
    disabled: bool = False
    pushed_at: dt.datetime | None = None
    # Only present for an authenticated caller: what that caller may do.
    permissions: RepositoryPermissions | None = None


class _CommitRef(_GitHubModel):
    sha: str


class Branch(_GitHubModel):
    name: str
    commit: _CommitRef
    protected: bool = False

    @property
    def sha(self) -> str:
        return self.commit.sha


class FileContent(_GitHubModel):
    path: str
    sha: str
    size: int
    content: bytes
    html_url: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode()


class FileWrite(_GitHubModel):
    """The outcome of ``create_or_update_file``: no commit is made when nothing changed."""

    path: str
    action: Literal["created", "updated", "unchanged"]
    content_sha: str
    commit_sha: str | None = None


class WebhookConfig(_GitHubModel):
    url: str
    content_type: str = "form"
    insecure_ssl: str = "0"


class Webhook(_GitHubModel):
    id: int
    name: str
    active: bool
    events: tuple[str, ...]
    config: WebhookConfig
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class RepositoryPublicKey(_GitHubModel):
    key_id: str
    key: str


class RepositorySecret(_GitHubModel):
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime


class RepositoryVariable(_GitHubModel):
    name: str
    value: str
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class WorkflowRun(_GitHubModel):
    id: int
    name: str | None = None
    workflow_id: int
    path: str | None = None
    head_branch: str | None = None
    head_sha: str
    event: str
    # queued, in_progress, completed, waiting, requested, pending
    status: str | None = None
    # success, failure, cancelled, skipped, timed_out, ... (None until completed)
    conclusion: str | None = None
    run_number: int
    run_attempt: int | None = None
    html_url: str
    created_at: dt.datetime
    updated_at: dt.datetime
    run_started_at: dt.datetime | None = None


class WorkflowStep(_GitHubModel):
    name: str
    status: str
    conclusion: str | None = None
    number: int


class WorkflowJob(_GitHubModel):
    id: int
    run_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    steps: tuple[WorkflowStep, ...] = ()


class Installation(_GitHubModel):
    """One installation of a GitHub App on an account (user or organisation)."""

    id: int
    account: Account
    app_id: int | None = None
    app_slug: str | None = None
    # "all" or "selected"
    repository_selection: str = "selected"
    permissions: Mapping[str, str] = Field(default_factory=dict)
    events: tuple[str, ...] = ()
    suspended_at: dt.datetime | None = None
    html_url: str | None = None


class RateLimitResource(_GitHubModel):
    limit: int
    remaining: int
    used: int | None = None
    reset: dt.datetime


class RateLimitStatus(_GitHubModel):
    core: RateLimitResource
    resources: Mapping[str, RateLimitResource] = Field(default_factory=dict)


class _ContentPut(_GitHubModel):
    content: _CommitRef
    commit: _CommitRef


class _ContentDelete(_GitHubModel):
    commit: _CommitRef


class _DispatchAnswer(_GitHubModel):
    workflow_run_id: int


class _RunList(_GitHubModel):
    total_count: int
    workflow_runs: tuple[WorkflowRun, ...]


class _JobList(_GitHubModel):
    total_count: int
    jobs: tuple[WorkflowJob, ...]


# -- error translation -----------------------------------------------------------------------


class GitHubErrorTranslator(http.ErrorTranslator):
    """GitHub's error body, and its two kinds of 403."""

    def message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return super().message(response)
        # "Validation Failed" alone says nothing; the reasons are in ``errors``.
        details = [
            str(item.get("message") or item.get("code"))
            for item in body.get("errors") or []
            if isinstance(item, dict) and (item.get("message") or item.get("code"))
        ]
        text = body["message"].strip()
        if details:
            text = f"{text}: {'; '.join(details)}"
        return " ".join(text.split())[:300]

    def error(
        self, response: requests.Response, *, service: str, operation: str
    ) -> ExternalServiceError:
        if response.status_code == 403 and is_rate_limit_response(response):
            return RateLimited(
                service,
                operation,
                response.status_code,
                self.message(response),
                retry_at=self.retry_at(response, dt.datetime.now(dt.UTC)),
                headers=response.headers,
            )
        return super().error(response, service=service, operation=operation)


def is_rate_limit_response(response: requests.Response) -> bool:
    """Whether a 403/429 is GitHub's primary or secondary rate limit, not a permission refusal.

    Reference: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    if response.status_code == 429:
        return True
    if response.headers.get("x-ratelimit-remaining") == "0":
        return True
    if response.headers.get("retry-after"):
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    message = body.get("message") if isinstance(body, dict) else None
    return isinstance(message, str) and any(word in message.lower() for word in _RATE_LIMIT_WORDS)


TRANSLATOR = GitHubErrorTranslator()


# -- the client ------------------------------------------------------------------------------


class GitHubClient:
    """One credential against one GitHub API base (github.com, Enterprise or the sandbox)."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        governor: Governor | None = None,
        governor_key: str | None = None,
    ) -> None:
        if not token:
            raise ValueError("a GitHub token is required")
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._governor = governor or GOVERNOR
        # An installation's tokens share one budget on GitHub's side, so they share a key
        # here ("installation:{id}"); any other token is its own budget.
        self._key = governor_key or credential_key("github", self.api_url, token)
        self._origin = _origin(self.api_url)

    @classmethod
    def from_settings(cls) -> GitHubClient:
        """The deployment's own token (``GITHUB_TOKEN``) against ``GITHUB_API_URL``."""
        return cls(settings.GITHUB_TOKEN, api_url=settings.GITHUB_API_URL)

    @classmethod
    def for_oauth_token(cls, token: str) -> GitHubClient:
        """A student's OAuth token (from signing in with GitHub) against ``GITHUB_API_URL``."""
        return cls(token, api_url=settings.GITHUB_API_URL)

    def __repr__(self) -> str:
        # Never the token.
        return f"GitHubClient(api_url={self.api_url!r})"

    # -- the authenticated identity ----------------------------------------------------------

    def get_authenticated_user(self) -> GitHubUser:
        # Reference: https://docs.github.com/en/rest/users/users#get-the-authenticated-user
        return self.whoami().user

    def whoami(self) -> TokenIdentity:
        """The token's user, its listed OAuth scopes and its expiry, in one call."""
        # Reference: https://docs.github.com/en/rest/users/users#get-the-authenticated-user
        # and https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps
        operation = "read the signed-in account"
        response = self._request("GET", "/user", operation=operation)
        user = self._parse(GitHubUser, response, operation)
        header = response.headers.get("x-oauth-scopes")
        scopes = (
            frozenset(part.strip() for part in header.split(",") if part.strip())
            if header is not None
            else None
        )
        return TokenIdentity(
            user=user,
            scopes=scopes,
            expires_at=_parse_expiry(
                response.headers.get("github-authentication-token-expiration")
            ),
        )

    def list_user_installations(self) -> list[Installation]:
        """The app's installations the signed-in user can reach (a user access token of the
        app): how a setup URL's ``installation_id`` is confirmed, since anyone can forge one."""
        # Reference: https://docs.github.com/en/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token
        operation = "list your installations of the GitHub App"
        found: list[Installation] = []
        for page in self._paginate_pages("/user/installations", operation=operation):
            items = page.get("installations") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self._unexpected(operation, "installations is not a list")
            found.extend(self._validate(Installation, item, operation) for item in items)
        return found

    def list_user_installation_repositories(self, installation_id: int) -> list[Repository]:
        """The repositories of one installation the signed-in user can reach."""
        # Reference: https://docs.github.com/en/rest/apps/installations#list-repositories-accessible-to-the-user-access-token
        operation = "list the repositories the GitHub App is installed on"
        found: list[Repository] = []
        path = f"/user/installations/{int(installation_id)}/repositories"
        for page in self._paginate_pages(path, operation=operation):
            items = page.get("repositories") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self._unexpected(operation, "repositories is not a list")
            found.extend(self._validate(Repository, item, operation) for item in items)
        return found

    def rate_limit(self) -> RateLimitStatus:
        """The token's budget; this call does not count against the primary limit."""
        # Reference: https://docs.github.com/en/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user
        operation = "read the rate limit"
        body = self._json(self._request("GET", "/rate_limit", operation=operation), operation)
        if not isinstance(body, dict):
            raise self._unexpected(operation, "not an object")
        resources = body.get("resources") or {}
        return self._validate(
            RateLimitStatus,
            {"core": body.get("rate") or resources.get("core"), "resources": resources},
            operation,
        )

    def get_account(self, login: str) -> Account:
        """A user or organisation by login (public facts: its type)."""
        # Reference: https://docs.github.com/en/rest/users/users#get-a-user
        operation = f"read the GitHub account {login}"
        response = self._request("GET", f"/users/{_q(login)}", operation=operation)
        return self._parse(Account, response, operation)

    # -- repositories and branches -----------------------------------------------------------

    def get_repository(self, owner: str, repo: str) -> Repository:
        """The repository; a renamed or transferred one is followed (301) to its new name.

        Compare ``full_name`` with what was asked for to notice a rename.
        """
        # Reference: https://docs.github.com/en/rest/repos/repos#get-a-repository
        operation = f"read repository {owner}/{repo}"
        response = self._request("GET", f"/repos/{_q(owner)}/{_q(repo)}", operation=operation)
        return self._parse(Repository, response, operation)

    def list_my_repositories(
        self,
        *,
        visibility: Literal["all", "public", "private"] = "all",
        affiliation: str = "owner,collaborator,organization_member",
    ) -> list[Repository]:
        """The repositories the token's user can access (what a student picks from)."""
        # Reference: https://docs.github.com/en/rest/repos/repos#list-repositories-for-the-authenticated-user
        operation = "list the signed-in account's repositories"
        params = {"visibility": visibility, "affiliation": affiliation, "sort": "full_name"}
        return [
            self._validate(Repository, item, operation)
            for item in self._paginate("/user/repos", operation=operation, params=params)
        ]

    def get_branch(self, owner: str, repo: str, branch: str) -> Branch:
        # Reference: https://docs.github.com/en/rest/branches/branches#get-a-branch
        operation = f"read branch {branch} of {owner}/{repo}"
        response = self._request(
            "GET", f"/repos/{_q(owner)}/{_q(repo)}/branches/{_q(branch)}", operation=operation
        )
        return self._parse(Branch, response, operation)

    def get_branch_head(
        self, owner: str, repo: str, branch: str, etag: str = ""
    ) -> tuple[str, str] | None:
        """The branch's head commit and the answer's ``ETag``: ``(sha, etag)``; ``None`` when
        ``etag`` still matches (GitHub answered 304 Not Modified).

        The conditional request is the point: a 304 to an authorised caller does not count
        against its rate limit, so a branch can be watched often for nothing.
        """
        # Reference: https://docs.github.com/en/rest/commits/commits#get-a-commit (with the
        # sha media type) and https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
        operation = f"read the head of branch {branch} of {owner}/{repo}"
        headers = {"Accept": SHA_MEDIA_TYPE}
        if etag:
            headers["If-None-Match"] = etag
        response = self._request(
            "GET",
            f"/repos/{_q(owner)}/{_q(repo)}/commits/{_q(branch)}",
            operation=operation,
            headers=headers,
        )
        if response.status_code == 304:
            return None
        sha = response.text.strip()
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
            raise self._unexpected(operation, "the answer is not a commit SHA", response)
        return sha, response.headers.get("ETag", "")

    # -- contents ------------------------------------------------------------------------------

    def get_file(self, owner: str, repo: str, path: str, *, ref: str | None = None) -> FileContent:
        """A file's bytes at ``ref`` (default branch when ``None``). ``NotFound`` if absent."""
        # Reference: https://docs.github.com/en/rest/repos/contents#get-repository-content
        operation = f"read {path} in {owner}/{repo}"
        url = f"/repos/{_q(owner)}/{_q(repo)}/contents/{_q_path(path)}"
        params = {"ref": ref} if ref else None
        response = self._request("GET", url, operation=operation, params=params)
        body = self._json(response, operation)
        if isinstance(body, list) or not isinstance(body, dict) or body.get("type") != "file":
            # A directory is a JSON array; symlinks and submodules have their own shapes.
            raise Invalid(SERVICE, operation, response.status_code, f"{path} is not a file")
        encoding = body.get("encoding")
        if encoding == "base64":
            try:
                content = base64.b64decode(str(body.get("content") or ""))
            except ValueError as exc:
                raise self._unexpected(operation, "content is not valid base64") from exc
        elif encoding == "none" or not body.get("content"):
            # Files of 1-100 MB come without content; the raw media type returns the bytes.
            raw = self._request(
                "GET", url, operation=operation, params=params, headers={"Accept": RAW_MEDIA_TYPE}
            )
            content = raw.content
        else:
            raise self._unexpected(operation, f"unknown content encoding {encoding!r}")
        return self._validate(FileContent, {**body, "content": content}, operation)

    def file_exists(self, owner: str, repo: str, path: str, *, ref: str | None = None) -> bool:
        try:
            self.get_file(owner, repo, path, ref=ref)
        except NotFound:
            return False
        return True

    def create_or_update_file(
        self,
        owner: str,
        repo: str,
        path: str,
        content: bytes | str,
        *,
        message: str,
        branch: str | None = None,
    ) -> FileWrite:
        """Make ``path`` hold ``content`` on ``branch``: one commit, or none if it already does.

        Reads the current blob first, both for the ``sha`` GitHub requires on an update and so
        that running the same step twice does not make an empty commit. A concurrent change
        between the read and the write is refused by GitHub with 409 (``Conflict``).
        """
        # Reference: https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents
        data = content.encode() if isinstance(content, str) else content
        try:
            current: FileContent | None = self.get_file(owner, repo, path, ref=branch)
        except NotFound:
            current = None
        if current is not None and current.content == data:
            return FileWrite(path=path, action="unchanged", content_sha=current.sha)
        operation = f"write {path} in {owner}/{repo}"
        body: dict[str, Any] = {"message": message, "content": base64.b64encode(data).decode()}
        if branch:
            body["branch"] = branch
        if current is not None:
            body["sha"] = current.sha
        response = self._request(
            "PUT",
            f"/repos/{_q(owner)}/{_q(repo)}/contents/{_q_path(path)}",
            operation=operation,
            json=body,
        )
        result = self._parse(_ContentPut, response, operation)
        return FileWrite(
            path=path,
            action="updated" if current is not None else "created",
            content_sha=result.content.sha,
            commit_sha=result.commit.sha,
        )

    def delete_file(
        self, owner: str, repo: str, path: str, *, message: str, branch: str | None = None
    ) -> str | None:
        """Remove ``path`` from ``branch`` in one commit; returns its sha, None if already gone.

        Reads the blob first for the ``sha`` GitHub requires; a concurrent change between the
        read and the delete is refused with 409 (``Conflict``).
        """
        # Reference: https://docs.github.com/en/rest/repos/contents#delete-a-file
        try:
            current = self.get_file(owner, repo, path, ref=branch)
        except NotFound:
            return None
        operation = f"delete {path} in {owner}/{repo}"
        body: dict[str, Any] = {"message": message, "sha": current.sha}
        if branch:
            body["branch"] = branch
        response = self._request(
            "DELETE",
            f"/repos/{_q(owner)}/{_q(repo)}/contents/{_q_path(path)}",
            operation=operation,
            json=body,
        )
        return self._parse(_ContentDelete, response, operation).commit.sha

    # -- webhooks ------------------------------------------------------------------------------

    def list_webhooks(self, owner: str, repo: str) -> list[Webhook]:
        # Reference: https://docs.github.com/en/rest/repos/webhooks#list-repository-webhooks
        operation = f"list webhooks of {owner}/{repo}"
        return [
            self._validate(Webhook, item, operation)
            for item in self._paginate(f"/repos/{_q(owner)}/{_q(repo)}/hooks", operation=operation)
        ]

    def create_webhook(
        self,
        owner: str,
        repo: str,
        *,
        url: str,
        secret: str,
        events: tuple[str, ...] = ("push",),
        active: bool = True,
    ) -> Webhook:
        """A JSON webhook to ``url`` signed with ``secret``; an existing hook to ``url`` is reused.

        GitHub refuses a second hook with the same URL (422 "Hook already exists"): the step
        already happened, perhaps with an older secret or other events, which GitHub never
        shows. So the existing hook is updated to what was asked, and returned.
        """
        # Reference: https://docs.github.com/en/rest/repos/webhooks#create-a-repository-webhook
        operation = f"create a webhook on {owner}/{repo}"
        body = {"name": "web", **_hook_fields(url, secret, events, active)}
        try:
            response = self._request(
                "POST", f"/repos/{_q(owner)}/{_q(repo)}/hooks", operation=operation, json=body
            )
        except Invalid as error:
            if error.status != 422 or HOOK_EXISTS not in error.message.lower():
                raise
            for hook in self.list_webhooks(owner, repo):
                if hook.config.url == url:
                    return self.update_webhook(
                        owner, repo, hook.id, url=url, secret=secret, events=events, active=active
                    )
            raise
        return self._parse(Webhook, response, operation)

    def update_webhook(
        self,
        owner: str,
        repo: str,
        hook_id: int,
        *,
        url: str,
        secret: str,
        events: tuple[str, ...] = ("push",),
        active: bool = True,
    ) -> Webhook:
        # Reference: https://docs.github.com/en/rest/repos/webhooks#update-a-repository-webhook
        operation = f"update webhook {hook_id} of {owner}/{repo}"
        response = self._request(
            "PATCH",
            f"/repos/{_q(owner)}/{_q(repo)}/hooks/{hook_id}",
            operation=operation,
            json=_hook_fields(url, secret, events, active),
        )
        return self._parse(Webhook, response, operation)

    def delete_webhook(self, owner: str, repo: str, hook_id: int) -> None:
        # Reference: https://docs.github.com/en/rest/repos/webhooks#delete-a-repository-webhook
        self._request(
            "DELETE",
            f"/repos/{_q(owner)}/{_q(repo)}/hooks/{hook_id}",
            operation=f"delete webhook {hook_id} of {owner}/{repo}",
        )

    # -- Actions secrets -----------------------------------------------------------------------

    def get_actions_public_key(self, owner: str, repo: str) -> RepositoryPublicKey:
        # Reference: https://docs.github.com/en/rest/actions/secrets#get-a-repository-public-key
        operation = f"read the secrets key of {owner}/{repo}"
        response = self._request(
            "GET", f"/repos/{_q(owner)}/{_q(repo)}/actions/secrets/public-key", operation=operation
        )
        return self._parse(RepositoryPublicKey, response, operation)

    def get_actions_secret(self, owner: str, repo: str, name: str) -> RepositorySecret:
        """The secret's name and dates (GitHub never returns its value). ``NotFound`` if unset."""
        # Reference: https://docs.github.com/en/rest/actions/secrets#get-a-repository-secret
        operation = f"read secret {name} of {owner}/{repo}"
        response = self._request(
            "GET", f"/repos/{_q(owner)}/{_q(repo)}/actions/secrets/{_q(name)}", operation=operation
        )
        return self._parse(RepositorySecret, response, operation)

    def set_actions_secret(self, owner: str, repo: str, name: str, value: str) -> bool:
        """Store ``value`` as Actions secret ``name``, sealed with the repository's key.

        Returns True when the secret was created, False when an existing one was replaced.
        """
        # Reference: https://docs.github.com/en/rest/actions/secrets#create-or-update-a-repository-secret
        key = self.get_actions_public_key(owner, repo)
        operation = f"store secret {name} in {owner}/{repo}"
        response = self._request(
            "PUT",
            f"/repos/{_q(owner)}/{_q(repo)}/actions/secrets/{_q(name)}",
            operation=operation,
            json={"encrypted_value": seal_secret(key.key, value), "key_id": key.key_id},
        )
        return response.status_code == 201

    def delete_actions_secret(self, owner: str, repo: str, name: str) -> bool:
        """Remove Actions secret ``name``; False when there was none."""
        # Reference: https://docs.github.com/en/rest/actions/secrets#delete-a-repository-secret
        try:
            self._request(
                "DELETE",
                f"/repos/{_q(owner)}/{_q(repo)}/actions/secrets/{_q(name)}",
                operation=f"delete secret {name} of {owner}/{repo}",
            )
        except NotFound:
            return False
        return True

    # -- Actions variables ---------------------------------------------------------------------

    def get_actions_variable(self, owner: str, repo: str, name: str) -> RepositoryVariable:
        """The variable's name and value. ``NotFound`` if unset."""
        # Reference: https://docs.github.com/en/rest/actions/variables#get-a-repository-variable
        operation = f"read variable {name} of {owner}/{repo}"
        response = self._request(
            "GET",
            f"/repos/{_q(owner)}/{_q(repo)}/actions/variables/{_q(name)}",
            operation=operation,
        )
        return self._parse(RepositoryVariable, response, operation)

    def set_actions_variable(self, owner: str, repo: str, name: str, value: str) -> str:
        """Make Actions variable ``name`` hold ``value``: "created", "updated" or "unchanged"
        (one read when it already holds it)."""
        # Reference: https://docs.github.com/en/rest/actions/variables#create-a-repository-variable
        # and #update-a-repository-variable
        base = f"/repos/{_q(owner)}/{_q(repo)}/actions/variables"
        try:
            if self.get_actions_variable(owner, repo, name).value == value:
                return "unchanged"
        except NotFound:
            try:
                self._request(
                    "POST",
                    base,
                    operation=f"create variable {name} in {owner}/{repo}",
                    json={"name": name, "value": value},
                )
                return "created"
            except Conflict:
                pass  # made between our read and our write: update it below
        self._request(
            "PATCH",
            f"{base}/{_q(name)}",
            operation=f"update variable {name} in {owner}/{repo}",
            json={"name": name, "value": value},
        )
        return "updated"

    def delete_actions_variable(self, owner: str, repo: str, name: str) -> bool:
        """Remove Actions variable ``name``; False when there was none."""
        # Reference: https://docs.github.com/en/rest/actions/variables#delete-a-repository-variable
        try:
            self._request(
                "DELETE",
                f"/repos/{_q(owner)}/{_q(repo)}/actions/variables/{_q(name)}",
                operation=f"delete variable {name} of {owner}/{repo}",
            )
        except NotFound:
            return False
        return True

    # -- Actions runs and jobs -----------------------------------------------------------------

    def list_workflow_runs(
        self,
        owner: str,
        repo: str,
        *,
        branch: str | None = None,
        head_sha: str | None = None,
        event: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[WorkflowRun]:
        """Runs, newest first, filtered as GitHub allows; at most ``limit`` when given."""
        # Reference: https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
        operation = f"list workflow runs of {owner}/{repo}"
        filters = {"branch": branch, "head_sha": head_sha, "event": event, "status": status}
        params = {name: value for name, value in filters.items() if value}
        if limit is not None:
            params["per_page"] = str(max(1, min(PER_PAGE, limit)))
        runs: list[WorkflowRun] = []
        for page in self._paginate_pages(
            f"/repos/{_q(owner)}/{_q(repo)}/actions/runs", operation=operation, params=params
        ):
            runs.extend(self._validate(_RunList, page, operation).workflow_runs)
            if limit is not None and len(runs) >= limit:
                return runs[:limit]
        return runs

    def dispatch_workflow(self, owner: str, repo: str, workflow: str | int, ref: str) -> int | None:
        """Start a run of ``workflow`` (its id or file name, "hubcourse.yml") on branch ``ref``.

        The workflow must list ``workflow_dispatch`` in ``on`` (else 422, ``Invalid``). Asks for
        the run's id (``return_run_details``); a GitHub that answers 204 without it gives None,
        and the run shows up in the runs list a few seconds later.
        """
        # Reference: https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
        operation = f"start workflow {workflow} on {ref} of {owner}/{repo}"
        response = self._request(
            "POST",
            f"/repos/{_q(owner)}/{_q(repo)}/actions/workflows/{_q(str(workflow))}/dispatches",
            operation=operation,
            json={"ref": ref, "return_run_details": True},
        )
        if response.status_code == 204 or not response.content:
            return None
        return self._parse(_DispatchAnswer, response, operation).workflow_run_id

    def get_workflow_run(self, owner: str, repo: str, run_id: int) -> WorkflowRun:
        # Reference: https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run
        operation = f"read workflow run {run_id} of {owner}/{repo}"
        response = self._request(
            "GET", f"/repos/{_q(owner)}/{_q(repo)}/actions/runs/{run_id}", operation=operation
        )
        return self._parse(WorkflowRun, response, operation)

    def list_workflow_jobs(self, owner: str, repo: str, run_id: int) -> list[WorkflowJob]:
        """The jobs of a run's latest attempt."""
        # Reference: https://docs.github.com/en/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run
        operation = f"list jobs of workflow run {run_id} of {owner}/{repo}"
        jobs: list[WorkflowJob] = []
        for page in self._paginate_pages(
            f"/repos/{_q(owner)}/{_q(repo)}/actions/runs/{run_id}/jobs",
            operation=operation,
            params={"filter": "latest"},
        ):
            jobs.extend(self._validate(_JobList, page, operation).jobs)
        return jobs

    def job_log_url(self, owner: str, repo: str, job_id: int) -> str:
        """A short-lived URL (about a minute on GitHub) of a job's plain-text log."""
        # GitHub answers 302 to the log's storage URL: read the Location without following
        # it, so the log itself is not downloaded (or the final URL when nothing redirected).
        response = self._job_log(owner, repo, job_id, allow_redirects=False)
        location = response.headers.get("Location")
        if response.is_redirect and location:
            return urllib.parse.urljoin(response.url, location)
        return response.url

    def job_log(self, owner: str, repo: str, job_id: int) -> str:
        """A finished job's plain-text log. ``NotFound`` while the job is still running."""
        return self._job_log(owner, repo, job_id).text

    def _job_log(
        self, owner: str, repo: str, job_id: int, *, allow_redirects: bool | None = None
    ) -> requests.Response:
        # Reference: https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run
        return self._request(
            "GET",
            f"/repos/{_q(owner)}/{_q(repo)}/actions/jobs/{job_id}/logs",
            operation=f"read the log of job {job_id} of {owner}/{repo}",
            allow_redirects=allow_redirects,
        )

    # -- plumbing ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool | None = None,
    ) -> requests.Response:
        url = self._url(path_or_url)
        all_headers = {
            "Accept": MEDIA_TYPE,
            "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {self._token}",
        }
        all_headers.update(headers or {})
        self._governor.acquire(self._key, operation, write=method not in ("GET", "HEAD"))
        try:
            return http.request(
                method,
                url,
                service=SERVICE,
                operation=operation,
                params=params,
                json=json,
                headers=all_headers,
                translator=TRANSLATOR,
                observer=self._governor.observer(self._key),
                allow_redirects=allow_redirects,
            )
        except RateLimited as error:
            # The governor pauses on a 429 by itself, but a secondary-limit 403 may carry no
            # header it reads; the translator's retry time covers both.
            if not isinstance(error, Throttled):
                self._governor.pause(self._key, error.retry_at)
            raise

    def _url(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return f"{self.api_url}{path_or_url}"
        # Link headers are absolute and may name another host (a proxy, the sandbox's public
        # URL): keep their path and query only, so the token only ever goes to api_url.
        parts = urllib.parse.urlsplit(path_or_url)
        return urllib.parse.urlunsplit((*self._origin, parts.path, parts.query, ""))

    def _paginate_pages(
        self, path: str, *, operation: str, params: Mapping[str, str] | None = None
    ) -> Iterator[Any]:
        """Each page's decoded body, following ``Link: rel="next"`` to the end (capped)."""
        url = f"{self.api_url}{path}"
        query: Mapping[str, str] | None = {"per_page": str(PER_PAGE), **(params or {})}
        for _ in range(MAX_PAGES):
            response = self._request("GET", url, operation=operation, params=query)
            yield self._json(response, operation)
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            # The next link carries the whole query already.
            url, query = next_url, None
        logger.warning("GitHub: stopped after %d pages to %s", MAX_PAGES, operation)

    def _paginate(
        self, path: str, *, operation: str, params: Mapping[str, str] | None = None
    ) -> Iterator[Any]:
        for page in self._paginate_pages(path, operation=operation, params=params):
            if not isinstance(page, list):
                raise self._unexpected(operation, "a page is not a list")
            yield from page

    def _json(self, response: requests.Response, operation: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise self._unexpected(operation, "the answer is not JSON", response) from exc

    def _parse(self, model: type[_Model], response: requests.Response, operation: str) -> _Model:
        return self._validate(model, self._json(response, operation), operation, response)

    def _validate(
        self,
        model: type[_Model],
        data: Any,
        operation: str,
        response: requests.Response | None = None,
    ) -> _Model:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the answer"
            raise self._unexpected(operation, f"{where}: {first['msg']}", response) from exc

    def _unexpected(
        self, operation: str, message: str, response: requests.Response | None = None
    ) -> UnexpectedResponse:
        return UnexpectedResponse(
            SERVICE, operation, response.status_code if response is not None else None, message
        )


def seal_secret(public_key: str, value: str) -> str:
    """``value`` encrypted for GitHub Actions: a libsodium sealed box, base64-encoded.

    Reference: https://docs.github.com/en/rest/guides/encrypting-secrets-for-the-rest-api
    """
    box = SealedBox(PublicKey(base64.b64decode(public_key)))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def _hook_fields(url: str, secret: str, events: tuple[str, ...], active: bool) -> dict[str, Any]:
    return {
        "active": active,
        "events": list(events),
        # The default content type is form-encoded; hubcourse reads JSON.
        "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
    }


def _q(segment: str) -> str:
    """One path segment, escaped (a branch may contain ``/``; it is one segment to GitHub)."""
    return urllib.parse.quote(segment, safe="")


def _q_path(path: str) -> str:
    return urllib.parse.quote(path.strip("/"), safe="/")


def _origin(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme.lower(), parsed.netloc.lower()


def _parse_expiry(value: str | None) -> dt.datetime | None:
    """``github-authentication-token-expiration``: "2026-12-01 10:00:00 UTC" or "... +0100"."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text.removesuffix(" UTC") + " +0000"
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
