"""The sandbox GitHub: OAuth web flow and the REST routes hubcourse uses.

Registered twice, at ``/`` (api.github.com's layout) and at ``/api/v3`` (GitHub Enterprise's,
which django-allauth derives from ``GITHUB_URL``). Every API answer carries GitHub's headers
(``x-ratelimit-*``, ``x-github-request-id``, ``x-oauth-scopes``); errors are
``{"message", "documentation_url", "status"}`` with GitHub's status codes.

Credentials: a user's token (``ghp_`` personal, ``gho_`` OAuth, ``ghu_`` a GitHub App's user
access token), an installation token (``ghs_``) or an app's JWT; see ``github_apps`` for the
App routes and how app credentials are scoped. Rate limits are per user, per installation
(``config.github_installation_rate_limit`` or the installation's own) and per address for
anonymous calls. Every ``GET`` answer carries a weak ``ETag``; ``If-None-Match`` with it gets
304 with no body, which does not count against an authenticated caller's limit.
``GET .../commits/{ref}`` with ``Accept: application/vnd.github.sha`` answers the bare SHA.

Reference: https://docs.github.com/en/rest (routes) and
https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps (OAuth).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import posixpath
import re
import secrets
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
)
from nacl.public import PublicKey
from werkzeug.exceptions import HTTPException

from sandbox import actions, github_apps_state, github_json, github_state
from sandbox.github_apps_state import AppAuthError
from sandbox.github_state import GitHubStateError

if TYPE_CHECKING:
    from sandbox.world import World

DOCS = "https://docs.github.com/rest"
API_VERSION = "2022-11-28"
OAUTH_CODE_TTL_S = 600
SESSION_COOKIE = "sandbox_github_login"
NOT_ACCESSIBLE = "Resource not accessible by integration"
# Routes an app's JWT may call (endpoint names); every other route refuses a JWT.
JWT_ENDPOINTS: set[str] = set()
# github.com pages (not the API): no API headers, no rate limit.
WEB_PAGE_RE = re.compile(
    r"^/(login/oauth/|settings/apps/|organizations/[^/]+/settings/apps/|apps/[^/]+/installations/)"
)
ACTIONS_READ = ("actions", "read")
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

bp = Blueprint("github", __name__)


class GitHubError(Exception):
    """An answer in GitHub's error shape; raised by views, rendered by the app's handler."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}
        self.extra: dict[str, Any] = {}


def not_found(message: str = "Not Found") -> GitHubError:
    return GitHubError(404, message)


def _error_response(error: GitHubError) -> Response:
    body: dict[str, Any] = {"message": error.message, **error.extra}
    body["documentation_url"] = error.documentation_url
    if error.errors is not None:
        body["errors"] = error.errors
    body["status"] = str(error.status)
    response = jsonify(body)
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def world() -> World:
    found: World = current_app.extensions["sandbox_world"]
    return found


def urls() -> github_json.Urls:
    """Links in answers keep the layout the request used (``/`` or ``/api/v3``)."""
    base = github_state.base_url(world())
    prefix = "/api/v3" if request.path.startswith("/api/v3/") or request.path == "/api/v3" else ""
    return github_json.Urls(base, api_prefix=prefix)


# -- authentication, rate limits, common headers ---------------------------------------


def _token_from_header() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    if header:
        raise GitHubError(401, "Bad credentials")
    return None


def _is_api_request() -> bool:
    path = request.path.removeprefix("/api/v3")
    return WEB_PAGE_RE.match(path + "/") is None


@bp.before_request
def authenticate_and_limit() -> Response | None:
    if not _is_api_request():
        return None
    the_world = world()
    g.gh_user = None
    g.gh_token = None
    g.gh_app = None
    g.gh_install = None
    g.gh_install_token = None
    try:
        token = _token_from_header()
        if token is not None:
            _authenticate(the_world, token)
        _apply_secondary_limit(the_world)
        if request.path.removeprefix("/api/v3").rstrip("/") != "/rate_limit":
            _apply_primary_limit(the_world)
    except GitHubError as error:
        return _error_response(error)
    return None


def _authenticate(the_world: World, token: str) -> None:
    """Who the credential is: an app (JWT), an installation (``ghs_``) or a user."""
    if token.count(".") == 2:
        try:
            g.gh_app = github_apps_state.app_for_jwt(the_world, token)
        except AppAuthError as error:
            raise GitHubError(error.status, error.message) from error
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
        if endpoint not in JWT_ENDPOINTS:
            # An app's JWT reaches the app's own routes only; the rest needs an installation.
            raise GitHubError(403, NOT_ACCESSIBLE)
        return
    if token.startswith("ghs_"):
        with the_world.lock:
            record = github_apps_state.token_record(the_world, token)
            inst = (
                github_apps_state.get_installation(the_world, record["installation_id"])
                if record is not None
                else None
            )
            if record is None or inst is None or record["expires_at"] <= the_world.now():
                raise GitHubError(401, "Bad credentials")
        g.gh_install_token = record
        g.gh_install = inst
        if inst["suspended_at"]:
            raise GitHubError(403, "This installation has been suspended")
        return
    found = github_state.user_for_token(the_world, token)
    if found is None:
        raise GitHubError(401, "Bad credentials")
    g.gh_user, g.gh_token = found


def is_integration() -> bool:
    """True for an app's JWT, an installation token or a user token issued to an app."""
    return (
        g.get("gh_app") is not None or g.get("gh_install") is not None or _token_app() is not None
    )


def _token_app() -> dict[str, Any] | None:
    """The app a user access token (``ghu_``) was issued to, if it was."""
    token = g.get("gh_token")
    if token is None or token.get("kind") != "app-user":
        return None
    return github_apps_state.get_app(world(), token["client_id"])


def grant_for(repo: dict[str, Any]) -> dict[str, str] | None:
    """The permissions an integration's credential has on ``repo``; None when out of scope."""
    the_world = world()
    record = g.get("gh_install_token")
    if record is not None:
        if repo["id"] in github_apps_state.token_repo_ids(the_world, record):
            granted: dict[str, str] = record["permissions"]
            return granted
        return None
    app = _token_app()
    user = g.get("gh_user")
    if app is not None and user is not None:
        inst = github_apps_state.installation_for_repo(the_world, app, repo)
        if (
            inst is not None
            and not inst["suspended_at"]
            and github_state.administers(the_world, user["login"], repo["owner"])
        ):
            permissions: dict[str, str] = inst["permissions"]
            return permissions
    return None


def require_app() -> dict[str, Any]:
    """The app of the request's JWT; any other credential is refused as GitHub does."""
    app: dict[str, Any] | None = g.get("gh_app")
    if app is None:
        raise GitHubError(
            401,
            "A JSON web token could not be decoded",
            documentation_url="https://docs.github.com/rest",
        )
    return app


def actor_login() -> str:
    """Who writes: the user, or an installation's bot (``{slug}[bot]``)."""
    inst = g.get("gh_install")
    if inst is not None:
        app = github_apps_state.apps(world())[str(inst["app_id"])]
        return github_apps_state.bot_login(app)
    return str(require_user()["login"])


