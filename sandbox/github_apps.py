"""The sandbox GitHub's App API and pages: JWT routes, installation tokens, manifest, install.

Routes (on ``github.bp``, so at ``/`` and ``/api/v3`` with GitHub's headers and rate limits):

As the app (``Authorization: Bearer <JWT>``, RS256 with the app's key, ``iss`` = app id or
client id, ``exp`` <= ``iat`` + 10 min): ``GET /app``, ``GET /app/installations``,
``GET|DELETE /app/installations/{id}``, ``POST /app/installations/{id}/access_tokens``
(body ``repositories`` / ``repository_ids`` / ``permissions``, a subset or 422),
``GET /repos/{owner}/{repo}/installation``, ``GET /users/{username}/installation``,
``GET /orgs/{org}/installation``. Any other credential gets 401 "A JSON web token could not be
decoded"; a JWT on any other route gets 403 "Resource not accessible by integration".

As an installation (``ghs_`` token, one hour): the repository routes of ``sandbox.github``,
within the token's repositories and permissions (a private repository outside them is 404, a
missing permission 403 "Resource not accessible by integration"; an expired token 401 "Bad
credentials"); ``GET /installation/repositories``; ``DELETE /installation/token``.

As a user of the app (``ghu_`` token from the OAuth web flow with the app's client id):
``GET /user/installations`` and ``GET /user/installations/{id}/repositories``, listing only
installations of that app the user can access (the way to confirm a setup URL's
``installation_id``).

No auth: ``POST /app-manifests/{code}/conversions`` (201 with the app's credentials, ``pem``
included; the code is single-use and lasts an hour), ``GET /apps/{slug}``.

Pages (github.com): ``POST /settings/apps/new`` and ``POST /organizations/{org}/settings/apps/new``
(form fields ``manifest`` and ``state``; a confirm page, or immediate creation when the control
API set ``manifest_auto_confirm``) redirect to the manifest's ``redirect_url?code=…&state=…``.
``GET /apps/{slug}/installations/new?state=…`` shows, for the signed-in sandbox user (the
cookie the OAuth consent page sets, or a user picked on the page), "All repositories" / "Only
select repositories" of their own; the POST installs or updates and redirects to the app's
setup URL with ``installation_id``, ``setup_action`` (install/update) and ``state``.

Reference: https://docs.github.com/en/rest/apps and
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Response, g, render_template_string, request

from sandbox import github_apps_state as apps_state
from sandbox import github_json, github_state
from sandbox.github import (
    JWT_ENDPOINTS,
    SESSION_COOKIE,
    GitHubError,
    _redirect_with,
    answer,
    bp,
    json_body,
    not_found,
    paginate,
    require_app,
    require_user,
    signable_users,
    urls,
    world,
)
from sandbox.github_state import GitHubStateError

if TYPE_CHECKING:
    from sandbox.world import World

APPS_DOCS = "https://docs.github.com/rest/apps/apps"


def jwt_route(fn: Any) -> Any:
    """Mark a view as one an app's JWT may call."""
    JWT_ENDPOINTS.add(fn.__name__)
    return fn


def register() -> None:
    """Nothing left to do: importing this module added the routes to ``github.bp``."""


def _installation_of_app(app: dict[str, Any], installation_id: int) -> dict[str, Any]:
    inst = apps_state.get_installation(world(), installation_id)
    if inst is None or inst["app_id"] != app["id"]:
        raise GitHubError(404, "Not Found", documentation_url=APPS_DOCS)
    return inst


# -- as the app (JWT) ------------------------------------------------------------------------


@bp.get("/app")
@jwt_route
def get_authenticated_app() -> Response:
    app = require_app()
    with world().lock:
        return answer(apps_state.app_json(world(), urls(), app))


@bp.get("/apps/<slug>")
def get_app_by_slug(slug: str) -> Response:
    the_world = world()
    with the_world.lock:
        app = next((a for a in apps_state.apps(the_world).values() if a["slug"] == slug), None)
        if app is None:
            raise not_found()
        return answer(apps_state.app_json(the_world, urls(), app))


