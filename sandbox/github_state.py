"""The sandbox GitHub's state (``world.github``) and the operations on it.

Plain data only, so the world can persist it as JSON. Logins and repository names are
case-insensitive on GitHub, so every map is keyed by the lower-cased name and the entry keeps
the spelling it was created with. Repositories hold real git-like objects: blobs keyed by their
git blob SHA-1, commits with a full tree (path -> blob SHA), branches pointing at commits.

Functions used by S1's seed and control code: :func:`create_user`, :func:`create_repo`,
:func:`push`, :func:`read_tree`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nacl.public import PrivateKey

from sandbox import github_json

if TYPE_CHECKING:
    from sandbox.world import World

# GitHub's login rule: alphanumerics and single hyphens, no leading/trailing hyphen, <= 39.
LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Repository names: ASCII letters, digits, ".", "-", "_" (GitHub replaces others; we refuse).
REPO_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
BRANCH_RE = re.compile(
    r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\\x00-\x1f]+(?<!/)(?<!\.lock)$"
)
# Scopes of a personal access token made by the sandbox: enough for every route it serves.
PAT_SCOPES = ("repo", "workflow", "admin:repo_hook", "read:user", "user:email")
HOOKSHOT_VERSION = "7d5d3a1"


class GitHubStateError(ValueError):
    """A refused operation; ``status`` is the HTTP status GitHub answers with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def empty_state() -> dict[str, Any]:
    return {
        "users": {},
        "tokens": {},
        "oauth_apps": {},
        "oauth_codes": {},
        "repos": {},
        # token or client address -> {"reset": unix, "used": n} (primary rate limit, per hour)
        "rate": {},
        # Forced secondary-limit answers the control API asked for.
        "secondary": {"remaining": 0, "status": 403, "retry_after": 60},
        # Old "owner/name" (lower-cased) -> repository id, so old names answer 301 as on GitHub.
        "renamed": {},
        # GitHub Apps (see github_apps_state): apps, installations, their tokens, manifest codes.
        "apps": {},
        "installations": {},
        "installation_tokens": {},
        "manifest_codes": {},
        # installation id -> forced secondary-limit answers for that installation only.
        "secondary_installations": {},
        # {"enabled": bool, "login": str}: the manifest pages create the app without a click.
        "manifest_auto_confirm": {},
    }


# -- ids and hashes ---------------------------------------------------------------------


def node_id(kind: str, number: int) -> str:
    """A GraphQL-style global id, e.g. ``MDQ6VXNlcjE=`` for user 1 (the legacy format)."""
    text = f"0{len(kind) + 1}:{kind}{number}" if len(kind) < 9 else f"{len(kind)}:{kind}{number}"
    return base64.b64encode(text.encode()).decode()


def blob_sha(content: str) -> str:
    """Git's blob id: SHA-1 of ``blob <size>\\0<content>``."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _tree_sha(tree: dict[str, str]) -> str:
    listing = "".join(f"100644 {path}\0{sha}" for path, sha in sorted(tree.items()))
    return hashlib.sha1(b"tree " + listing.encode(), usedforsecurity=False).hexdigest()


def _commit_sha(tree_sha: str, parents: list[str], message: str, login: str, when: float) -> str:
    lines = [f"tree {tree_sha}", *(f"parent {p}" for p in parents)]
    lines += [
        f"author {login} {int(when)} +0000",
        f"committer {login} {int(when)} +0000",
        "",
        message,
    ]
    # A random salt keeps two identical commits in the same second distinct, as timestamps
    # with sub-second pushes would otherwise collide.
    lines.append(secrets.token_hex(4))
    return hashlib.sha1("\n".join(lines).encode(), usedforsecurity=False).hexdigest()


# -- users and tokens --------------------------------------------------------------------


def new_token(prefix: str) -> str:
    """A token in GitHub's format: prefix, 30 random base62 characters, 6-character checksum."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    body = "".join(secrets.choice(alphabet) for _ in range(30))
    checksum = format(int(hashlib.sha256(body.encode()).hexdigest()[:8], 16) % 62**6, "06d")[-6:]
    return f"{prefix}_{body}{checksum}"


def get_user(world: World, login: str) -> dict[str, Any] | None:
    user: dict[str, Any] | None = world.github["users"].get(login.lower())
    return user