def _rate_key() -> tuple[str, int, str]:
    """(state key, limit, what the 403 message names) for the current caller."""
    the_world = world()
    inst = g.get("gh_install")
    if inst is not None:
        limit = inst.get("rate_limit") or the_world.config.github_installation_rate_limit
        return f"installation:{inst['id']}", int(limit), f"installation ID {inst['id']}"
    app = g.get("gh_app")
    if app is not None:
        limit = the_world.config.github_installation_rate_limit
        return f"app:{app['id']}", limit, f"app ID {app['id']}"
    if g.gh_user is not None:
        user = g.gh_user
        return f"user:{user['id']}", the_world.config.github_rate_limit, f"user ID {user['id']}"
    address = request.remote_addr or "unknown"
    return f"ip:{address}", the_world.config.github_anonymous_rate_limit, address


def _rate_window(the_world: World, key: str) -> dict[str, Any]:
    # Real time, not the sandbox clock: clients read X-RateLimit-Reset against their own clock
    # (``_age_rate_windows`` lets time moved forward on the sandbox clock pass for it too).
    now = time.time()
    window: dict[str, Any] | None = the_world.github["rate"].get(key)
    if window is None or now >= window["reset"]:
        window = {"reset": math.ceil(now + 3600), "used": 0}
        the_world.github["rate"][key] = window
    return window


def _apply_primary_limit(the_world: World) -> None:
    key, limit, who = _rate_key()
    with the_world.lock:
        window = _rate_window(the_world, key)
        if limit > 0 and window["used"] >= limit:
            g.gh_rate = (limit, 0, window["reset"], window["used"])
            the_world.record_rate_limited("github")
            message = f"API rate limit exceeded for {who}."
            if g.gh_user is None and not is_integration():
                message += (
                    " (But here's the good news: Authenticated requests get a higher rate limit."
                    " Check out the documentation for more details.)"
                )
            raise GitHubError(
                403,
                message,
                documentation_url="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            )
        window["used"] += 1
        g.gh_rate = (limit, max(0, limit - window["used"]), window["reset"], window["used"])
        g.gh_rate_key = key


def _refund_rate(the_world: World) -> None:
    """A 304 to an authorised conditional request does not count (GitHub's rule)."""
    key = g.get("gh_rate_key")
    if key is None or (g.get("gh_user") is None and not is_integration()):
        return
    with the_world.lock:
        window = the_world.github["rate"].get(key)
        if window is None or window["used"] <= 0:
            return
        window["used"] -= 1
        limit = g.gh_rate[0]
        g.gh_rate = (limit, max(0, limit - window["used"]), window["reset"], window["used"])


def _apply_secondary_limit(the_world: World) -> None:
    with the_world.lock:
        secondary = the_world.github["secondary"]
        inst = g.get("gh_install")
        if inst is not None:
            # The control API can aim refusals at one installation's requests.
            own = the_world.github.get("secondary_installations", {}).get(str(inst["id"]))
            if own is not None and own["remaining"] > 0:
                secondary = own
        if secondary["remaining"] <= 0:
            return
        secondary["remaining"] -= 1
        status = int(secondary["status"])
        retry_after = int(secondary["retry_after"])
        the_world.record_rate_limited("github")
    raise GitHubError(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        f"again. If you reach out to GitHub Support for help, please include the request ID "
        f"{_request_id()}.",
        documentation_url=(
            "https://docs.github.com/free-pro-team@latest/rest/overview/"
            "rate-limits-for-the-rest-api#about-secondary-rate-limits"
        ),
        headers={"Retry-After": str(retry_after)},
    )


def _request_id() -> str:
    if "gh_request_id" not in g:
        parts = [secrets.token_hex(2).upper(), secrets.token_hex(2).upper()]
        parts += [
            secrets.token_hex(3).upper(),
            secrets.token_hex(3).upper(),
            secrets.token_hex(4).upper(),
        ]
        g.gh_request_id = ":".join(parts)
    request_id: str = g.gh_request_id
    return request_id


@bp.after_request
def github_headers(response: Response) -> Response:
    if not _is_api_request():
        return response
    if request.method == "GET" and response.status_code == 200:
        _conditional(response)
    response.headers["X-GitHub-Api-Version-Selected"] = API_VERSION
    response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
    response.headers["X-GitHub-Request-Id"] = _request_id()
    rate = g.get("gh_rate")
    if rate is not None:
        limit, remaining, reset, used = rate
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset)
        response.headers["X-RateLimit-Used"] = str(used)
        response.headers["X-RateLimit-Resource"] = "core"
    token = g.get("gh_token")
    if token is not None and token.get("kind") != "app-user":
        response.headers["X-OAuth-Scopes"] = ", ".join(token["scopes"])
        accepted = g.get("gh_accepted_scopes")
        response.headers["X-Accepted-OAuth-Scopes"] = ", ".join(accepted or ())
    return response


def _conditional(response: Response) -> None:
    """An ``ETag`` on every GET; ``If-None-Match`` that matches answers 304 with no body."""
    digest = hashlib.sha256(response.get_data()).hexdigest()
    etag = f'W/"{digest}"'
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
    wanted = request.headers.get("If-None-Match", "")
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",") if tag.strip()}
    if etag.removeprefix("W/") in tags or "*" in tags:
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Length", None)
        _refund_rate(world())


def require_user() -> dict[str, Any]:
    if g.get("gh_user") is None:
        if g.get("gh_install") is not None or g.get("gh_app") is not None:
            raise GitHubError(403, NOT_ACCESSIBLE)
        raise GitHubError(401, "Requires authentication")
    user: dict[str, Any] = g.gh_user
    return user


def _has_scope(needed: tuple[str, ...]) -> bool:
    g.gh_accepted_scopes = needed
    token = g.get("gh_token")
    return token is not None and any(scope in token["scopes"] for scope in needed)


def _may_see(repo: dict[str, Any]) -> bool:
    if not repo["private"]:
        return True
    if is_integration():
        return grant_for(repo) is not None
    user = g.get("gh_user")
    return (
        user is not None
        and github_state.administers(world(), user["login"], repo["owner"])
        and _has_scope(("repo",))
    )


def _moved(repo: dict[str, Any]) -> GitHubError:
    """GitHub's answer for a renamed repository's old name: 301 to ``/repositories/{id}``."""
    prefix = "/api/v3/repos/" if request.path.startswith("/api/v3/") else "/repos/"
    rest = request.path[len(prefix) :].split("/", 2)[2:]
    location = f"{urls().api}/repositories/{repo['id']}" + (f"/{rest[0]}" if rest else "")
    if request.query_string:
        location += "?" + request.query_string.decode()
    error = GitHubError(
        301,
        "Moved Permanently",
        documentation_url=(
            "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api"
            "#follow-redirects"
        ),
        headers={"Location": location},
    )
    error.extra = {"url": location}
    return error