@bp.get("/app/installations")
@jwt_route
def list_installations() -> Response:
    app = require_app()
    the_world = world()
    with the_world.lock:
        items = [
            apps_state.installation_json(the_world, urls(), inst)
            for inst in sorted(apps_state.installations(the_world).values(), key=lambda i: i["id"])
            if inst["app_id"] == app["id"]
        ]
    page, headers = paginate(items)
    return answer(page, headers=headers)


@bp.get("/app/installations/<int:installation_id>")
@jwt_route
def get_installation(installation_id: int) -> Response:
    app = require_app()
    with world().lock:
        inst = _installation_of_app(app, installation_id)
        return answer(apps_state.installation_json(world(), urls(), inst))


@bp.delete("/app/installations/<int:installation_id>")
@jwt_route
def delete_installation(installation_id: int) -> Response:
    app = require_app()
    inst = _installation_of_app(app, installation_id)
    apps_state.uninstall(world(), inst, sender=apps_state.bot_login(app))
    return Response(status=204)


def _string_list(body: dict[str, Any], field: str, kind: type) -> list[Any] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, kind) and not isinstance(item, bool) for item in value
    ):
        raise GitHubError(
            422,
            f"Invalid request.\n\nFor 'properties/{field}', {json.dumps(value)} is not an array "
            f"of {'strings' if kind is str else 'integers'}.",
        )
    return value


@bp.post("/app/installations/<int:installation_id>/access_tokens")
@jwt_route
def create_access_token(installation_id: int) -> Response:
    app = require_app()
    body = json_body()
    repositories = _string_list(body, "repositories", str)
    repository_ids = _string_list(body, "repository_ids", int)
    permissions = body.get("permissions")
    if permissions is not None and not isinstance(permissions, dict):
        raise GitHubError(422, "Invalid request.\n\nFor 'properties/permissions', not an object.")
    the_world = world()
    inst = _installation_of_app(app, installation_id)
    if inst["suspended_at"]:
        raise GitHubError(403, "This installation has been suspended", documentation_url=APPS_DOCS)
    try:
        token, record = apps_state.mint_token(
            the_world,
            inst,
            repositories=repositories,
            repository_ids=repository_ids,
            permissions=permissions,
        )
    except GitHubStateError as error:
        raise GitHubError(422, error.message, documentation_url=APPS_DOCS) from error
    with the_world.lock:
        result: dict[str, Any] = {
            "token": token,
            "expires_at": github_json.iso(record["expires_at"]),
            "permissions": dict(record["permissions"]),
            "repository_selection": (
                "selected" if record["repository_ids"] is not None else inst["repository_selection"]
            ),
        }
        if record["repository_ids"] is not None:
            result["repositories"] = [
                github_json.full_repo(the_world, urls(), repo)
                for repo in apps_state.installation_repos(the_world, inst)
                if repo["id"] in record["repository_ids"]
            ]
    return answer(result, status=201)


@bp.get("/repos/<owner>/<name>/installation")
@jwt_route
def get_repo_installation(owner: str, name: str) -> Response:
    app = require_app()
    the_world = world()
    with the_world.lock:
        repo = github_state.get_repo(the_world, f"{owner}/{name}")
        inst = apps_state.installation_for_repo(the_world, app, repo) if repo else None
        if inst is None:
            raise GitHubError(404, "Not Found", documentation_url=APPS_DOCS)
        return answer(apps_state.installation_json(the_world, urls(), inst))


@bp.get("/users/<username>/installation")
@jwt_route
def get_user_installation(username: str) -> Response:
    return _account_installation(username, "User")


@bp.get("/orgs/<org>/installation")
@jwt_route
def get_org_installation(org: str) -> Response:
    return _account_installation(org, "Organization")


def _account_installation(login: str, kind: str) -> Response:
    app = require_app()
    the_world = world()
    with the_world.lock:
        inst = apps_state.installation_for(the_world, app, login)
        if inst is None or inst["target_type"] != kind:
            raise GitHubError(404, "Not Found", documentation_url=APPS_DOCS)
        return answer(apps_state.installation_json(the_world, urls(), inst))


# -- as an installation ------------------------------------------------------------------------