def create_user(
    world: World, login: str, email: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """Create a GitHub user with a verified primary email and a personal access token.

    Returns a copy of the user with its ``token`` (the token has every scope the sandbox
    checks). Raises :class:`GitHubStateError` for a bad or taken login.
    """
    if not LOGIN_RE.match(login or ""):
        raise GitHubStateError(
            "Login may only contain alphanumeric characters or single hyphens, "
            "and cannot begin or end with a hyphen"
        )
    email = email or f"{login.lower()}@users.noreply.github.com"
    with world.lock:
        if login.lower() in world.github["users"]:
            raise GitHubStateError(f"Login {login} is already taken")
        number = world.next_int("github.user")
        now = world.now()
        user = {
            "id": number,
            "node_id": node_id("User", number),
            "login": login,
            "name": name,
            "email": email,
            "type": "User",
            "created_at": now,
            "updated_at": now,
            "emails": [
                {"email": email, "primary": True, "verified": True, "visibility": "private"}
            ],
        }
        world.github["users"][login.lower()] = user
        token = issue_token(world, login, scopes=list(PAT_SCOPES), kind="pat")
        world.count("github.users")
    world.save()
    return {**user, "token": token}


def issue_token(
    world: World, login: str, *, scopes: list[str], kind: str, client_id: str | None = None
) -> str:
    # ghu_: a user access token of a GitHub App (the OAuth flow with the app's client id).
    token = new_token({"pat": "ghp", "oauth": "gho", "app-user": "ghu"}[kind])
    with world.lock:
        world.github["tokens"][token] = {
            "login": login.lower(),
            "scopes": scopes,
            "kind": kind,
            "client_id": client_id,
            "created_at": world.now(),
        }
        world.count("github.tokens")
    return token


def user_for_token(world: World, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The user and token record for a token, or None when it is unknown or revoked."""
    with world.lock:
        record = world.github["tokens"].get(token)
        if record is None:
            return None
        user = world.github["users"].get(record["login"])
        if user is None:
            return None
        return user, record


# -- OAuth apps ----------------------------------------------------------------------------


def create_oauth_app(
    world: World,
    client_id: str | None = None,
    client_secret: str | None = None,
    name: str = "hubcourse",
    callback_url: str | None = None,
    *,
    secret_on_first_use: bool = False,
) -> dict[str, Any]:
    """Register an OAuth app; returns ``{"client_id", "client_secret", ...}``.

    With ``secret_on_first_use`` the app has no secret until the first token exchange binds
    the one it presents (how the sandbox accepts a hubcourse configured with any app).
    """
    client_id = client_id or "Iv1." + secrets.token_hex(8)
    if secret_on_first_use:
        client_secret = ""
    else:
        client_secret = client_secret or secrets.token_hex(20)
    app = {
        "client_id": client_id,
        "client_secret": client_secret,
        "name": name,
        "callback_url": callback_url,
        "created_at": world.now(),
    }
    with world.lock:
        world.github["oauth_apps"][client_id] = app
        world.count("github.oauth_apps")
    world.save()
    return dict(app)


# -- repositories --------------------------------------------------------------------------


def get_repo(world: World, full_name: str) -> dict[str, Any] | None:
    repo: dict[str, Any] | None = world.github["repos"].get(full_name.lower())
    return repo


def _new_secret_key(world: World) -> dict[str, str]:
    private = PrivateKey.generate()
    return {
        # Real key ids are long decimal strings.
        "key_id": str(world.random.randrange(10**17, 10**18)),
        "public": base64.b64encode(bytes(private.public_key)).decode(),
        "private": base64.b64encode(bytes(private)).decode(),
    }


def create_repo(
    world: World,
    owner: str,
    name: str,
    files: dict[str, str] | None = None,
    private: bool = False,
    default_branch: str = "main",
    description: str | None = None,
) -> dict[str, Any]:
    """Create ``owner/name``; with files, the default branch gets an initial commit.

    Returns ``{"id", "full_name", "owner", "name", "private", "default_branch", "sha"}``
    (``sha`` is None for an empty repository).
    """
    if not REPO_NAME_RE.match(name or "") or name in (".", ".."):
        raise GitHubStateError("name is invalid: only ASCII letters, digits, '.', '-' and '_'")
    if not BRANCH_RE.match(default_branch):
        raise GitHubStateError(f"default_branch {default_branch!r} is not a valid branch name")
    with world.lock:
        user = get_user(world, owner)
        if user is None:
            raise GitHubStateError(f"Owner {owner} does not exist", status=404)
        full_name = f"{user['login']}/{name}"
        if full_name.lower() in world.github["repos"]:
            raise GitHubStateError("name already exists on this account")
        number = world.next_int("github.repo")
        now = world.now()
        repo: dict[str, Any] = {
            "id": number,
            "node_id": node_id("Repository", number),
            "name": name,
            "owner": user["login"],
            "private": bool(private),
            "description": description,
            "default_branch": default_branch,
            "created_at": now,
            "updated_at": now,
            "pushed_at": now,
            "branches": {},
            "commits": {},
            "blobs": {},
            "hooks": {},
            "secrets": {},
            "variables": {},
            "secret_key": _new_secret_key(world),
            "workflows": {},
            "runs": {},
            "jobs": {},
        }
        world.github["repos"][full_name.lower()] = repo
        world.github.setdefault("renamed", {}).pop(full_name.lower(), None)
        world.count("github.repos")
        sha = None
        if files:
            sha = _commit(world, repo, default_branch, files, "Initial commit", user["login"])
    world.save()
    return {
        "id": number,
        "full_name": full_name,
        "owner": user["login"],
        "name": name,
        "private": bool(private),
        "default_branch": default_branch,
        "sha": sha,
    }


def repo_by_id(world: World, repo_id: int) -> dict[str, Any] | None:
    with world.lock:
        for repo in world.github["repos"].values():
            if repo["id"] == repo_id:
                found: dict[str, Any] = repo
                return found
    return None


def renamed_to(world: World, full_name: str) -> dict[str, Any] | None:
    """The repository once called ``full_name`` that now has another name, if any."""
    repo_id = world.github.setdefault("renamed", {}).get(full_name.lower())
    return repo_by_id(world, repo_id) if repo_id is not None else None


def rename_repo(
    world: World, full_name: str, new_name: str, *, sender: str | None = None
) -> dict[str, Any]:
    """Rename a repository; the old name keeps redirecting to it (until reused).

    Emits ``github.repository`` (action ``renamed``) for the app webhooks.
    """
    if not REPO_NAME_RE.match(new_name or "") or new_name in (".", ".."):
        raise GitHubStateError("name is invalid: only ASCII letters, digits, '.', '-' and '_'")
    with world.lock:
        repo = get_repo(world, full_name)
        if repo is None:
            raise GitHubStateError("Not Found", status=404)
        old = full_name_of(repo)
        new = f"{repo['owner']}/{new_name}"
        if new.lower() != old.lower() and new.lower() in world.github["repos"]:
            raise GitHubStateError("name already exists on this account")
        del world.github["repos"][old.lower()]
        repo["name"] = new_name
        repo["updated_at"] = world.now()
        world.github["repos"][new.lower()] = repo
        renamed = world.github.setdefault("renamed", {})
        renamed.pop(new.lower(), None)
        if old.lower() != new.lower():
            renamed[old.lower()] = repo["id"]
    world.save()
    old_name = old.split("/", 1)[1]
    if old_name != new_name:
        world.emit(
            "github.repository",
            repo=repo,
            action="renamed",
            sender=sender or repo["owner"],
            changes={"repository": {"name": {"from": old_name}}},
        )
    return repo


def set_visibility(
    world: World, repo: dict[str, Any], *, private: bool, sender: str | None = None
) -> None:
    """Make a repository private or public (``privatized``/``publicized`` events)."""
    with world.lock:
        if repo["private"] == private:
            return
        repo["private"] = private
        repo["updated_at"] = world.now()
    world.save()
    world.emit(
        "github.repository",
        repo=repo,
        action="privatized" if private else "publicized",
        sender=sender or repo["owner"],
    )


def transfer_repo(
    world: World, full_name: str, new_owner: str, *, sender: str | None = None
) -> dict[str, Any]:
    """Give a repository to another account; the old name redirects, as on GitHub.

    Installations of the former owner lose it (``transferred`` is sent to them first).
    """
    with world.lock:
        repo = get_repo(world, full_name)
        target = get_user(world, new_owner)
        if repo is None or target is None:
            raise GitHubStateError("Not Found", status=404)
        old = full_name_of(repo)
        new = f"{target['login']}/{repo['name']}"
        if new.lower() in world.github["repos"]:
            raise GitHubStateError(f"{target['login']} already has a repository {repo['name']}")
        former = world.github["users"][repo["owner"].lower()]
        del world.github["repos"][old.lower()]
        repo["owner"] = target["login"]
        repo["updated_at"] = world.now()
        world.github["repos"][new.lower()] = repo
        world.github.setdefault("renamed", {})[old.lower()] = repo["id"]
    world.save()
    world.emit(
        "github.repository",
        repo=repo,
        action="transferred",
        sender=sender or former["login"],
        changes={
            "owner": {
                "from": {
                    "user" if former.get("type", "User") != "Organization" else "organization": {
                        key: former[key] for key in ("login", "id", "node_id")
                    }
                }
            }
        },
        former_owner=former["login"],
    )
    return repo


def delete_repo(world: World, full_name: str, *, sender: str | None = None) -> None:
    """Delete a repository (its old names stop redirecting); ``deleted`` is sent."""
    with world.lock:
        repo = get_repo(world, full_name)
        if repo is None:
            raise GitHubStateError("Not Found", status=404)
        del world.github["repos"][full_name_of(repo).lower()]
        renamed = world.github.setdefault("renamed", {})
        for old in [name for name, repo_id in renamed.items() if repo_id == repo["id"]]:
            del renamed[old]
    world.save()
    world.emit("github.repository", repo=repo, action="deleted", sender=sender or repo["owner"])


def create_org(
    world: World, login: str, admins: list[str], members: list[str] | None = None
) -> dict[str, Any]:
    """A GitHub organisation: an account (type ``Organization``) with admins and members.

    Admins administer every repository the organisation owns (the sandbox has no teams).
    """
    if not LOGIN_RE.match(login or ""):
        raise GitHubStateError("Login may only contain alphanumeric characters or single hyphens")
    with world.lock:
        if login.lower() in world.github["users"]:
            raise GitHubStateError(f"Login {login} is already taken")
        for name in [*admins, *(members or [])]:
            if get_user(world, name) is None:
                raise GitHubStateError(f"no GitHub user {name}", status=404)
        number = world.next_int("github.user")
        now = world.now()
        org = {
            "id": number,
            "node_id": node_id("Organization", number),
            "login": login,
            "name": login,
            "email": None,
            "type": "Organization",
            "created_at": now,
            "updated_at": now,
            "emails": [],
            "admins": sorted({name.lower() for name in admins}),
            "members": sorted({name.lower() for name in [*admins, *(members or [])]}),
        }
        world.github["users"][login.lower()] = org
        world.count("github.orgs")
    world.save()
    return org


def administers(world: World, login: str, owner: str) -> bool:
    """Whether ``login`` administers the repositories of account ``owner`` (is it, or an
    admin of the organisation it is)."""
    if login.lower() == owner.lower():
        return True
    account = get_user(world, owner)
    return bool(
        account is not None
        and account.get("type") == "Organization"
        and login.lower() in account.get("admins", [])
    )


def full_name_of(repo: dict[str, Any]) -> str:
    return f"{repo['owner']}/{repo['name']}"


def resolve_ref(repo: dict[str, Any], ref: str | None) -> str | None:
    """A commit SHA for a branch name, ``refs/heads/x``, a full or abbreviated SHA, or None."""
    if not ref:
        ref = repo["default_branch"]
    if ref.startswith("refs/heads/"):
        ref = ref[len("refs/heads/") :]
    if ref in repo["branches"]:
        sha: str = repo["branches"][ref]
        return sha
    if re.fullmatch(r"[0-9a-f]{7,40}", ref):
        matches: list[str] = [sha for sha in repo["commits"] if sha.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
    return None


def read_tree(world: World, full_name: str, ref: str | None) -> dict[str, str] | None:
    """Every file (path -> text) at ``ref``; None when the repository or ref is unknown."""
    with world.lock:
        repo = get_repo(world, full_name)
        if repo is None:
            return None
        sha = resolve_ref(repo, ref)
        if sha is None:
            return None
        tree = repo["commits"][sha]["tree"]
        return {path: repo["blobs"][blob] for path, blob in tree.items()}


def _commit(
    world: World,
    repo: dict[str, Any],
    branch: str,
    files: Mapping[str, str | None],
    message: str,
    pusher: str,
) -> str:
    """Write one commit on ``branch`` (created from the default branch when new). Lock held."""
    parent = repo["branches"].get(branch)
    if parent is None and repo["branches"]:
        parent = repo["branches"].get(repo["default_branch"])
    tree: dict[str, str] = dict(repo["commits"][parent]["tree"]) if parent else {}
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []
    for raw_path, content in files.items():
        path = raw_path.strip("/")
        if content is None:
            if path in tree:
                del tree[path]
                removed.append(path)
            continue
        sha = blob_sha(content)
        repo["blobs"][sha] = content
        if path not in tree:
            added.append(path)
        elif tree[path] != sha:
            modified.append(path)
        tree[path] = sha
    user = world.github["users"].get(pusher.lower(), {})
    now = world.now()
    tree_sha = _tree_sha(tree)
    parents = [parent] if parent else []
    sha = _commit_sha(tree_sha, parents, message, pusher, now)
    person = {
        "name": user.get("name") or pusher,
        "email": user.get("email") or f"{pusher}@users.noreply.github.com",
        "login": user.get("login", pusher),
        "date": now,
    }
    repo["commits"][sha] = {
        "sha": sha,
        "tree_sha": tree_sha,
        "tree": tree,
        "parents": parents,
        "message": message,
        "author": person,
        "committer": person,
        "added": added,
        "removed": removed,
        "modified": modified,
    }
    repo["branches"][branch] = sha
    repo["pushed_at"] = now
    repo["updated_at"] = now
    world.count("github.commits")
    return sha


def push(
    world: World,
    full_name: str,
    branch: str,
    files: Mapping[str, str | None],
    message: str,
    pusher: str,
) -> str:
    """Commit ``files`` (None deletes a path) on ``branch`` and announce it like a git push.

    Fires the repository's push webhooks and emits ``github.push`` (builds, Actions runs).
    Returns the new commit SHA.
    """
    if not BRANCH_RE.match(branch or ""):
        raise GitHubStateError(f"{branch!r} is not a valid branch name")
    if not message:
        raise GitHubStateError("message is required")
    with world.lock:
        repo = get_repo(world, full_name)
        if repo is None:
            raise GitHubStateError("Not Found", status=404)
        before = repo["branches"].get(branch)
        sha = _commit(world, repo, branch, files, message, pusher)
        name = full_name_of(repo)
        deliver_push_hooks(world, repo, branch, before, sha, pusher)
    world.save()
    world.emit(
        "github.push",
        full_name=name,
        branch=branch,
        sha=sha,
        before=before or "0" * 40,
        pusher=pusher,
        message=message,
    )
    return sha


# -- webhooks ------------------------------------------------------------------------------


def base_url(world: World) -> str:
    """The sandbox's public base URL for links in payloads built outside a request."""
    from flask import has_request_context, request

    if world.config.public_url:
        return world.config.public_url.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return f"http://{world.config.host}:{world.config.port}"


def sign(secret: str, body: bytes) -> tuple[str, str]:
    """The ``X-Hub-Signature`` (SHA-1) and ``X-Hub-Signature-256`` header values."""
    key = secret.encode()
    sha1 = hmac.new(key, body, hashlib.sha1).hexdigest()
    sha256 = hmac.new(key, body, hashlib.sha256).hexdigest()
    return f"sha1={sha1}", f"sha256={sha256}"


def send_hook(
    world: World, repo: dict[str, Any], hook: dict[str, Any], event: str, payload: dict[str, Any]
) -> str:
    """Deliver one event to one hook, encoded and signed as GitHub does; returns delivery id."""
    config = hook["config"]
    text = json.dumps(payload, separators=(",", ":"))
    if config.get("content_type") == "form":
        body = urllib.parse.urlencode({"payload": text}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body = text.encode()
        content_type = "application/json"
    guid = str(uuid.uuid4())
    headers = {
        "Accept": "*/*",
        "Content-Type": content_type,
        "User-Agent": f"GitHub-Hookshot/{HOOKSHOT_VERSION}",
        "X-GitHub-Delivery": guid,
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook["id"]),
        "X-GitHub-Hook-Installation-Target-ID": str(repo["id"]),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }
    if config.get("secret"):
        headers["X-Hub-Signature"], headers["X-Hub-Signature-256"] = sign(config["secret"], body)
    delivery_id = world.deliver_webhook(config["url"], body, headers, service="github")
    with world.lock:
        hook.setdefault("deliveries", []).append({"id": delivery_id, "guid": guid, "event": event})
        del hook["deliveries"][:-20]
    return delivery_id


def deliver_push_hooks(
    world: World,
    repo: dict[str, Any],
    branch: str,
    before: str | None,
    after: str,
    pusher: str,
) -> None:
    hooks = [
        hook
        for hook in repo["hooks"].values()
        if hook["active"] and ("push" in hook["events"] or "*" in hook["events"])
    ]
    if not hooks:
        return
    urls = github_json.Urls(base_url(world), api_prefix="/api/v3")
    payload = github_json.push_payload(world, urls, repo, branch, before, after, pusher)
    for hook in hooks:
        send_hook(world, repo, hook, "push", payload)