def repo_for_read(
    owner: str, name: str, permission: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The repository if the caller may see it; private ones are 404 to everyone else.

    ``permission`` (name, level) is what an app's credential needs on the repository (metadata
    read is implicit); without it GitHub answers 403 "Resource not accessible by integration".
    A public repository outside an installation is readable as public data.
    """
    repo = github_state.get_repo(world(), f"{owner}/{name}")
    if repo is None:
        moved = github_state.renamed_to(world(), f"{owner}/{name}")
        if moved is not None and _may_see(moved):
            raise _moved(moved)
        raise not_found()
    if not _may_see(repo):
        raise not_found()
    if permission is not None and is_integration():
        grant = grant_for(repo)
        if grant is not None and not github_apps_state.has_permission(grant, *permission):
            raise GitHubError(403, NOT_ACCESSIBLE)
    return repo


def repo_for_write(
    owner: str,
    name: str,
    scopes: tuple[str, ...] = ("repo",),
    permission: tuple[str, str] = ("contents", "write"),
) -> dict[str, Any]:
    """The repository if the caller administers it and the token has a scope in ``scopes``
    (or, for an app's credential, the repository is in scope with ``permission``)."""
    if is_integration():
        repo = repo_for_read(owner, name)
        grant = grant_for(repo)
        if grant is None or not github_apps_state.has_permission(grant, *permission):
            raise GitHubError(403, NOT_ACCESSIBLE)
        return repo
    user = require_user()
    repo = repo_for_read(owner, name)
    if not github_state.administers(world(), user["login"], repo["owner"]):
        # GitHub answers 404, not 403, so as not to reveal what a token cannot touch.
        raise not_found()
    if not repo["private"] and "public_repo" not in scopes and "repo" in scopes:
        scopes = (*scopes, "public_repo")
    if not _has_scope(scopes):
        raise not_found()
    return repo


def json_body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise GitHubError(400, "Problems parsing JSON")
    return body


def invalid(message: str) -> GitHubError:
    return GitHubError(422, f"Invalid request.\n\n{message}")


def paginate(items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """GitHub's ``page``/``per_page`` (max 100) with an absolute ``Link`` header."""
    try:
        per_page = min(100, max(1, int(request.args.get("per_page", 30))))
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        per_page, page = 30, 1
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(number: int) -> str:
        query = request.args.to_dict()
        query.update({"per_page": str(per_page), "page": str(number)})
        base = github_state.base_url(world()) + request.path
        return f"<{base}?{urllib.parse.urlencode(query)}>"

    rels = []
    if page > 1:
        rels += [f'{link(min(page - 1, last))}; rel="prev"', f'{link(1)}; rel="first"']
    if page < last:
        rels += [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"']
    return chunk, ({"Link": ", ".join(rels)} if rels else {})


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- users -----------------------------------------------------------------------------------


@bp.get("/user")
def get_authenticated_user() -> Response:
    user = require_user()
    with world().lock:
        return answer(github_json.private_user(world(), urls(), user))


@bp.get("/user/emails")
def list_emails() -> Response:
    user = require_user()
    # A GitHub App's user token has no scopes: the app's "Email addresses" permission counts.
    app = _token_app()
    allowed = (app is not None and "emails" in (app.get("permissions") or {})) or _has_scope(
        ("user", "user:email")
    )
    if not allowed:
        raise not_found()
    emails, headers = paginate(list(user["emails"]))
    return answer(emails, headers=headers)


@bp.get("/users/<login>")
def get_user(login: str) -> Response:
    user = github_state.get_user(world(), login)
    if user is None:
        raise not_found()
    with world().lock:
        return answer(github_json.public_user(world(), urls(), user))


@bp.get("/user/repos")
def list_my_repos() -> Response:
    user = require_user()
    visibility = request.args.get("visibility", "all")
    if visibility not in ("all", "public", "private"):
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Search", "field": "visibility", "code": "invalid"}],
        )
    the_world = world()
    with the_world.lock:
        repos = [
            repo
            for repo in the_world.github["repos"].values()
            if repo["owner"].lower() == user["login"].lower()
            and (visibility == "all" or repo["private"] == (visibility == "private"))
        ]
        sort = request.args.get("sort", "full_name")
        if sort == "full_name":
            repos.sort(key=lambda repo: f"{repo['owner']}/{repo['name']}".lower())
        else:
            field = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}.get(
                sort, "updated_at"
            )
            repos.sort(key=lambda repo: repo[field], reverse=True)
        if request.args.get("direction") == ("desc" if sort == "full_name" else "asc"):
            repos.reverse()
        page, headers = paginate(repos)
        body = [
            github_json.full_repo(the_world, urls(), repo, viewer=user["login"]) for repo in page
        ]
    return answer(body, headers=headers)


@bp.get("/users/<login>/repos")
def list_user_repos(login: str) -> Response:
    """A user's repositories as anyone may see them: the public ones (and the private ones
    only to a viewer who may see them), by full name."""
    # Reference: https://docs.github.com/en/rest/repos/repos#list-repositories-for-a-user
    the_world = world()
    if github_state.get_user(the_world, login) is None:
        raise not_found()
    with the_world.lock:
        repos = sorted(
            (
                repo
                for repo in the_world.github["repos"].values()
                if repo["owner"].lower() == login.lower() and _may_see(repo)
            ),
            key=lambda repo: f"{repo['owner']}/{repo['name']}".lower(),
        )
        page, headers = paginate(repos)
        viewer = g.gh_user["login"] if g.get("gh_user") is not None else None
        body = [github_json.full_repo(the_world, urls(), repo, viewer=viewer) for repo in page]
    return answer(body, headers=headers)


@bp.get("/rate_limit")
def rate_limit() -> Response:
    the_world = world()
    key, limit, _ = _rate_key()
    with the_world.lock:
        window = _rate_window(the_world, key)
        core = {
            "limit": limit,
            "used": window["used"],
            "remaining": max(0, limit - window["used"]),
            "reset": window["reset"],
        }
    g.gh_rate = (core["limit"], core["remaining"], core["reset"], core["used"])
    # The sandbox limits only "core"; the other resources are reported at their full quota.
    reset = core["reset"]
    resources = {
        "core": core,
        "search": {"limit": 30, "used": 0, "remaining": 30, "reset": reset},
        "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset},
        "actions_runner_registration": {
            "limit": 10000,
            "used": 0,
            "remaining": 10000,
            "reset": reset,
        },
    }
    return answer({"resources": resources, "rate": core})


# -- repositories, branches, commits -----------------------------------------------------


@bp.get("/repos/<owner>/<name>")
def get_repo(owner: str, name: str) -> Response:
    repo = repo_for_read(owner, name)
    viewer = g.gh_user["login"] if g.get("gh_user") else None
    with world().lock:
        return answer(github_json.full_repo(world(), urls(), repo, viewer=viewer))


@bp.patch("/repos/<owner>/<name>")
def update_repo(owner: str, name: str) -> Response:
    """Rename, describe, change visibility or the default branch."""
    repo = repo_for_write(owner, name, permission=("administration", "write"))
    body = json_body()
    viewer = g.gh_user["login"] if g.get("gh_user") else None
    sender = actor_login()
    the_world = world()
    with the_world.lock:
        new_name = body.get("name")
        if new_name is not None and new_name != repo["name"]:
            if not isinstance(new_name, str):
                raise invalid("name must be a string")
            try:
                github_state.rename_repo(
                    the_world, github_state.full_name_of(repo), new_name, sender=sender
                )
            except GitHubStateError as error:
                raise GitHubError(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "Repository",
                            "code": "custom",
                            "field": "name",
                            "message": error.message,
                        }
                    ],
                ) from error
        if "description" in body:
            repo["description"] = body["description"]
        if isinstance(body.get("private"), bool):
            github_state.set_visibility(the_world, repo, private=body["private"], sender=sender)
        if "default_branch" in body:
            branch = body["default_branch"]
            if repo["branches"] and branch not in repo["branches"]:
                raise GitHubError(
                    422,
                    "Validation Failed",
                    errors=[
                        {"resource": "Repository", "code": "invalid", "field": "default_branch"}
                    ],
                )
            repo["default_branch"] = branch
        repo["updated_at"] = the_world.now()
        data = github_json.full_repo(the_world, urls(), repo, viewer=viewer)
    the_world.save()
    return answer(data)