@bp.get("/installation/repositories")
def list_installation_repositories() -> Response:
    record = g.get("gh_install_token")
    if record is None:
        require_user()
        raise GitHubError(403, "You must use an installation access token to list repositories.")
    the_world = world()
    with the_world.lock:
        reachable = apps_state.token_repo_ids(the_world, record)
        repos = [
            repo
            for repo in apps_state.installation_repos(the_world, g.gh_install)
            if repo["id"] in reachable
        ]
        page, headers = paginate(repos)
        selection = (
            "selected"
            if record["repository_ids"] is not None
            else g.gh_install["repository_selection"]
        )
        body = {
            "total_count": len(repos),
            "repository_selection": selection,
            "repositories": [github_json.full_repo(the_world, urls(), repo) for repo in page],
        }
    return answer(body, headers=headers)


@bp.delete("/installation/token")
def revoke_installation_token() -> Response:
    if g.get("gh_install_token") is None:
        raise GitHubError(401, "Bad credentials")
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    with world().lock:
        world().github.get("installation_tokens", {}).pop(token, None)
    return Response(status=204)


# -- as a user of the app (ghu_) ----------------------------------------------------------------


def _user_app() -> tuple[dict[str, Any], dict[str, Any]]:
    user = require_user()
    token = g.get("gh_token") or {}
    app = (
        apps_state.get_app(world(), token.get("client_id") or "")
        if token.get("kind") == "app-user"
        else None
    )
    if app is None:
        raise GitHubError(
            403,
            "You must authenticate with an access token authorized to a GitHub App in order "
            "to list installations",
            documentation_url="https://docs.github.com/rest/apps/installations"
            "#list-app-installations-accessible-to-the-user-access-token",
        )
    return user, app


def _user_can_access(the_world: World, user: dict[str, Any], inst: dict[str, Any]) -> bool:
    if inst["account"] == user["login"].lower():
        return True
    account = the_world.github["users"].get(inst["account"], {})
    return user["login"].lower() in account.get("members", [])


@bp.get("/user/installations")
def list_user_installations() -> Response:
    user, app = _user_app()
    the_world = world()
    with the_world.lock:
        items = [
            apps_state.installation_json(the_world, urls(), inst)
            for inst in sorted(apps_state.installations(the_world).values(), key=lambda i: i["id"])
            if inst["app_id"] == app["id"] and _user_can_access(the_world, user, inst)
        ]
    page, headers = paginate(items)
    return answer({"total_count": len(items), "installations": page}, headers=headers)


@bp.get("/user/installations/<int:installation_id>/repositories")
def list_user_installation_repositories(installation_id: int) -> Response:
    user, app = _user_app()
    the_world = world()
    with the_world.lock:
        inst = apps_state.get_installation(the_world, installation_id)
        if (
            inst is None
            or inst["app_id"] != app["id"]
            or not _user_can_access(the_world, user, inst)
        ):
            raise not_found()
        repos = apps_state.installation_repos(the_world, inst)
        page, headers = paginate(repos)
        body = {
            "total_count": len(repos),
            "repository_selection": inst["repository_selection"],
            "repositories": [
                github_json.full_repo(the_world, urls(), repo, viewer=user["login"])
                for repo in page
            ],
        }
    return answer(body, headers=headers)


# -- manifest conversion -------------------------------------------------------------------------


@bp.post("/app-manifests/<code>/conversions")
def convert_manifest(code: str) -> Response:
    the_world = world()
    app = apps_state.convert_manifest(the_world, code)
    if app is None:
        raise GitHubError(
            404,
            "Not Found",
            documentation_url="https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest",
        )
    with the_world.lock:
        body = {
            **apps_state.app_json(the_world, urls(), app),
            "client_secret": app["client_secret"],
            "webhook_secret": app["webhook_secret"],
            "pem": app["pem"],
        }
    return answer(body, status=201)


# -- pages ---------------------------------------------------------------------------------------

