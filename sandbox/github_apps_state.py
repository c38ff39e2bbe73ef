"""GitHub Apps in the sandbox GitHub: apps, installations, installation tokens, app webhooks.

Plain data in ``world.github`` (persisted with the rest of the world):

``apps``           app id (str) -> the app: ``id, slug, node_id, name, description, owner``
                   (login), ``client_id, client_secret, webhook_secret, pem`` (RSA private key,
                   PKCS#8 PEM), ``permissions`` ({name: "read"|"write"|"admin"}), ``events``,
                   ``hook`` ({url, active, id}), ``url, setup_url, setup_on_update,
                   redirect_url, callback_urls, public, created_at, updated_at``.
``installations``  installation id (str) -> ``id, app_id, account`` (login, lower-cased),
                   ``target_type`` ("User"/"Organization"), ``repository_selection``
                   ("selected"/"all"), ``repository_ids`` (selected ones), ``permissions``,
                   ``events``, ``suspended_at, suspended_by, rate_limit`` (None: the config's
                   ``github_installation_rate_limit``), ``created_at, updated_at``.
``installation_tokens``  ``ghs_…`` -> ``installation_id, repository_ids`` (None: all the
                   installation's), ``permissions, expires_at`` (one hour), ``created_at``.
``manifest_codes`` code -> ``manifest, owner, state, expires_at`` (one hour, single use).

Every app also has a bot user (``{slug}[bot]``, type ``Bot``) in ``users``: the author of
commits and the sender of events made with its installation tokens.

App webhooks (:func:`send_app_event`) go to the app's one hook URL for all installations,
signed with its webhook secret (``X-Hub-Signature-256``), with
``X-GitHub-Hook-Installation-Target-Type: integration``; the world's ``github.push``,
``github.workflow_run`` and ``github.repository`` events become ``push``, ``workflow_run`` and
``repository`` deliveries for installations that cover the repository and subscribe to them.

Reference: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox import github_json, github_state
from sandbox.github_state import GitHubStateError

if TYPE_CHECKING:
    from sandbox.world import World

TOKEN_TTL_S = 3600
MANIFEST_CODE_TTL_S = 3600
JWT_MAX_LIFETIME_S = 600
JWT_DRIFT_S = 60
LEVELS = {"read": 1, "write": 2, "admin": 3}
# Every app event the sandbox can send; the app's ``events`` lists those it subscribes to
# (``installation`` and ``installation_repositories`` are always sent, as on GitHub).
APP_EVENTS = ("push", "workflow_run", "repository")
ALWAYS_SENT = ("installation", "installation_repositories")
DEFAULT_PERMISSIONS = {
    "metadata": "read",
    "contents": "write",
    "workflows": "write",
    "secrets": "write",
    "variables": "write",
    "actions": "read",
    # An account permission ("Email addresses"): the app's user tokens may read
    # GET /user/emails, which sign-in needs to match a student by verified email.
    "emails": "read",
}
DEFAULT_EVENTS = ["push", "workflow_run", "repository"]
SLUG_RE = re.compile(r"[^a-z0-9]+")

_cached_key: list[str] = []


class AppAuthError(Exception):
    """A refused app credential: GitHub answers 401 with ``message``."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _state(world: World, key: str) -> dict[str, Any]:
    # Worlds saved before apps existed have no such maps yet.
    found: dict[str, Any] = world.github.setdefault(key, {})
    return found


def apps(world: World) -> dict[str, Any]:
    return _state(world, "apps")


def installations(world: World) -> dict[str, Any]:
    return _state(world, "installations")


def new_private_key(*, reuse: bool = False) -> str:
    """An RSA 2048 private key (PKCS#8 PEM), as GitHub generates for an app.

    ``reuse`` returns one key made once per process: seeds run for every test, and RSA key
    generation costs tens of milliseconds.
    """
    if reuse and _cached_key:
        return _cached_key[0]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as GitHub's
        serialization.NoEncryption(),
    ).decode()
    if reuse:
        _cached_key.append(pem)
    return pem