BY_ID_METHODS = ["GET", "PATCH", "PUT", "POST", "DELETE"]


@bp.route("/repositories/<int:repo_id>", methods=BY_ID_METHODS)
@bp.route("/repositories/<int:repo_id>/<path:rest>", methods=BY_ID_METHODS)
def by_id(repo_id: int, rest: str = "") -> Any:
    """``/repositories/{id}/...``, where renamed repositories redirect: served as ``/repos/...``."""
    repo = github_state.repo_by_id(world(), repo_id)
    if repo is None or not _may_see(repo):
        raise not_found()
    target = f"/repos/{github_state.full_name_of(repo)}" + (f"/{rest}" if rest else "")
    adapter = current_app.url_map.bind("sandbox")
    try:
        endpoint, args = adapter.match(target, method=request.method)
    except HTTPException as exc:
        raise not_found() from exc
    return current_app.view_functions[endpoint](**args)


@bp.get("/repos/<owner>/<name>/branches")
def list_branches(owner: str, name: str) -> Response:
    repo = repo_for_read(owner, name)
    full_name = github_state.full_name_of(repo)
    with world().lock:
        items = [
            github_json.short_branch(urls(), full_name, branch, sha)
            for branch, sha in sorted(repo["branches"].items())
        ]
    page, headers = paginate(items)
    return answer(page, headers=headers)


@bp.get("/repos/<owner>/<name>/branches/<path:branch>")
def get_branch(owner: str, name: str, branch: str) -> Response:
    repo = repo_for_read(owner, name)
    with world().lock:
        sha = repo["branches"].get(branch)
        if sha is None:
            raise not_found("Branch not found")
        commit = repo["commits"][sha]
        full_name = github_state.full_name_of(repo)
        return answer(
            github_json.branch_with_protection(world(), urls(), full_name, branch, commit)
        )


@bp.get("/repos/<owner>/<name>/commits/<path:ref>")
def get_commit(owner: str, name: str, ref: str) -> Response:
    repo = repo_for_read(owner, name, ("contents", "read"))
    with world().lock:
        if not repo["branches"]:
            raise GitHubError(409, "Git Repository is empty.")
        sha = github_state.resolve_ref(repo, ref)
        if sha is None:
            raise GitHubError(422, f"No commit found for SHA: {ref}")
        if "application/vnd.github.sha" in request.headers.get("Accept", ""):
            # The cheap way to watch a branch head: the bare SHA as text.
            return Response(sha, mimetype="application/vnd.github.sha")
        full_name = github_state.full_name_of(repo)
        return answer(github_json.rest_commit(world(), urls(), full_name, repo["commits"][sha]))


# -- contents --------------------------------------------------------------------------------


def _encode(content: str) -> str:
    # GitHub wraps base64 content at 60 characters with "\n", as the real API does.
    raw = base64.b64encode(content.encode()).decode()
    return "".join(raw[i : i + 60] + "\n" for i in range(0, len(raw), 60))


def _tree_at(repo: dict[str, Any], ref: str | None) -> tuple[dict[str, str], str]:
    if not repo["branches"]:
        raise not_found("This repository is empty.")
    sha = github_state.resolve_ref(repo, ref)
    if sha is None:
        raise not_found(f"No commit found for the ref {ref}")
    tree: dict[str, str] = repo["commits"][sha]["tree"]
    return tree, sha


@bp.get("/repos/<owner>/<name>/contents", defaults={"path": ""})
@bp.get("/repos/<owner>/<name>/contents/<path:path>")
def get_contents(owner: str, name: str, path: str) -> Response:
    repo = repo_for_read(owner, name, ("contents", "read"))
    ref = request.args.get("ref") or repo["default_branch"]
    path = path.strip("/")
    full_name = github_state.full_name_of(repo)
    the_urls = urls()
    with world().lock:
        tree, _ = _tree_at(repo, ref)
        if path in tree:
            blob = tree[path]
            content = repo["blobs"][blob]
            body = {
                **github_json.content_links(the_urls, full_name, path, ref, blob, "file"),
                "size": len(content.encode()),
                "content": _encode(content),
                "encoding": "base64",
            }
            return answer(body)
        prefix = f"{path}/" if path else ""
        children: dict[str, str] = {}
        for file_path in tree:
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            child, _, deeper = rest.partition("/")
            children[child] = "dir" if deeper else "file"
        if not children:
            raise not_found()
        listing = []
        for child, kind in sorted(children.items()):
            child_path = prefix + child
            if kind == "file":
                sha = tree[child_path]
                size = len(repo["blobs"][sha].encode())
            else:
                subtree = {p: s for p, s in tree.items() if p.startswith(child_path + "/")}
                sha = github_state._tree_sha(subtree)
                size = 0
            listing.append(
                {
                    **github_json.content_links(the_urls, full_name, child_path, ref, sha, kind),
                    "size": size,
                }
            )
        return answer(listing)