PAGE_STYLE = """<style>
 body{font-family:system-ui,sans-serif;background:#f6f8fa;margin:0;color:#1f2328}
 main{max-width:34rem;margin:3rem auto;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1.5rem}
 h1{font-size:1.25rem} .error{color:#d1242f} label{display:block;margin:.3rem 0}
 button{padding:.4rem .9rem;border-radius:6px;border:1px solid #d0d7de;background:#f6f8fa;cursor:pointer}
 button.primary{background:#1f883d;color:#fff;border-color:#1f883d}
 fieldset{border:1px solid #d0d7de;border-radius:6px;margin:.8rem 0} small{color:#59636e}
</style>"""

PICK_USER_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · Sandbox GitHub</title>"""
    + PAGE_STYLE
    + """</head><body><main>
<h1>Sign in to the sandbox GitHub</h1><p>{{ why }}</p>
<form method="get">
 {% for key, value in params.items() %}<input type="hidden" name="{{ key }}" value="{{ value }}">{% endfor %}
 {% for user in users %}<button type="submit" name="login" value="{{ user.login }}">{{ user.login }}</button> {% endfor %}
</form></main></body></html>"""
)

INSTALL_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Install {{ app.name }} · Sandbox GitHub</title>"""
    + PAGE_STYLE
    + """</head><body><main>
<h1>Install {{ app.name }}</h1>
<p>Signed in as <strong>{{ login }}</strong>. {{ app.name }} asks for:
{% for name, level in app.permissions.items() %}<code>{{ name }}: {{ level }}</code> {% endfor %}</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post">
 <input type="hidden" name="state" value="{{ state }}">
 <input type="hidden" name="login" value="{{ login }}">
 <label for="account">Install on</label>
 <select id="account" name="account">{% for account in accounts %}<option value="{{ account }}">{{ account }}</option>{% endfor %}</select>
 <fieldset><legend>Repository access</legend>
  <label><input type="radio" name="selection" value="all"{% if selection == 'all' %} checked{% endif %}> All repositories</label>
  <label><input type="radio" name="selection" value="selected"{% if selection != 'all' %} checked{% endif %}> Only select repositories</label>
  {% for repo in repos %}<label><input type="checkbox" name="repository_ids" value="{{ repo.id }}"{% if repo.id in chosen %} checked{% endif %}>
   {{ repo.full_name }}{% if repo.private %} <small>(private)</small>{% endif %}</label>{% endfor %}
 </fieldset>
 <button class="primary" type="submit">{% if existing %}Save{% else %}Install{% endif %}</button>
</form></main></body></html>"""
)

DONE_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>"""
    + PAGE_STYLE
    + """</head><body><main><h1>{{ title }}</h1><p>{{ text }}</p></main></body></html>"""
)

MANIFEST_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Create GitHub App · Sandbox GitHub</title>"""
    + PAGE_STYLE
    + """</head><body><main>
<h1>Create GitHub App {{ manifest.name }}</h1>
<p>Owned by <strong>{{ owner }}</strong>; webhook URL <code>{{ hook_url or 'none' }}</code>.</p>
<form method="post" action="{{ action }}">
 <input type="hidden" name="manifest" value="{{ raw }}">
 <input type="hidden" name="state" value="{{ state }}">
 <input type="hidden" name="login" value="{{ login }}">
 <input type="hidden" name="confirm" value="1">
 <button class="primary" type="submit">Create GitHub App for {{ owner }}</button>
</form></main></body></html>"""
)


def _signed_in(the_world: World) -> dict[str, Any] | None:
    login = request.values.get("login") or request.cookies.get(SESSION_COOKIE) or ""
    user = github_state.get_user(the_world, login) if login else None
    if user is None or user.get("type", "User") != "User":
        return None
    return user


def _pick_user(why: str) -> str:
    params = {key: value for key, value in request.args.items() if key != "login"}
    return render_template_string(
        PICK_USER_PAGE, why=why, params=params, users=signable_users(world())
    )