def public_key_pem(app: dict[str, Any]) -> bytes:
    private = serialization.load_pem_private_key(app["pem"].encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def slugify(name: str) -> str:
    return SLUG_RE.sub("-", name.lower()).strip("-") or "app"


def _clean_permissions(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise GitHubStateError("default_permissions must be an object")
    cleaned: dict[str, str] = {}
    for name, level in raw.items():
        if level not in LEVELS or not isinstance(name, str):
            raise GitHubStateError(f"permission {name}: {level!r} is not read, write or admin")
        cleaned[name] = level
    return cleaned


def bot_login(app: dict[str, Any]) -> str:
    return f"{app['slug']}[bot]"


def create_app(
    world: World,
    name: str,
    owner: str,
    *,
    permissions: dict[str, str] | None = None,
    events: list[str] | None = None,
    hook_url: str | None = None,
    hook_active: bool = True,
    url: str | None = None,
    description: str | None = None,
    setup_url: str | None = None,
    setup_on_update: bool = False,
    redirect_url: str | None = None,
    callback_urls: list[str] | None = None,
    public: bool = False,
    reuse_key: bool = False,
) -> dict[str, Any]:
    """Register a GitHub App owned by ``owner`` (a user or organisation login); returns it.

    Metadata read is always granted. Raises :class:`GitHubStateError` for an unknown owner,
    a bad permission or a name already taken.
    """
    cleaned = {"metadata": "read", **_clean_permissions(permissions)}
    events = [str(event) for event in (events or [])]
    if not name or not isinstance(name, str):
        raise GitHubStateError("name is required")
    slug = slugify(name)
    pem = new_private_key(reuse=reuse_key)
    with world.lock:
        owner_user = github_state.get_user(world, owner)
        if owner_user is None:
            raise GitHubStateError(f"Owner {owner} does not exist", status=404)
        if any(app["slug"] == slug for app in apps(world).values()):
            raise GitHubStateError(f"Name {name!r} is already taken")
        number = world.next_int("github.app")
        now = world.now()
        app: dict[str, Any] = {
            "id": number,
            "slug": slug,
            "node_id": github_state.node_id("Integration", number),
            "name": name,
            "description": description or "",
            "owner": owner_user["login"],
            "client_id": "Iv23li" + secrets.token_hex(7),
            "client_secret": secrets.token_hex(20),
            "webhook_secret": secrets.token_hex(20),
            "pem": pem,
            "permissions": cleaned,
            "events": events,
            "hook": {
                "id": world.next_int("github.app_hook", start=500000000),
                "url": hook_url,
                "active": bool(hook_active and hook_url),
            },
            "url": url or f"{github_state.base_url(world)}/apps/{slug}",
            "setup_url": setup_url,
            "setup_on_update": bool(setup_on_update),
            "redirect_url": redirect_url,
            "callback_urls": list(callback_urls or []),
            "public": bool(public),
            "created_at": now,
            "updated_at": now,
        }
        apps(world)[str(number)] = app
        bot_number = world.next_int("github.user")
        world.github["users"][bot_login(app).lower()] = {
            "id": bot_number,
            "node_id": github_state.node_id("Bot", bot_number),
            "login": bot_login(app),
            "name": None,
            "email": f"{bot_number}+{bot_login(app)}@users.noreply.github.com",
            "type": "Bot",
            "created_at": now,
            "updated_at": now,
            "emails": [],
        }
        world.count("github.apps")
    world.save()
    return app


def get_app(world: World, key: str | int) -> dict[str, Any] | None:
    """An app by id, slug or client id."""
    with world.lock:
        found: dict[str, Any] | None = apps(world).get(str(key))
        if found is not None:
            return found
        for app in apps(world).values():
            if str(key) in (app["slug"], app["client_id"]):
                found = app
                return found
    return None


def credentials(app: dict[str, Any]) -> dict[str, Any]:
    """What the control API and seeds hand out: everything a client configures."""
    return {
        "id": app["id"],
        "slug": app["slug"],
        "name": app["name"],
        "owner": app["owner"],
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "webhook_secret": app["webhook_secret"],
        "pem": app["pem"],
        "permissions": dict(app["permissions"]),
        "events": list(app["events"]),
        "hook_url": app["hook"]["url"],
        "setup_url": app["setup_url"],
        "setup_on_update": app["setup_on_update"],
        "redirect_url": app["redirect_url"],
        "callback_urls": list(app["callback_urls"]),
        "bot_login": bot_login(app),
    }


def update_app(world: World, app: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Change an app's settings (control API): hook URL/active, URLs, permissions, events."""
    with world.lock:
        if "hook_url" in changes:
            app["hook"]["url"] = changes["hook_url"] or None
            app["hook"]["active"] = bool(changes["hook_url"])
        if "hook_active" in changes:
            app["hook"]["active"] = bool(changes["hook_active"]) and bool(app["hook"]["url"])
        for field in ("setup_url", "redirect_url", "description"):
            if field in changes:
                app[field] = changes[field] or None
        if "setup_on_update" in changes:
            app["setup_on_update"] = bool(changes["setup_on_update"])
        if "callback_urls" in changes:
            app["callback_urls"] = [str(url) for url in changes["callback_urls"] or []]
        if "permissions" in changes:
            app["permissions"] = {
                "metadata": "read",
                **_clean_permissions(changes["permissions"]),
            }
        if "events" in changes:
            app["events"] = [str(event) for event in changes["events"] or []]
        if "webhook_secret" in changes:
            app["webhook_secret"] = str(changes["webhook_secret"] or "")
        app["updated_at"] = world.now()
    world.save()
    return app


# -- app JWTs ------------------------------------------------------------------------------


def app_for_jwt(world: World, token: str) -> dict[str, Any]:
    """The app a JWT authenticates, checked as GitHub does; raises :class:`AppAuthError`.

    RS256 signed with the app's private key; ``iss`` the app id or client id; ``iat`` not
    more than 60 s in the future; ``exp`` in the future and at most 10 minutes after ``iat``.
    """
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AppAuthError("A JSON web token could not be decoded") from exc
    issuer = claims.get("iss")
    if header.get("alg") != "RS256" or issuer is None:
        raise AppAuthError("A JSON web token could not be decoded")
    app = get_app(world, issuer)
    if app is None:
        raise AppAuthError("Integration not found")
    try:
        jwt.decode(
            token,
            public_key_pem(app),
            algorithms=["RS256"],
            # Times are checked below against the sandbox clock (the control API moves it).
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise AppAuthError("A JSON web token could not be decoded") from exc
    now = world.now()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > now + JWT_DRIFT_S:
        raise AppAuthError(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued."
        )
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
        raise AppAuthError(
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires."
        )
    if exp - iat > JWT_MAX_LIFETIME_S or exp > now + JWT_MAX_LIFETIME_S + JWT_DRIFT_S:
        raise AppAuthError("'Expiration time' claim ('exp') is too far in the future.")
    return app


def make_jwt(app: dict[str, Any], now: float, *, lifetime: int = 540, issuer: Any = None) -> str:
    """A JWT for ``app`` as a client would make it (tests and the demo): ``iat`` 60 s back."""
    claims = {
        "iat": int(now) - 60,
        "exp": int(now) - 60 + lifetime,
        "iss": str(app["client_id"]) if issuer is None else issuer,
    }
    return jwt.encode(claims, app["pem"], algorithm="RS256")


# -- installations -------------------------------------------------------------------------


def get_installation(world: World, installation_id: int | str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = installations(world).get(str(installation_id))
    return found


def installation_for(world: World, app: dict[str, Any], account: str) -> dict[str, Any] | None:
    for inst in installations(world).values():
        if inst["app_id"] == app["id"] and inst["account"] == account.lower():
            found: dict[str, Any] = inst
            return found
    return None


def installation_repos(world: World, inst: dict[str, Any]) -> list[dict[str, Any]]:
    """The repositories an installation covers now (all of the account's, or the selected)."""
    repos = [
        repo
        for repo in world.github["repos"].values()
        if repo["owner"].lower() == inst["account"]
        and (inst["repository_selection"] == "all" or repo["id"] in inst["repository_ids"])
    ]
    return sorted(repos, key=lambda repo: repo["id"])


def installation_for_repo(
    world: World, app: dict[str, Any], repo: dict[str, Any]
) -> dict[str, Any] | None:
    inst = installation_for(world, app, repo["owner"])
    if inst is not None and any(r["id"] == repo["id"] for r in installation_repos(world, inst)):
        return inst
    return None


def _resolve_repos(world: World, account: str, names: list[str]) -> list[dict[str, Any]]:
    found = []
    for name in names:
        full = name if "/" in name else f"{account}/{name}"
        repo = github_state.get_repo(world, full)
        if repo is None or repo["owner"].lower() != account.lower():
            raise GitHubStateError(f"no repository {full} owned by {account}", status=404)
        found.append(repo)
    return found


def install(
    world: World,
    app: dict[str, Any],
    account: str,
    *,
    repositories: list[str] | None,
    sender: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Install ``app`` on ``account`` (``repositories`` None: all of them), or change the
    repositories of the installation it already has. Returns (installation, "install" or
    "update"), after sending ``installation.created`` or ``installation_repositories``."""
    with world.lock:
        user = github_state.get_user(world, account)
        if user is None or user.get("type") == "Bot":
            raise GitHubStateError(f"no GitHub account {account}", status=404)
        selected = (
            None if repositories is None else _resolve_repos(world, user["login"], repositories)
        )
        inst = installation_for(world, app, user["login"])
        now = world.now()
        if inst is None:
            number = world.next_int("github.installation", start=10000000)
            inst = {
                "id": number,
                "app_id": app["id"],
                "account": user["login"].lower(),
                "target_type": user.get("type", "User"),
                "repository_selection": "all" if selected is None else "selected",
                "repository_ids": [repo["id"] for repo in selected or []],
                "permissions": dict(app["permissions"]),
                "events": list(app["events"]),
                "suspended_at": None,
                "suspended_by": None,
                "rate_limit": None,
                "created_at": now,
                "updated_at": now,
            }
            installations(world)[str(number)] = inst
            world.count("github.installations")
            payload = installation_payload(world, app, inst, "created", sender or account)
            payload["repositories"] = [
                _repo_entry(repo) for repo in installation_repos(world, inst)
            ]
            send_app_event(world, app, "installation", payload)
            action = "install"
        else:
            before = {repo["id"]: repo for repo in installation_repos(world, inst)}
            if selected is None:
                inst["repository_selection"] = "all"
                inst["repository_ids"] = []
            else:
                inst["repository_selection"] = "selected"
                inst["repository_ids"] = [repo["id"] for repo in selected]
            inst["updated_at"] = now
            after = {repo["id"]: repo for repo in installation_repos(world, inst)}
            _send_repositories_changed(
                world,
                app,
                inst,
                [after[i] for i in after if i not in before],
                [before[i] for i in before if i not in after],
                sender or account,
            )
            action = "update"
    world.save()
    return inst, action


def change_repositories(
    world: World,
    inst: dict[str, Any],
    *,
    add: list[str],
    remove: list[str],
    sender: str | None = None,
) -> dict[str, Any]:
    """Add or remove selected repositories (``installation_repositories`` added/removed)."""
    with world.lock:
        app = apps(world)[str(inst["app_id"])]
        before = {repo["id"]: repo for repo in installation_repos(world, inst)}
        added = _resolve_repos(world, inst["account"], add)
        removed = _resolve_repos(world, inst["account"], remove)
        if inst["repository_selection"] == "all" and removed:
            # Removing one repository from an "all" installation makes it a selection.
            inst["repository_selection"] = "selected"
            inst["repository_ids"] = list(before)
        ids = [i for i in inst["repository_ids"] if i not in {r["id"] for r in removed}]
        ids += [r["id"] for r in added if r["id"] not in ids]
        if inst["repository_selection"] == "selected":
            inst["repository_ids"] = ids
        inst["updated_at"] = world.now()
        after = {repo["id"]: repo for repo in installation_repos(world, inst)}
        _send_repositories_changed(
            world,
            app,
            inst,
            [after[i] for i in after if i not in before],
            [before[i] for i in before if i not in after],
            sender or inst["account"],
        )
    world.save()
    return inst


def _send_repositories_changed(
    world: World,
    app: dict[str, Any],
    inst: dict[str, Any],
    added: list[dict[str, Any]],
    removed: list[dict[str, Any]],
    sender: str,
) -> None:
    for action, repos in (("added", added), ("removed", removed)):
        if not repos:
            continue
        payload = installation_payload(world, app, inst, action, sender)
        payload["repository_selection"] = inst["repository_selection"]
        payload["repositories_added"] = [_repo_entry(r) for r in added] if action == "added" else []
        payload["repositories_removed"] = (
            [_repo_entry(r) for r in removed] if action == "removed" else []
        )
        sender_user = github_state.get_user(world, sender)
        payload["requester"] = (
            github_json.simple_user(_urls(world), sender_user) if sender_user else None
        )
        send_app_event(world, app, "installation_repositories", payload)


def uninstall(world: World, inst: dict[str, Any], sender: str | None = None) -> None:
    """Delete an installation: its tokens stop working; ``installation.deleted`` is sent."""
    with world.lock:
        app = apps(world)[str(inst["app_id"])]
        payload = installation_payload(world, app, inst, "deleted", sender or inst["account"])
        payload["repositories"] = [_repo_entry(repo) for repo in installation_repos(world, inst)]
        installations(world).pop(str(inst["id"]), None)
        tokens = _state(world, "installation_tokens")
        for token in [t for t, rec in tokens.items() if rec["installation_id"] == inst["id"]]:
            del tokens[token]
        send_app_event(world, app, "installation", payload)
    world.save()


def suspend(world: World, inst: dict[str, Any], suspended: bool, sender: str | None = None) -> None:
    """Suspend (tokens refused with 403) or unsuspend; ``installation.suspend``/``unsuspend``."""
    with world.lock:
        app = apps(world)[str(inst["app_id"])]
        who = sender or inst["account"]
        if suspended:
            inst["suspended_at"] = world.now()
            inst["suspended_by"] = who.lower()
        else:
            inst["suspended_at"] = None
            inst["suspended_by"] = None
        inst["updated_at"] = world.now()
        action = "suspend" if suspended else "unsuspend"
        send_app_event(
            world, app, "installation", installation_payload(world, app, inst, action, who)
        )
    world.save()


def accept_new_permissions(world: World, inst: dict[str, Any], sender: str | None = None) -> None:
    """The account accepts the app's current permissions and events (after an app change)."""
    with world.lock:
        app = apps(world)[str(inst["app_id"])]
        inst["permissions"] = dict(app["permissions"])
        inst["events"] = list(app["events"])
        inst["updated_at"] = world.now()
        payload = installation_payload(
            world, app, inst, "new_permissions_accepted", sender or inst["account"]
        )
        send_app_event(world, app, "installation", payload)
    world.save()


# -- installation tokens -----------------------------------------------------------------------


def mint_token(
    world: World,
    inst: dict[str, Any],
    *,
    repositories: list[str] | None = None,
    repository_ids: list[int] | None = None,
    permissions: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A ``ghs_`` token for the installation, narrowed as asked; raises GitHubStateError 422."""
    with world.lock:
        covered = {repo["id"]: repo for repo in installation_repos(world, inst)}
        chosen: list[int] | None = None
        if repositories is not None or repository_ids is not None:
            chosen = []
            for name in repositories or []:
                full = name if "/" in name else f"{inst['account']}/{name}"
                repo = github_state.get_repo(world, full)
                if repo is None or repo["id"] not in covered:
                    raise GitHubStateError(
                        "There is at least one repository that does not exist or is not "
                        "accessible to the parent installation."
                    )
                chosen.append(repo["id"])
            for repo_id in repository_ids or []:
                if repo_id not in covered:
                    raise GitHubStateError(
                        "There is at least one repository that does not exist or is not "
                        "accessible to the parent installation."
                    )
                chosen.append(repo_id)
            chosen = sorted(set(chosen))
        granted = dict(inst["permissions"])
        if permissions is not None:
            asked = _clean_permissions(permissions)
            for name, level in asked.items():
                if LEVELS.get(granted.get(name, ""), 0) < LEVELS[level]:
                    raise GitHubStateError(
                        f"The permissions requested are not granted to this installation. "
                        f"({name}: {level})"
                    )
            granted = asked
        token = github_state.new_token("ghs")
        record = {
            "installation_id": inst["id"],
            "repository_ids": chosen,
            "permissions": granted,
            "expires_at": world.now() + TOKEN_TTL_S,
            "created_at": world.now(),
        }
        _state(world, "installation_tokens")[token] = record
        world.count("github.installation_tokens")
    world.save()
    return token, record


def token_record(world: World, token: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _state(world, "installation_tokens").get(token)
    return found


def token_repo_ids(world: World, record: dict[str, Any]) -> set[int]:
    """The repositories a token reaches now (narrowed, and within its installation's)."""
    inst = get_installation(world, record["installation_id"])
    if inst is None:
        return set()
    covered = {repo["id"] for repo in installation_repos(world, inst)}
    if record["repository_ids"] is None:
        return covered
    return covered & set(record["repository_ids"])


def has_permission(granted: dict[str, str], name: str, level: str) -> bool:
    return LEVELS.get(granted.get(name, ""), 0) >= LEVELS[level]


# -- manifest flow ---------------------------------------------------------------------------


def start_manifest(world: World, manifest: dict[str, Any], owner: str, state: str) -> str:
    """Remember a confirmed manifest; returns the one-hour, single-use conversion code."""
    code = secrets.token_hex(20)
    with world.lock:
        _state(world, "manifest_codes")[code] = {
            "manifest": manifest,
            "owner": owner,
            "state": state,
            "expires_at": world.now() + MANIFEST_CODE_TTL_S,
        }
    world.save()
    return code


def convert_manifest(world: World, code: str) -> dict[str, Any] | None:
    """Create the app of a manifest code (once); None when the code is unknown or expired."""
    with world.lock:
        grant = _state(world, "manifest_codes").pop(code, None)
        if grant is None or grant["expires_at"] < world.now():
            return None
    manifest = grant["manifest"]
    hook = manifest.get("hook_attributes") or {}
    app = create_app(
        world,
        str(manifest.get("name") or "app"),
        grant["owner"],
        permissions=manifest.get("default_permissions") or {},
        events=list(manifest.get("default_events") or []),
        hook_url=hook.get("url"),
        hook_active=hook.get("active", True) is not False,
        url=manifest.get("url"),
        description=manifest.get("description"),
        setup_url=manifest.get("setup_url"),
        setup_on_update=bool(manifest.get("setup_on_update", False)),
        redirect_url=manifest.get("redirect_url"),
        callback_urls=list(manifest.get("callback_urls") or []),
        public=bool(manifest.get("public", False)),
    )
    return app


def validate_manifest(raw: str) -> dict[str, Any]:
    """The manifest form field as GitHub checks it: JSON, with a url, and known permissions."""
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise GitHubStateError("The manifest is not valid JSON") from exc
    if not isinstance(manifest, dict):
        raise GitHubStateError("The manifest must be a JSON object")
    if not isinstance(manifest.get("url"), str) or not manifest["url"]:
        raise GitHubStateError("url is required in the manifest")
    _clean_permissions(manifest.get("default_permissions"))
    hook = manifest.get("hook_attributes")
    if hook is not None and (not isinstance(hook, dict) or not isinstance(hook.get("url"), str)):
        raise GitHubStateError("hook_attributes.url is required when hook_attributes is given")
    return manifest


# -- JSON ----------------------------------------------------------------------------------


def _urls(world: World, prefix: str = "/api/v3") -> github_json.Urls:
    return github_json.Urls(github_state.base_url(world), api_prefix=prefix)


def app_json(world: World, urls: github_json.Urls, app: dict[str, Any]) -> dict[str, Any]:
    """``GET /app`` and ``GET /apps/{slug}``."""
    owner = world.github["users"][app["owner"].lower()]
    return {
        "id": app["id"],
        "slug": app["slug"],
        "node_id": app["node_id"],
        "client_id": app["client_id"],
        "owner": github_json.simple_user(urls, owner),
        "name": app["name"],
        "description": app["description"],
        "external_url": app["url"],
        "html_url": f"{urls.html}/apps/{app['slug']}",
        "created_at": github_json.iso(app["created_at"]),
        "updated_at": github_json.iso(app["updated_at"]),
        "permissions": dict(app["permissions"]),
        "events": list(app["events"]),
        "installations_count": sum(
            1 for inst in installations(world).values() if inst["app_id"] == app["id"]
        ),
    }


def installation_json(world: World, urls: github_json.Urls, inst: dict[str, Any]) -> dict[str, Any]:
    """An installation, as ``GET /app/installations/{id}`` and webhook payloads write it."""
    app = apps(world)[str(inst["app_id"])]
    account = world.github["users"][inst["account"]]
    suspender = world.github["users"].get(inst["suspended_by"] or "")
    return {
        "id": inst["id"],
        "account": github_json.simple_user(urls, account),
        "repository_selection": inst["repository_selection"],
        "access_tokens_url": f"{urls.api}/app/installations/{inst['id']}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.html}/settings/installations/{inst['id']}",
        "app_id": app["id"],
        "client_id": app["client_id"],
        "target_id": account["id"],
        "target_type": inst["target_type"],
        "permissions": dict(inst["permissions"]),
        "events": list(inst["events"]),
        "created_at": github_json.iso(inst["created_at"]),
        "updated_at": github_json.iso(inst["updated_at"]),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "app_slug": app["slug"],
        "suspended_by": github_json.simple_user(urls, suspender) if suspender else None,
        "suspended_at": github_json.iso(inst["suspended_at"]) if inst["suspended_at"] else None,
    }


def _repo_entry(repo: dict[str, Any]) -> dict[str, Any]:
    """The short repository of installation events."""
    return {
        "id": repo["id"],
        "node_id": repo["node_id"],
        "name": repo["name"],
        "full_name": github_state.full_name_of(repo),
        "private": repo["private"],
    }


def installation_payload(
    world: World, app: dict[str, Any], inst: dict[str, Any], action: str, sender: str
) -> dict[str, Any]:
    urls = _urls(world)
    user = github_state.get_user(world, sender)
    return {
        "action": action,
        "installation": installation_json(world, urls, inst),
        "sender": github_json.simple_user(urls, user) if user else None,
    }


# -- app webhooks ------------------------------------------------------------------------------


def send_app_event(
    world: World, app: dict[str, Any], event: str, payload: dict[str, Any]
) -> str | None:
    """POST one event to the app's hook URL, signed with its webhook secret; delivery id."""
    hook = app["hook"]
    if not hook.get("url") or not hook.get("active"):
        return None
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": f"GitHub-Hookshot/{github_state.HOOKSHOT_VERSION}",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook["id"]),
        "X-GitHub-Hook-Installation-Target-ID": str(app["id"]),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if app.get("webhook_secret"):
        headers["X-Hub-Signature"], headers["X-Hub-Signature-256"] = github_state.sign(
            app["webhook_secret"], body
        )
    return world.deliver_webhook(hook["url"], body, headers, service="github-app")


def _subscribers(
    world: World, repo: dict[str, Any], event: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(app, installation) pairs that cover ``repo``, are not suspended and take ``event``."""
    found = []
    for inst in list(installations(world).values()):
        if inst["account"] != repo["owner"].lower() or inst["suspended_at"]:
            continue
        if event not in inst["events"]:
            continue
        if inst["repository_selection"] == "selected" and repo["id"] not in inst["repository_ids"]:
            continue
        found.append((apps(world)[str(inst["app_id"])], inst))
    return found


def _with_installation(payload: dict[str, Any], inst: dict[str, Any]) -> dict[str, Any]:
    return {
        **payload,
        "installation": {
            "id": inst["id"],
            "node_id": github_state.node_id("Installation", inst["id"]),
        },
    }


def on_push(
    world: World, *, full_name: str, branch: str, sha: str, before: str, pusher: str, message: str
) -> None:
    with world.lock:
        repo = github_state.get_repo(world, full_name)
        if repo is None:
            return
        targets = _subscribers(world, repo, "push")
        if not targets:
            return
        previous = None if before == "0" * 40 else before
        payload = github_json.push_payload(world, _urls(world), repo, branch, previous, sha, pusher)
        for app, inst in targets:
            send_app_event(world, app, "push", _with_installation(payload, inst))


def on_workflow_run(world: World, *, repo: dict[str, Any], payload: dict[str, Any]) -> None:
    with world.lock:
        for app, inst in _subscribers(world, repo, "workflow_run"):
            send_app_event(world, app, "workflow_run", _with_installation(payload, inst))


def on_repository(
    world: World,
    *,
    repo: dict[str, Any],
    action: str,
    sender: str,
    changes: dict[str, Any] | None = None,
    former_owner: str | None = None,
) -> None:
    """``repository`` events (renamed, transferred, deleted, privatized, publicized).

    For a transfer, the installation of the former owner hears about it and loses the
    repository; for a deletion, the repository leaves every installation.
    """
    with world.lock:
        urls = _urls(world)
        user = github_state.get_user(world, sender)
        payload: dict[str, Any] = {
            "action": action,
            "repository": github_json.webhook_repo(world, urls, repo, push=False),
            "sender": github_json.simple_user(urls, user) if user else None,
        }
        if changes is not None:
            payload["changes"] = changes
        if former_owner is not None:
            view = {**repo, "owner": former_owner}
            targets = _subscribers(world, view, "repository")
        else:
            targets = _subscribers(world, repo, "repository")
        for app, inst in targets:
            send_app_event(world, app, "repository", _with_installation(payload, inst))
        if action in ("transferred", "deleted"):
            for inst in installations(world).values():
                if repo["id"] in inst["repository_ids"]:
                    inst["repository_ids"].remove(repo["id"])


def install_subscriptions(world: World) -> None:
    world.subscribe("github.push", on_push)
    world.subscribe("github.workflow_run", on_workflow_run)
    world.subscribe("github.repository", on_repository)