def _decode_content(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("For 'properties/content', nil is not a string.")
    try:
        return base64.b64decode(value.encode(), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("content is not valid Base64") from exc


def _check_write(repo: dict[str, Any], path: str) -> None:
    if not path.startswith(".github/workflows/"):
        return
    if is_integration():
        # An app writes workflow files only with the workflows permission.
        grant = grant_for(repo) or {}
        if not github_apps_state.has_permission(grant, "workflows", "write"):
            raise GitHubError(403, NOT_ACCESSIBLE)
        return
    if not _has_scope(("workflow",)):
        # Without the workflow scope GitHub refuses workflow files with a 404.
        raise not_found()


@bp.put("/repos/<owner>/<name>/contents/<path:path>")
def put_contents(owner: str, name: str, path: str) -> Response:
    repo = repo_for_write(owner, name)
    body = json_body()
    path = path.strip("/")
    if not isinstance(body.get("message"), str) or not body["message"]:
        raise invalid('"message" wasn\'t supplied.')
    if "content" not in body:
        raise invalid('"content" wasn\'t supplied.')
    content = _decode_content(body["content"])
    _check_write(repo, path)
    login = actor_login()
    the_world = world()
    with the_world.lock:
        branch = body.get("branch") or repo["default_branch"]
        if repo["branches"] and branch not in repo["branches"]:
            raise not_found(f"Branch {branch} not found")
        head = repo["branches"].get(branch)
        current = repo["commits"][head]["tree"].get(path) if head else None
        given = body.get("sha")
        if current is not None and not given:
            raise invalid('"sha" wasn\'t supplied.')
        if current is not None and given != current:
            raise GitHubError(409, f"{path} does not match {given}")
        if current is None and given:
            raise GitHubError(409, f"{path} does not match {given}")
        full_name = github_state.full_name_of(repo)
        try:
            sha = github_state.push(
                the_world, full_name, branch, {path: content}, body["message"], login
            )
        except GitHubStateError as error:
            raise GitHubError(error.status, error.message) from error
        commit = repo["commits"][sha]
        blob = commit["tree"][path]
        the_urls = urls()
        result = {
            "content": {
                **github_json.content_links(the_urls, full_name, path, branch, blob, "file"),
                "size": len(content.encode()),
            },
            "commit": github_json.git_commit(the_urls, full_name, commit),
        }
    return answer(result, status=200 if current is not None else 201)


@bp.delete("/repos/<owner>/<name>/contents/<path:path>")
def delete_contents(owner: str, name: str, path: str) -> Response:
    repo = repo_for_write(owner, name)
    body = json_body()
    path = path.strip("/")
    if not isinstance(body.get("message"), str) or not body["message"]:
        raise invalid('"message" wasn\'t supplied.')
    if not body.get("sha"):
        raise invalid('"sha" wasn\'t supplied.')
    _check_write(repo, path)
    login = actor_login()
    the_world = world()
    with the_world.lock:
        branch = body.get("branch") or repo["default_branch"]
        head = repo["branches"].get(branch)
        if head is None:
            raise not_found(f"Branch {branch} not found")
        current = repo["commits"][head]["tree"].get(path)
        if current is None:
            raise not_found()
        if body["sha"] != current:
            raise GitHubError(409, f"{path} does not match {body['sha']}")
        full_name = github_state.full_name_of(repo)
        sha = github_state.push(the_world, full_name, branch, {path: None}, body["message"], login)
        commit = github_json.git_commit(urls(), full_name, repo["commits"][sha])
    return answer({"content": None, "commit": commit})


# -- webhooks --------------------------------------------------------------------------------

HOOK_SCOPES = ("admin:repo_hook", "write:repo_hook", "read:repo_hook", "repo")
HOOK_WRITE = ("repository_hooks", "write")
KNOWN_EVENTS = {
    "*",
    "push",
    "ping",
    "workflow_run",
    "workflow_job",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "pull_request",
    "release",
    "repository",
    "status",
}


def _last_response(hook: dict[str, Any]) -> dict[str, Any]:
    deliveries = hook.get("deliveries") or []
    if not deliveries:
        return {"code": None, "status": "unused", "message": None}
    wanted = deliveries[-1]["id"]
    for delivery in world().deliveries:
        if delivery["id"] == wanted:
            code = delivery.get("response_status")
            if delivery["status"] == "delivered":
                return {"code": code, "status": "active", "message": "OK"}
            if delivery["status"] in ("scheduled",):
                return {"code": None, "status": "unused", "message": None}
            return {"code": code, "status": "failed", "message": delivery.get("error") or "failed"}
    return {"code": None, "status": "unused", "message": None}


def _hook_json(repo: dict[str, Any], hook: dict[str, Any]) -> dict[str, Any]:
    return github_json.hook(urls(), github_state.full_name_of(repo), hook, _last_response(hook))


def _validate_hook_fields(body: dict[str, Any], hook: dict[str, Any] | None) -> dict[str, Any]:
    config = body.get("config", hook["config"] if hook else None)
    if not isinstance(config, dict):
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Hook", "code": "custom", "message": "Config must contain url"}],
        )
    config = {**(hook["config"] if hook else {}), **config}
    url = config.get("url")
    parsed = urllib.parse.urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        message = "Config must contain url" if not url else "Config url is not supported"
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Hook", "code": "custom", "message": message}],
        )
    content_type = config.get("content_type", "form")
    if content_type not in ("json", "form"):
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[
                {"resource": "Hook", "code": "custom", "message": "Content type is not supported"}
            ],
        )
    events = body.get("events", hook["events"] if hook else ["push"])
    for key in ("add_events", "remove_events"):
        if isinstance(body.get(key), list) and hook:
            events = list(events)
            for event in body[key]:
                if key == "add_events" and event not in events:
                    events.append(event)
                if key == "remove_events" and event in events:
                    events.remove(event)
    if not isinstance(events, list) or not events or any(e not in KNOWN_EVENTS for e in events):
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[
                {"resource": "Hook", "code": "custom", "message": "Hook events are not supported"}
            ],
        )
    active = body.get("active", hook["active"] if hook else True)
    return {
        "config": {
            "url": url,
            "content_type": content_type,
            "insecure_ssl": str(config.get("insecure_ssl", "0")),
            "secret": config.get("secret") or None,
        },
        "events": events,
        "active": bool(active),
    }


@bp.get("/repos/<owner>/<name>/hooks")
def list_hooks(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, HOOK_SCOPES, ("repository_hooks", "read"))
    with world().lock:
        hooks = [_hook_json(repo, hook) for hook in repo["hooks"].values()]
    page, headers = paginate(hooks)
    return answer(page, headers=headers)


@bp.post("/repos/<owner>/<name>/hooks")
def create_hook(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, ("admin:repo_hook", "write:repo_hook", "repo"), HOOK_WRITE)
    body = json_body()
    if body.get("name", "web") != "web":
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Hook", "code": "invalid", "field": "name"}],
        )
    fields = _validate_hook_fields(body, None)
    the_world = world()
    with the_world.lock:
        if any(hook["config"]["url"] == fields["config"]["url"] for hook in repo["hooks"].values()):
            raise GitHubError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Hook",
                        "code": "custom",
                        "message": "Hook already exists on this repository",
                    }
                ],
            )
        number = the_world.next_int("github.hook", start=400000000)
        now = the_world.now()
        hook = {"id": number, **fields, "created_at": now, "updated_at": now, "deliveries": []}
        repo["hooks"][str(number)] = hook
        the_world.count("github.hooks")
        # A new hook gets a ping, as on GitHub.
        _send_ping(repo, hook)
        body_json = _hook_json(repo, hook)
    return answer(body_json, status=201, headers={"Location": body_json["url"]})


def _find_hook(repo: dict[str, Any], hook_id: int) -> dict[str, Any]:
    hook: dict[str, Any] | None = repo["hooks"].get(str(hook_id))
    if hook is None:
        raise not_found()
    return hook


@bp.get("/repos/<owner>/<name>/hooks/<int:hook_id>")
def get_hook(owner: str, name: str, hook_id: int) -> Response:
    repo = repo_for_write(owner, name, HOOK_SCOPES, ("repository_hooks", "read"))
    with world().lock:
        return answer(_hook_json(repo, _find_hook(repo, hook_id)))


@bp.patch("/repos/<owner>/<name>/hooks/<int:hook_id>")
def update_hook(owner: str, name: str, hook_id: int) -> Response:
    repo = repo_for_write(owner, name, ("admin:repo_hook", "write:repo_hook", "repo"), HOOK_WRITE)
    body = json_body()
    the_world = world()
    with the_world.lock:
        hook = _find_hook(repo, hook_id)
        fields = _validate_hook_fields(body, hook)
        if "secret" not in (body.get("config") or {}):
            fields["config"]["secret"] = hook["config"].get("secret")
        hook.update(fields)
        hook["updated_at"] = the_world.now()
        return answer(_hook_json(repo, hook))


@bp.delete("/repos/<owner>/<name>/hooks/<int:hook_id>")
def delete_hook(owner: str, name: str, hook_id: int) -> Response:
    repo = repo_for_write(owner, name, ("admin:repo_hook", "repo"), HOOK_WRITE)
    with world().lock:
        _find_hook(repo, hook_id)
        del repo["hooks"][str(hook_id)]
    return Response(status=204)


def _send_ping(repo: dict[str, Any], hook: dict[str, Any]) -> None:
    the_world = world()
    the_urls = github_json.Urls(github_state.base_url(the_world), api_prefix="/api/v3")
    full_name = github_state.full_name_of(repo)
    user = g.get("gh_user")
    payload = {
        "zen": "Keep it logically awesome.",
        "hook_id": hook["id"],
        "hook": github_json.hook(the_urls, full_name, hook, _last_response(hook)),
        "repository": github_json.webhook_repo(the_world, the_urls, repo, push=False),
        "sender": github_json.simple_user(the_urls, user) if user else None,
    }
    github_state.send_hook(the_world, repo, hook, "ping", payload)