@bp.route("/apps/<slug>/installations/new", methods=["GET", "POST"])
def install_page(slug: str) -> Response | str:
    the_world = world()
    app = next((a for a in apps_state.apps(the_world).values() if a["slug"] == slug), None)
    if app is None:
        return Response("Not Found", status=404, mimetype="text/plain")
    user = _signed_in(the_world)
    if user is None:
        return _pick_user(f"Sign in to install {app['name']}.")
    state = request.values.get("state", "")
    with the_world.lock:
        orgs = sorted(
            u["login"]
            for u in the_world.github["users"].values()
            if u.get("type") == "Organization" and user["login"].lower() in u.get("admins", [])
        )
        accounts = [user["login"], *orgs]
    account = request.values.get("account") or accounts[0]
    if account not in accounts:
        account = accounts[0]
    if request.method == "GET":
        with the_world.lock:
            existing = apps_state.installation_for(the_world, app, account)
            repos = [
                {"id": r["id"], "full_name": github_state.full_name_of(r), "private": r["private"]}
                for r in sorted(the_world.github["repos"].values(), key=lambda r: r["name"].lower())
                if r["owner"].lower() == account.lower()
            ]
            if existing is not None:
                chosen = {r["id"] for r in apps_state.installation_repos(the_world, existing)}
            else:
                chosen = {int(v) for v in request.args.getlist("repository_ids") if v.isdigit()}
        return render_template_string(
            INSTALL_PAGE,
            app=app,
            login=user["login"],
            accounts=accounts,
            repos=repos,
            chosen=chosen,
            selection=existing["repository_selection"] if existing else "selected",
            existing=existing,
            state=state,
            error=None,
        )
    selection = request.form.get("selection", "selected")
    names: list[str] | None = None
    if selection != "all":
        with the_world.lock:
            ids = {int(v) for v in request.form.getlist("repository_ids") if v.isdigit()}
            names = [
                github_state.full_name_of(r)
                for r in the_world.github["repos"].values()
                if r["id"] in ids and r["owner"].lower() == account.lower()
            ]
        if not names:
            return Response("Select at least one repository.", status=422, mimetype="text/plain")
    try:
        inst, action = apps_state.install(
            the_world, app, account, repositories=names, sender=user["login"]
        )
    except GitHubStateError as error:
        return Response(error.message, status=error.status, mimetype="text/plain")
    if app["setup_url"] and (action == "install" or app["setup_on_update"]):
        return _redirect_with(
            app["setup_url"],
            {"installation_id": str(inst["id"]), "setup_action": action, "state": state},
        )
    return render_template_string(
        DONE_PAGE,
        title=f"{app['name']} is installed",
        text=f"Installation {inst['id']} on {account} was saved.",
    )


@bp.post("/settings/apps/new")
def manifest_for_user() -> Response | str:
    return _manifest_flow(None)


@bp.post("/organizations/<org>/settings/apps/new")
def manifest_for_org(org: str) -> Response | str:
    return _manifest_flow(org)


def _manifest_flow(org: str | None) -> Response | str:
    the_world = world()
    raw = request.form.get("manifest", "")
    state = request.values.get("state", "")
    try:
        manifest = apps_state.validate_manifest(raw)
    except GitHubStateError as error:
        return Response(error.message, status=422, mimetype="text/plain")
    auto = the_world.github.get("manifest_auto_confirm") or {}
    user = _signed_in(the_world)
    if user is None and auto.get("login"):
        user = github_state.get_user(the_world, auto["login"])
    if user is None:
        return _pick_user("Sign in to create a GitHub App.")
    owner = user["login"]
    if org is not None:
        account = github_state.get_user(the_world, org)
        if account is None or account.get("type") != "Organization":
            return Response("Not Found", status=404, mimetype="text/plain")
        if not github_state.administers(the_world, user["login"], account["login"]):
            return Response(
                "You must be an owner of the organization to create an app for it.",
                status=403,
                mimetype="text/plain",
            )
        owner = account["login"]
    if not auto.get("enabled") and request.form.get("confirm") != "1":
        return render_template_string(
            MANIFEST_PAGE,
            manifest=manifest,
            raw=raw,
            state=state,
            owner=owner,
            login=user["login"],
            hook_url=(manifest.get("hook_attributes") or {}).get("url"),
            action=request.path,
        )
    code = apps_state.start_manifest(the_world, manifest, owner, state)
    target = manifest.get("redirect_url")
    if not target:
        return render_template_string(
            DONE_PAGE, title="GitHub App ready", text=f"Conversion code: {code}"
        )
    return _redirect_with(str(target), {"code": code, "state": state})
