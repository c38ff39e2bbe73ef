"""Control routes for GitHub Apps and repository events, under ``/_sandbox/github/`` (JSON).

For tests and the demo, without a browser. Errors are ``{"error": "..."}`` with 400/404/409.

Apps
  ``GET  /apps``                       -> ``{"apps": [credentials…]}``
  ``POST /apps``                       {name, owner, permissions?, events?, hook_url?,
                                        setup_url?, setup_on_update?, redirect_url?,
                                        callback_urls?, description?} -> 201 credentials
  ``GET  /apps/{slug}``                -> credentials: ``id, slug, name, owner, client_id,
                                        client_secret, webhook_secret, pem, permissions,
                                        events, hook_url, setup_url, setup_on_update,
                                        redirect_url, callback_urls, bot_login``
  ``PATCH /apps/{slug}``               any of hook_url, hook_active, setup_url,
                                        setup_on_update, redirect_url, callback_urls,
                                        permissions, events, webhook_secret -> credentials
  ``POST /apps/{slug}/jwt``            {lifetime?: s, issuer?: id|client_id} -> ``{"jwt"}``
                                        (a valid app JWT, for curl and the demo)
  ``POST /manifest-auto-confirm``      {enabled: bool, login?: str}: the manifest pages
                                        create the app at once (as ``login`` when no one
                                        is signed in)

Installations
  ``POST /apps/{slug}/installations``  {account, repositories?: [names] (absent or "all":
                                        every repository), sender?} -> 201 (created) or 200
                                        (changed) ``{"installation": {...}, "action"}``;
                                        sends ``installation.created`` or
                                        ``installation_repositories``
  ``GET  /installations``              -> ``{"installations": [...]}``
  ``GET  /installations/{id}``         -> the installation (``id, app_id, app_slug, account,
                                        repository_selection, repositories`` (full names),
                                        ``permissions, events, suspended, rate_limit``)
  ``DELETE /installations/{id}``       uninstall (``installation.deleted``)
  ``POST /installations/{id}/repositories``  {add?: [names], remove?: [names]}
  ``POST /installations/{id}/suspend`` / ``/unsuspend``
  ``POST /installations/{id}/accept-permissions``  (``installation.new_permissions_accepted``)
  ``POST /installations/{id}/rate-limit``  {limit: int | null} (null: the config default)
  ``POST /installations/{id}/token``   {repositories?, permissions?} -> ``{"token",
                                        "expires_at"}`` (no JWT needed)
  ``POST /installations/{id}/secondary-limit``  {count, status?, retry_after?}: the next
                                        ``count`` requests with this installation's tokens
                                        get a secondary rate-limit refusal

Accounts and repositories
  ``POST /orgs``                       {login, admins: [logins], members?: [logins]}
  ``POST /repos/{o}/{r}/rename``       {name, sender?}      (``repository.renamed``)
  ``POST /repos/{o}/{r}/transfer``     {new_owner, sender?} (``repository.transferred``)
  ``POST /repos/{o}/{r}/visibility``   {private: bool}      (``privatized``/``publicized``)
  ``DELETE /repos/{o}/{r}``            (``repository.deleted``)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from sandbox import github_apps_state as apps_state
from sandbox import github_state
from sandbox.github_state import GitHubStateError

if TYPE_CHECKING:
    from sandbox.world import World

bp = Blueprint("github_apps_control", __name__)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@bp.errorhandler(ControlError)
def _control_error(exc: ControlError) -> Response:
    response = jsonify({"error": exc.message})
    response.status_code = exc.status
    return response


@bp.errorhandler(GitHubStateError)
def _state_error(exc: GitHubStateError) -> Response:
    response = jsonify({"error": exc.message})
    response.status_code = 404 if exc.status == 404 else 400
    return response


def world() -> World:
    found: World = current_app.extensions["sandbox_world"]
    return found


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _names(data: dict[str, Any], field: str) -> list[str]:
    value = data.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlError(400, f"{field} must be a list of repository names")
    return value


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ControlError(400, f"{field} is required")
    return value.strip()


def _json(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def _app(slug: str) -> dict[str, Any]:
    app = apps_state.get_app(world(), slug)
    if app is None:
        raise ControlError(404, f"no GitHub App {slug}")
    return app


def _installation(installation_id: int) -> dict[str, Any]:
    inst = apps_state.get_installation(world(), installation_id)
    if inst is None:
        raise ControlError(404, f"no installation {installation_id}")
    return inst


def installation_view(w: World, inst: dict[str, Any]) -> dict[str, Any]:
    app = apps_state.apps(w)[str(inst["app_id"])]
    return {
        "id": inst["id"],
        "app_id": app["id"],
        "app_slug": app["slug"],
        "account": w.github["users"][inst["account"]]["login"],
        "repository_selection": inst["repository_selection"],
        "repositories": [
            github_state.full_name_of(repo) for repo in apps_state.installation_repos(w, inst)
        ],
        "permissions": dict(inst["permissions"]),
        "events": list(inst["events"]),
        "suspended": bool(inst["suspended_at"]),
        "rate_limit": inst.get("rate_limit"),
    }


# -- apps ------------------------------------------------------------------------------------------


@bp.get("/apps")
def list_apps() -> Response:
    w = world()
    with w.lock:
        return _json({"apps": [apps_state.credentials(a) for a in apps_state.apps(w).values()]})


@bp.post("/apps")
def create_app() -> Response:
    data = _body()
    app = apps_state.create_app(
        world(),
        _text(data, "name"),
        _text(data, "owner"),
        permissions=data.get("permissions") or dict(apps_state.DEFAULT_PERMISSIONS),
        events=data.get("events") if data.get("events") is not None else apps_state.DEFAULT_EVENTS,
        hook_url=data.get("hook_url"),
        url=data.get("url"),
        description=data.get("description"),
        setup_url=data.get("setup_url"),
        setup_on_update=bool(data.get("setup_on_update", False)),
        redirect_url=data.get("redirect_url"),
        callback_urls=data.get("callback_urls"),
    )
    return _json(apps_state.credentials(app), 201)


@bp.get("/apps/<slug>")
def get_app(slug: str) -> Response:
    return _json(apps_state.credentials(_app(slug)))


@bp.patch("/apps/<slug>")
def update_app(slug: str) -> Response:
    app = apps_state.update_app(world(), _app(slug), _body())
    return _json(apps_state.credentials(app))


@bp.post("/apps/<slug>/jwt")
def make_jwt(slug: str) -> Response:
    data = _body()
    lifetime = data.get("lifetime", 540)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise ControlError(400, "lifetime must be a number of seconds")
    token = apps_state.make_jwt(
        _app(slug), world().now(), lifetime=lifetime, issuer=data.get("issuer")
    )
    return _json({"jwt": token})


@bp.post("/manifest-auto-confirm")
def manifest_auto_confirm() -> Response:
    data = _body()
    w = world()
    setting = {"enabled": bool(data.get("enabled", True)), "login": data.get("login")}
    with w.lock:
        w.github["manifest_auto_confirm"] = setting
    return _json(setting)


# -- installations ---------------------------------------------------------------------------------


@bp.post("/apps/<slug>/installations")
def install(slug: str) -> Response:
    data = _body()
    repositories = data.get("repositories")
    names = None if repositories in (None, "all") else _names(data, "repositories")
    inst, action = apps_state.install(
        world(), _app(slug), _text(data, "account"), repositories=names, sender=data.get("sender")
    )
    w = world()
    with w.lock:
        view = installation_view(w, inst)
    return _json({"installation": view, "action": action}, 201 if action == "install" else 200)


@bp.get("/installations")
def list_installations() -> Response:
    w = world()
    with w.lock:
        return _json(
            {
                "installations": [
                    installation_view(w, inst) for inst in apps_state.installations(w).values()
                ]
            }
        )


@bp.get("/installations/<int:installation_id>")
def get_installation(installation_id: int) -> Response:
    w = world()
    with w.lock:
        return _json(installation_view(w, _installation(installation_id)))


@bp.delete("/installations/<int:installation_id>")
def uninstall(installation_id: int) -> Response:
    apps_state.uninstall(world(), _installation(installation_id), sender=_body().get("sender"))
    return _json({"uninstalled": installation_id})


@bp.post("/installations/<int:installation_id>/repositories")
def change_repositories(installation_id: int) -> Response:
    data = _body()
    inst = apps_state.change_repositories(
        world(),
        _installation(installation_id),
        add=_names(data, "add"),
        remove=_names(data, "remove"),
        sender=data.get("sender"),
    )
    w = world()
    with w.lock:
        return _json(installation_view(w, inst))


@bp.post("/installations/<int:installation_id>/suspend")
def suspend(installation_id: int) -> Response:
    apps_state.suspend(world(), _installation(installation_id), True, _body().get("sender"))
    return get_installation(installation_id)


@bp.post("/installations/<int:installation_id>/unsuspend")
def unsuspend(installation_id: int) -> Response:
    apps_state.suspend(world(), _installation(installation_id), False, _body().get("sender"))
    return get_installation(installation_id)


@bp.post("/installations/<int:installation_id>/accept-permissions")
def accept_permissions(installation_id: int) -> Response:
    apps_state.accept_new_permissions(world(), _installation(installation_id))
    return get_installation(installation_id)


@bp.post("/installations/<int:installation_id>/rate-limit")
def rate_limit(installation_id: int) -> Response:
    data = _body()
    limit = data.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ControlError(400, "limit must be a non-negative integer or null")
    w = world()
    with w.lock:
        inst = _installation(installation_id)
        inst["rate_limit"] = limit
        # A new budget starts a new window, as a changed limit does on GitHub's side.
        w.github["rate"].pop(f"installation:{installation_id}", None)
    return get_installation(installation_id)


@bp.post("/installations/<int:installation_id>/token")
def mint_token(installation_id: int) -> Response:
    data = _body()
    repositories = data.get("repositories")
    token, record = apps_state.mint_token(
        world(),
        _installation(installation_id),
        repositories=None if repositories is None else _names(data, "repositories"),
        permissions=data.get("permissions"),
    )
    return _json({"token": token, "expires_at": record["expires_at"]}, 201)


@bp.post("/installations/<int:installation_id>/secondary-limit")
def secondary_limit(installation_id: int) -> Response:
    data = _body()
    try:
        count = int(data.get("count", 1))
        status = int(data.get("status", 403))
        retry_after = int(data.get("retry_after", 60))
    except (TypeError, ValueError) as exc:
        raise ControlError(400, "count, status and retry_after must be integers") from exc
    if status not in (403, 429) or count < 0 or retry_after < 0:
        raise ControlError(400, "status must be 403 or 429; count and retry_after >= 0")
    _installation(installation_id)
    w = world()
    setting = {"remaining": count, "status": status, "retry_after": retry_after}
    with w.lock:
        w.github.setdefault("secondary_installations", {})[str(installation_id)] = setting
    return _json(setting)


# -- accounts and repositories -----------------------------------------------------------------------


@bp.post("/orgs")
def create_org() -> Response:
    data = _body()
    admins = data.get("admins") or []
    members = data.get("members") or []
    if not isinstance(admins, list) or not isinstance(members, list):
        raise ControlError(400, "admins and members are lists of logins")
    org = github_state.create_org(world(), _text(data, "login"), admins, members)
    return _json({key: org[key] for key in ("login", "id", "admins", "members")}, 201)


def _repo_name(owner: str, name: str) -> str:
    repo = github_state.get_repo(world(), f"{owner}/{name}")
    if repo is None:
        raise ControlError(404, f"no repository {owner}/{name}")
    return github_state.full_name_of(repo)


@bp.post("/repos/<owner>/<name>/rename")
def rename(owner: str, name: str) -> Response:
    data = _body()
    repo = github_state.rename_repo(
        world(), _repo_name(owner, name), _text(data, "name"), sender=data.get("sender")
    )
    return _json({"full_name": github_state.full_name_of(repo), "id": repo["id"]})


@bp.post("/repos/<owner>/<name>/transfer")
def transfer(owner: str, name: str) -> Response:
    data = _body()
    repo = github_state.transfer_repo(
        world(), _repo_name(owner, name), _text(data, "new_owner"), sender=data.get("sender")
    )
    return _json({"full_name": github_state.full_name_of(repo), "id": repo["id"]})


@bp.post("/repos/<owner>/<name>/visibility")
def visibility(owner: str, name: str) -> Response:
    data = _body()
    private = data.get("private")
    if not isinstance(private, bool):
        raise ControlError(400, "private must be true or false")
    w = world()
    repo = github_state.get_repo(w, _repo_name(owner, name))
    assert repo is not None
    github_state.set_visibility(w, repo, private=private, sender=data.get("sender"))
    return _json({"full_name": github_state.full_name_of(repo), "private": repo["private"]})


@bp.delete("/repos/<owner>/<name>")
def delete(owner: str, name: str) -> Response:
    full_name = _repo_name(owner, name)
    github_state.delete_repo(world(), full_name, sender=_body().get("sender"))
    return _json({"deleted": full_name})


def install_routes(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/_sandbox/github")