@bp.post("/repos/<owner>/<name>/hooks/<int:hook_id>/pings")
def ping_hook(owner: str, name: str, hook_id: int) -> Response:
    repo = repo_for_write(owner, name, ("admin:repo_hook", "repo"), HOOK_WRITE)
    with world().lock:
        _send_ping(repo, _find_hook(repo, hook_id))
    return Response(status=204)


@bp.post("/repos/<owner>/<name>/hooks/<int:hook_id>/tests")
def test_push_hook(owner: str, name: str, hook_id: int) -> Response:
    """Redeliver a push event for the default branch's head (GitHub's "test" hook)."""
    repo = repo_for_write(owner, name, ("admin:repo_hook", "repo"), HOOK_WRITE)
    the_world = world()
    with the_world.lock:
        hook = _find_hook(repo, hook_id)
        head = repo["branches"].get(repo["default_branch"])
        if head is not None and ("push" in hook["events"] or "*" in hook["events"]):
            the_urls = github_json.Urls(github_state.base_url(the_world), api_prefix="/api/v3")
            parents = repo["commits"][head]["parents"]
            payload = github_json.push_payload(
                the_world,
                the_urls,
                repo,
                repo["default_branch"],
                parents[0] if parents else None,
                head,
                actor_login(),
            )
            github_state.send_hook(the_world, repo, hook, "push", payload)
    return Response(status=204)


# -- Actions secrets -------------------------------------------------------------------------


@bp.get("/repos/<owner>/<name>/actions/secrets/public-key")
def secrets_public_key(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("secrets", "read"))
    key = repo["secret_key"]
    return answer({"key_id": key["key_id"], "key": key["public"]})


def _secret_json(name: str, secret: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "created_at": github_json.iso(secret["created_at"]),
        "updated_at": github_json.iso(secret["updated_at"]),
    }


@bp.get("/repos/<owner>/<name>/actions/secrets")
def list_secrets(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("secrets", "read"))
    with world().lock:
        items = [_secret_json(key, value) for key, value in sorted(repo["secrets"].items())]
    page, headers = paginate(items)
    return answer({"total_count": len(items), "secrets": page}, headers=headers)


@bp.get("/repos/<owner>/<name>/actions/secrets/<secret_name>")
def get_secret(owner: str, name: str, secret_name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("secrets", "read"))
    with world().lock:
        secret = repo["secrets"].get(secret_name.upper())
        if secret is None:
            raise not_found()
        return answer(_secret_json(secret_name.upper(), secret))


@bp.put("/repos/<owner>/<name>/actions/secrets/<secret_name>")
def put_secret(owner: str, name: str, secret_name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("secrets", "write"))
    body = json_body()
    upper = secret_name.upper()
    if not SECRET_NAME_RE.match(secret_name) or upper.startswith("GITHUB_"):
        raise GitHubError(
            422,
            "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or "
            "underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or "
            "underscores (_). Secret names must not start with the GITHUB_ prefix.",
        )
    value = body.get("encrypted_value")
    key_id = body.get("key_id")
    if not isinstance(value, str) or not isinstance(key_id, str):
        raise invalid("encrypted_value and key_id are required")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise GitHubError(422, "Bad request - encrypted_value is not valid Base64") from exc
    # A sealed box is at least an ephemeral public key plus a MAC.
    if len(raw) < len(bytes(PublicKey(base64.b64decode(repo["secret_key"]["public"])))) + 16:
        raise GitHubError(422, "Bad request - encrypted_value is not a sealed box")
    the_world = world()
    with the_world.lock:
        if key_id != repo["secret_key"]["key_id"]:
            raise GitHubError(422, "Bad request - key_id does not match the repository public key")
        now = the_world.now()
        existing = repo["secrets"].get(upper)
        repo["secrets"][upper] = {
            "encrypted_value": value,
            "key_id": key_id,
            "created_at": existing["created_at"] if existing else now,
            "updated_at": now,
        }
        if existing is None:
            the_world.count("github.secrets")
    if existing:
        return Response(status=204)
    # A new secret answers 201 with an empty JSON object, an update 204 with no body.
    return answer({}, status=201)


@bp.delete("/repos/<owner>/<name>/actions/secrets/<secret_name>")
def delete_secret(owner: str, name: str, secret_name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("secrets", "write"))
    with world().lock:
        if repo["secrets"].pop(secret_name.upper(), None) is None:
            raise not_found()
    return Response(status=204)


# -- Actions variables -----------------------------------------------------------------------
# Plain configuration values a workflow reads as ``${{ vars.NAME }}`` (shown in logs, unlike
# secrets). Names follow the secrets' rules and are kept upper-case; GitHub App credentials
# need the "variables" repository permission.
# Reference: https://docs.github.com/en/rest/actions/variables

VARIABLE_VALUE_LIMIT = 48 * 1024  # bytes; GitHub's limit for one variable
VARIABLES_PER_REPOSITORY = 500


def _variables(repo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # A world saved before variables existed has none on its repositories.
    variables: dict[str, dict[str, Any]] = repo.setdefault("variables", {})
    return variables


def _variable_json(name: str, variable: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "value": variable["value"],
        "created_at": github_json.iso(variable["created_at"]),
        "updated_at": github_json.iso(variable["updated_at"]),
    }


def _variable_name(name: object) -> str:
    if (
        not isinstance(name, str)
        or not SECRET_NAME_RE.match(name)
        or name.upper().startswith("GITHUB_")
    ):
        raise GitHubError(
            422,
            "Variable names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or "
            "underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) "
            "or underscores (_). Variable names must not start with the GITHUB_ prefix.",
        )
    return name.upper()


def _variable_value(value: object) -> str:
    if not isinstance(value, str):
        raise invalid("value is not a string")
    if len(value.encode()) > VARIABLE_VALUE_LIMIT:
        raise GitHubError(422, "Variable value is too large (the limit is 48 KB)")
    return value


@bp.get("/repos/<owner>/<name>/actions/variables")
def list_variables(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("variables", "read"))
    with world().lock:
        items = [_variable_json(key, value) for key, value in sorted(_variables(repo).items())]
    page, headers = paginate(items)
    return answer({"total_count": len(items), "variables": page}, headers=headers)


@bp.post("/repos/<owner>/<name>/actions/variables")
def create_variable(owner: str, name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("variables", "write"))
    body = json_body()
    if "name" not in body or "value" not in body:
        raise invalid("name and value are required")
    upper = _variable_name(body["name"])
    value = _variable_value(body["value"])
    the_world = world()
    with the_world.lock:
        variables = _variables(repo)
        if upper in variables:
            # What gh variable set relies on: a 409, then it updates instead.
            raise GitHubError(409, "Already exists - Variable already exists")
        if len(variables) >= VARIABLES_PER_REPOSITORY:
            raise GitHubError(422, "Repository has reached the variable limit")
        now = the_world.now()
        variables[upper] = {"value": value, "created_at": now, "updated_at": now}
    return answer({}, status=201)


@bp.get("/repos/<owner>/<name>/actions/variables/<variable_name>")
def get_variable(owner: str, name: str, variable_name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("variables", "read"))
    with world().lock:
        variable = _variables(repo).get(variable_name.upper())
        if variable is None:
            raise not_found()
        return answer(_variable_json(variable_name.upper(), variable))


@bp.patch("/repos/<owner>/<name>/actions/variables/<variable_name>")
def update_variable(owner: str, name: str, variable_name: str) -> Response:
    """Change the value and/or the name (both optional in the body)."""
    repo = repo_for_write(owner, name, permission=("variables", "write"))
    body = json_body()
    the_world = world()
    with the_world.lock:
        variables = _variables(repo)
        upper = variable_name.upper()
        variable = variables.get(upper)
        if variable is None:
            raise not_found()
        renamed = _variable_name(body["name"]) if "name" in body else upper
        value = _variable_value(body["value"]) if "value" in body else variable["value"]
        if renamed != upper and renamed in variables:
            raise GitHubError(409, "Already exists - Variable already exists")
        variables.pop(upper)
        variables[renamed] = {**variable, "value": value, "updated_at": the_world.now()}
    return Response(status=204)


@bp.delete("/repos/<owner>/<name>/actions/variables/<variable_name>")
def delete_variable(owner: str, name: str, variable_name: str) -> Response:
    repo = repo_for_write(owner, name, permission=("variables", "write"))
    with world().lock:
        if _variables(repo).pop(variable_name.upper(), None) is None:
            raise not_found()
    return Response(status=204)


# -- Actions runs and jobs ----------------------------------------------------------------


def _run_or_404(repo: dict[str, Any], run_id: int) -> dict[str, Any]:
    run: dict[str, Any] | None = repo["runs"].get(str(run_id))
    if run is None:
        raise not_found()
    return run


@bp.get("/repos/<owner>/<name>/actions/workflows")
def list_workflows(owner: str, name: str) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        items = [actions.workflow_json(urls(), repo, entry) for entry in repo["workflows"].values()]
    page, headers = paginate(items)
    return answer({"total_count": len(items), "workflows": page}, headers=headers)


def _runs_answer(repo: dict[str, Any], runs: list[dict[str, Any]]) -> Response:
    page, headers = paginate(runs)
    the_world = world()
    body = {
        "total_count": len(runs),
        "workflow_runs": [actions.run_json(the_world, urls(), repo, run) for run in page],
    }
    return answer(body, headers=headers)


@bp.get("/repos/<owner>/<name>/actions/runs")
def list_runs(owner: str, name: str) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        return _runs_answer(repo, actions.filter_runs(repo, request.args.to_dict()))


@bp.get("/repos/<owner>/<name>/actions/workflows/<workflow>/runs")
def list_workflow_runs(owner: str, name: str, workflow: str) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        entry = next(
            (
                item
                for item in repo["workflows"].values()
                if str(item["id"]) == workflow or posixpath.basename(item["path"]) == workflow
            ),
            None,
        )
        if entry is None:
            raise not_found()
        runs = [
            run
            for run in actions.filter_runs(repo, request.args.to_dict())
            if run["workflow_id"] == entry["id"]
        ]
        return _runs_answer(repo, runs)


@bp.post("/repos/<owner>/<name>/actions/workflows/<workflow>/dispatches")
def dispatch_workflow(owner: str, name: str, workflow: str) -> Response:
    # Reference: https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
    repo = repo_for_write(owner, name, permission=("actions", "write"))
    body = json_body()
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        raise invalid('"ref" wasn\'t supplied.')
    login = actor_login()
    the_world = world()
    with the_world.lock:
        path = actions.workflow_path(the_world, repo, workflow)
        if path is None:
            raise not_found()
        try:
            run = actions.dispatch(the_world, repo, path, ref, login)
        except actions.DispatchError as error:
            raise GitHubError(error.status, error.message) from error
        if body.get("return_run_details") is True:
            full_name = github_state.full_name_of(repo)
            the_urls = urls()
            return answer(
                {
                    "workflow_run_id": run["id"],
                    "run_url": f"{the_urls.api}/repos/{full_name}/actions/runs/{run['id']}",
                    "html_url": f"{the_urls.html}/{full_name}/actions/runs/{run['id']}",
                }
            )
    return Response(status=204)


@bp.get("/repos/<owner>/<name>/actions/runs/<int:run_id>")
def get_run(owner: str, name: str, run_id: int) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        return answer(actions.run_json(world(), urls(), repo, _run_or_404(repo, run_id)))


@bp.get("/repos/<owner>/<name>/actions/runs/<int:run_id>/jobs")
def list_run_jobs(owner: str, name: str, run_id: int) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        run = _run_or_404(repo, run_id)
        jobs = [
            actions.job_json(urls(), repo, run, repo["jobs"][str(job_id)])
            for job_id in run["job_ids"]
        ]
    page, headers = paginate(jobs)
    return answer({"total_count": len(jobs), "jobs": page}, headers=headers)


def _job_or_404(repo: dict[str, Any], job_id: int) -> dict[str, Any]:
    job: dict[str, Any] | None = repo["jobs"].get(str(job_id))
    if job is None:
        raise not_found()
    return job


@bp.get("/repos/<owner>/<name>/actions/jobs/<int:job_id>")
def get_job(owner: str, name: str, job_id: int) -> Response:
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        job = _job_or_404(repo, job_id)
        return answer(actions.job_json(urls(), repo, repo["runs"][str(job["run_id"])], job))


@bp.get("/repos/<owner>/<name>/actions/jobs/<int:job_id>/logs")
def download_job_logs(owner: str, name: str, job_id: int) -> Response:
    """A 302 to a short-lived plain-text download, as GitHub does."""
    if g.get("gh_user") is None and not is_integration():
        require_user()
    repo = repo_for_read(owner, name, ACTIONS_READ)
    with world().lock:
        job = _job_or_404(repo, job_id)
        if job["status"] != "completed":
            raise not_found()
        ticket = secrets.token_urlsafe(16)
        job["log_ticket"] = ticket
    base = github_state.base_url(world())
    location = f"{base}/_sandbox/github/job-logs/{repo['id']}/{job_id}?sig={ticket}"
    response = Response(status=302)
    response.headers["Location"] = location
    return response


# -- OAuth web flow --------------------------------------------------------------------------

CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {{ app_name }} · Sandbox GitHub</title>
<style>
 body{font-family:system-ui,sans-serif;background:#f6f8fa;margin:0;color:#1f2328}
 main{max-width:28rem;margin:3rem auto;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1.5rem}
 h1{font-size:1.25rem} .users button{margin:.2rem} .error{color:#d1242f}
 button{padding:.4rem .9rem;border-radius:6px;border:1px solid #d0d7de;background:#f6f8fa;cursor:pointer}
 button.primary{background:#1f883d;color:#fff;border-color:#1f883d}
 input{padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}
 small{color:#59636e}
</style></head><body><main>
<h1>Authorize {{ app_name }}</h1>
<p>{{ app_name }} wants to access your sandbox GitHub account{% if scope %} (scopes: <code>{{ scope }}</code>){% endif %}.</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post">
 {% for key, value in params.items() %}<input type="hidden" name="{{ key }}" value="{{ value }}">{% endfor %}
 {% if users %}<p>Sign in as:</p><div class="users">
 {% for user in users %}<button type="submit" name="login" value="{{ user.login }}">{{ user.login }}</button>{% endfor %}
 </div><p>or type a login:</p>{% endif %}
 <label for="login-field">Sandbox GitHub login</label>
 <input id="login-field" name="login_typed" autocomplete="username" placeholder="octocat">
 <small>A login the sandbox does not know yet creates that user.</small>
 <p><button class="primary" type="submit" name="decision" value="authorize">Authorize {{ app_name }}</button>
 <button type="submit" name="decision" value="cancel">Cancel</button></p>
</form></main></body></html>
"""

OAUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "response_type",
    "login",
    "allow_signup",
)


def _oauth_app(client_id: str) -> dict[str, Any] | None:
    """An OAuth app, or a GitHub App by its client id (then its tokens are ``ghu_``)."""
    gh_app = github_apps_state.get_app(world(), client_id) if client_id.startswith("Iv") else None
    if gh_app is not None and gh_app["client_id"] == client_id:
        return {
            "client_id": client_id,
            "client_secret": gh_app["client_secret"],
            "name": gh_app["name"],
            "callback_url": None,
            "callback_urls": list(gh_app["callback_urls"]),
            "github_app": True,
        }
    app: dict[str, Any] | None = world().github["oauth_apps"].get(client_id)
    return app


def _redirect_with(redirect_uri: str, params: dict[str, str]) -> Response:
    parsed = urllib.parse.urlparse(redirect_uri)
    query = urllib.parse.parse_qsl(parsed.query)
    query += [(key, value) for key, value in params.items() if value]
    target = urllib.parse.urlunparse(parsed._replace(query=urllib.parse.urlencode(query)))
    response: Response = redirect(target, code=302)  # type: ignore[assignment]
    return response


@bp.route("/login/oauth/authorize", methods=["GET", "POST"])
def oauth_authorize() -> Response | str:
    source = request.values
    client_id = source.get("client_id", "")
    if not client_id:
        return Response("Not Found", status=404, mimetype="text/plain")
    the_world = world()
    with the_world.lock:
        app = _oauth_app(client_id)
        if app is None:
            # An app the sandbox has not been told about is registered on first use, so a
            # hubcourse with any client id works; its secret is bound at the first exchange.
            app = github_state.create_oauth_app(
                the_world, client_id, name="OAuth app", secret_on_first_use=True
            )
        users = signable_users(the_world)
    callbacks = app.get("callback_urls") or []
    redirect_uri = (
        source.get("redirect_uri") or app.get("callback_url") or (callbacks[0] if callbacks else "")
    )
    callback = app.get("callback_url")
    if (
        not redirect_uri
        or (callback and not redirect_uri.startswith(callback))
        or (callbacks and not any(redirect_uri.startswith(url) for url in callbacks))
    ):
        return Response(
            "The redirect_uri MUST match the registered callback URL for this application.",
            status=400,
            mimetype="text/plain",
        )
    params = {key: source[key] for key in OAUTH_PARAMS if key in source and key != "login"}
    params["redirect_uri"] = redirect_uri
    scope = source.get("scope", "")
    if request.method == "GET":
        return render_template_string(
            CONSENT_PAGE, app_name=app["name"], users=users, params=params, scope=scope, error=None
        )
    state = source.get("state", "")
    if source.get("decision") == "cancel":
        return _redirect_with(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
                "state": state,
            },
        )
    login = (source.get("login_typed") or source.get("login") or "").strip()
    error = None
    user = github_state.get_user(the_world, login) if login else None
    if not login:
        error = "Pick a user or type a login."
    elif user is None:
        try:
            github_state.create_user(the_world, login)
            user = github_state.get_user(the_world, login)
        except GitHubStateError as exc:
            error = exc.message
    if error or user is None:
        return render_template_string(
            CONSENT_PAGE, app_name=app["name"], users=users, params=params, scope=scope, error=error
        )
    code = secrets.token_hex(10)
    with the_world.lock:
        the_world.github["oauth_codes"][code] = {
            "client_id": client_id,
            "login": user["login"].lower(),
            "redirect_uri": redirect_uri,
            "scope": scope,
            "expires_at": the_world.now() + OAUTH_CODE_TTL_S,
        }
    response = _redirect_with(redirect_uri, {"code": code, "state": state})
    # The sandbox's stand-in for a github.com session: the install and manifest pages
    # know who is signed in.
    response.set_cookie(SESSION_COOKIE, user["login"], httponly=True, samesite="Lax")
    return response


def signable_users(the_world: World) -> list[dict[str, Any]]:
    """People who can sign in on the sandbox's pages (not bots, not organisations)."""
    with the_world.lock:
        return sorted(
            (u for u in the_world.github["users"].values() if u.get("type", "User") == "User"),
            key=lambda user: user["login"].lower(),
        )


def _token_answer(fields: dict[str, str]) -> Response:
    """JSON when the client asks for it, else form-encoded: GitHub's default."""
    accept = request.headers.get("Accept", "")
    if "application/json" in accept:
        return jsonify(fields)
    if "application/xml" in accept:
        items = "".join(f"<{key}>{value}</{key}>" for key, value in fields.items())
        return Response(f"<OAuth>{items}</OAuth>", mimetype="application/xml")
    return Response(urllib.parse.urlencode(fields), mimetype="application/x-www-form-urlencoded")


def _oauth_error(error: str, description: str) -> Response:
    # GitHub answers token errors with 200 and the error in the body.
    return _token_answer(
        {
            "error": error,
            "error_description": description,
            "error_uri": f"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{error.replace('_', '-')}",
        }
    )


@bp.post("/login/oauth/access_token")
def oauth_access_token() -> Response:
    values = request.values if request.form or request.args else json_body()
    client_id = str(values.get("client_id", ""))
    client_secret = str(values.get("client_secret", ""))
    code = str(values.get("code", ""))
    the_world = world()
    with the_world.lock:
        app = _oauth_app(client_id)
        if app is None:
            return _oauth_error(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            )
        if not app["client_secret"] and client_secret:
            app["client_secret"] = client_secret
        if not client_secret or not secrets.compare_digest(app["client_secret"], client_secret):
            return _oauth_error(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            )
        grant = the_world.github["oauth_codes"].pop(code, None)
        if (
            grant is None
            or grant["client_id"] != client_id
            or grant["expires_at"] < the_world.now()
        ):
            return _oauth_error("bad_verification_code", "The code passed is incorrect or expired.")
        redirect_uri = values.get("redirect_uri")
        if redirect_uri and redirect_uri != grant["redirect_uri"]:
            return _oauth_error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        scopes = [scope for scope in re.split(r"[\s,]+", grant["scope"]) if scope]
        kind = "app-user" if app.get("github_app") else "oauth"
        if kind == "app-user":
            scopes = []  # a GitHub App asks no scopes: its permissions are the app's
        token = github_state.issue_token(
            the_world, grant["login"], scopes=scopes, kind=kind, client_id=client_id
        )
    the_world.save()
    return _token_answer({"access_token": token, "token_type": "bearer", "scope": ",".join(scopes)})


def _age_rate_windows(the_world: World, *, seconds: float) -> None:
    with the_world.lock:
        for window in the_world.github["rate"].values():
            window["reset"] = math.floor(window["reset"] - seconds)


def install(app: Flask, the_world: World) -> None:
    # The GitHub App routes live on this blueprint too (same auth, limits and headers).
    from sandbox import github_apps

    github_apps.register()
    github_apps_state.install_subscriptions(the_world)
    the_world.subscribe("clock.advanced", _age_rate_windows)
    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/api/v3", name="github_api_v3")
    app.register_error_handler(GitHubError, _error_response)
