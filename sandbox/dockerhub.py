"""Docker Hub: state, accounts, auth, organisation members, invites and teams.

Repositories, tags, audit logs and webhooks are in ``dockerhub_repos``; automated builds in
``autobuild``. All routes hang on ``dockerhub_common.bp``; this module is the one the app and the
GitHub side import (``verify_login``, ``push_tag``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from typing import Any

from flask import Response, jsonify, request

from sandbox import dockerhub_common as common
from sandbox.dockerhub_common import (
    DOCKER_ID_RE,
    EMAIL_RE,
    HubError,
    Identity,
    bp,
    get_org,
    hub,
    json_body,
    paginate,
    require_auth,
    require_org_member,
    require_org_owner,
    require_str,
    value_error,
    world,
)
from sandbox.world import World

__all__ = ["bp", "empty_state", "login", "may_push", "push_tag", "verify_login"]

INVITE_TTL_S = 14 * 24 * 3600  # "The email link expires after 14 days" (notes §4)
BULK_INVITE_MAX = 1000  # the UI's limit; the API's is undocumented (notes §4)


def empty_state() -> dict[str, Any]:
    return {
        "users": {},  # username -> user (with "password" and "pats")
        "orgs": {},  # orgname -> org (members, groups, invites, access_tokens)
        "repos": {},  # "namespace/name" -> repository (tags, group permissions, webhooks)
        "auditlogs": {},  # account -> [log entry], newest last
        "builds": {"sources": {}, "settings": {}, "actions": {}},  # see autobuild
    }


# -- accounts (used by the control API and the seeds) -------------------------------------


def _trimmed_uuid(w: World) -> str:
    return w.new_id().replace("-", "")


def create_user(
    w: World, username: str, password: str, email: str | None = None, full_name: str = ""
) -> dict[str, Any]:
    username = username.lower()
    if not DOCKER_ID_RE.match(username):
        raise ValueError("a Docker ID has 4 to 30 lowercase letters and digits")
    with w.lock:
        state = w.dockerhub
        if username in state["users"] or username in state["orgs"]:
            raise ValueError(f"the Docker ID {username} is taken")
        user = {
            "id": _trimmed_uuid(w),
            "username": username,
            "full_name": full_name,
            "email": email or f"{username}@example.com",
            "password": password,
            "company": "",
            "location": "",
            "date_joined": w.now(),
            "pats": {},
            # The GitHub account linked in Docker Hub's settings (automated builds go through it).
            "linked_github_login": None,
        }
        state["users"][username] = user
    w.count("dockerhub.user")
    w.save()
    return user


def create_pat(
    w: World, username: str, label: str, scopes: list[str] | None = None, token: str | None = None
) -> str:
    """A personal access token (``dckr_pat_…``) for ``username``; returns the secret.

    ``token`` fixes the secret (the demo seed's stable credentials); by default it is random.
    """
    token = token or "dckr_pat_" + secrets.token_urlsafe(27)
    with w.lock:
        user = w.dockerhub["users"][username]
        pat_id = w.new_id()
        user["pats"][pat_id] = {
            "uuid": pat_id,
            "token": token,
            "token_label": label,
            "scopes": scopes or ["repo:admin"],
            "is_active": True,
            "created_at": w.now(),
        }
    w.count("dockerhub.pat")
    w.save()
    return token


def create_org(w: World, orgname: str, owner: str, full_name: str = "") -> dict[str, Any]:
    """An organisation owned by ``owner``, with the ``owners`` team Docker Hub always creates."""
    key = orgname.lower()
    if not DOCKER_ID_RE.match(key):
        raise ValueError("an organisation name has 4 to 30 lowercase letters and digits")
    with w.lock:
        state = w.dockerhub
        if key in state["orgs"] or key in state["users"]:
            raise ValueError(f"the namespace {key} is taken")
        if owner not in state["users"]:
            raise ValueError(f"no Docker ID {owner}")
        org = {
            "id": _trimmed_uuid(w),
            # The display name keeps its case (e.g. "Revelare"); paths use it case-insensitively.
            "orgname": key,
            "full_name": full_name or orgname,
            "company": "",
            "location": "",
            "date_joined": w.now(),
            "members": {owner: {"role": "owner", "joined": w.now()}},
            "groups": {},
            "invites": {},
            "access_tokens": {},
        }
        state["orgs"][key] = org
        _new_group(w, org, "owners", "Organization owners")["members"].append(owner)
    w.count("dockerhub.org")
    w.save()
    return org


def create_org_token(
    w: World,
    orgname: str,
    label: str = "hubcourse",
    expires_at: float | None = None,
    token: str | None = None,
) -> str:
    """An organisation access token (``dckr_oat_…``); returns the secret (random unless given)."""
    token = token or "dckr_oat_" + secrets.token_urlsafe(27)
    with w.lock:
        org = w.dockerhub["orgs"][orgname.lower()]
        token_id = w.new_id()
        org["access_tokens"][token_id] = {
            "id": token_id,
            "label": label,
            "token": token,
            "is_active": True,
            "created_at": w.now(),
            "expires_at": expires_at,
        }
    w.count("dockerhub.oat")
    w.save()
    return token


def verify_login(w: World, identifier: str, secret: str) -> bool:
    """Would Docker Hub accept these credentials (``docker login`` / ``docker/login-action``)?"""
    return _authenticate(w, identifier, secret) is not None


def login(w: World, identifier: str, secret: str) -> Identity | None:
    """Who ``docker login`` with these credentials is (None when refused).

    An organisation access token scoped to one repository logs in too: the registry checks
    its scopes when it pushes (``may_push``).
    """
    return _authenticate(w, identifier, secret)


def may_push(w: World, identity: Identity, namespace: str, name: str) -> bool:
    """May this login push to ``namespace/name``?

    A Docker ID pushes to its own namespace and its organisations'; an organisation access
    token to its organisation, or, when scoped, only to the repositories it names with an
    image push scope.
    """
    namespace = namespace.lower()
    with w.lock:
        org = w.dockerhub["orgs"].get(namespace)
        if identity.kind == "user":
            return identity.name == namespace or (
                org is not None and identity.name in org["members"]
            )
        if org is None or identity.name != namespace:
            return False
        token = common.org_token(identity, org)
        if token is None:
            return False
        if not common.token_is_scoped(token):
            return True
        scopes = common.token_repo_scopes(token, f"{namespace}/{name.lower()}")
        return bool(scopes & common.OAT_PUSH_SCOPES)


def _authenticate(w: World, identifier: str, secret: str) -> Identity | None:
    name = identifier.lower()
    with w.lock:
        state = w.dockerhub
        user = state["users"].get(name)
        if user is not None:
            if secrets.compare_digest(user["password"], secret):
                return Identity("user", name, "pwd")
            for pat in user["pats"].values():
                if pat["is_active"] and secrets.compare_digest(pat["token"], secret):
                    return Identity("user", name, "pat", pat["uuid"])
            return None
        org = state["orgs"].get(name)
        if org is not None:
            for oat in org["access_tokens"].values():
                if oat["is_active"] and secrets.compare_digest(oat["token"], secret):
                    if oat.get("expires_at") is not None and oat["expires_at"] <= w.now():
                        return None
                    oat["last_used_at"] = w.now()
                    return Identity("org", name, "oat", oat["id"])
    return None


def accept_invite(w: World, invite_id: str) -> dict[str, Any]:
    """The invitee clicks the emailed link: they become a member (and join the invite's team)."""
    with w.lock:
        for org in w.dockerhub["orgs"].values():
            invite: dict[str, Any] | None = org["invites"].get(invite_id)
            if invite is None:
                continue
            if invite["status"] != "pending" or _invite_expired(w, invite):
                raise ValueError(f"invite {invite_id} is {invite_status(w, invite)}")
            username = _invitee_username(w, invite["invitee"])
            if username is None:
                raise ValueError(f"{invite['invitee']} has no Docker ID yet: sign up first")
            invite["status"] = "accepted"
            invite["accepted_at"] = w.now()
            _add_member(w, org, username, invite.get("role") or "member", actor=username)
            team = org["groups"].get(invite.get("team") or "")
            if team is not None and username not in team["members"]:
                team["members"].append(username)
            w.save()
            return invite
    raise KeyError(invite_id)


def _auto_accept(w: World, invite_id: str) -> None:
    """The demo's students accept by themselves; a cancelled or unknown invite stays as it is."""
    try:
        accept_invite(w, invite_id)
    except (KeyError, ValueError):
        pass


def _invitee_username(w: World, invitee: str) -> str | None:
    users = w.dockerhub["users"]
    if invitee.lower() in users:
        return invitee.lower()
    for user in users.values():
        if user["email"].lower() == invitee.lower():
            return str(user["username"])
    return None


def make_member(w: World, orgname: str, username: str, *, teams: tuple[str, ...] = ()) -> None:
    """A user who is in the organisation already (another course, added by hand), in
    ``teams`` only: a bulk invite answers them "existing_org_member" and puts them nowhere."""
    with w.lock:
        org = w.dockerhub["orgs"][orgname.lower()]
        _add_member(w, org, username.lower(), "member", actor=org["orgname"])
        for name in teams:
            group = org["groups"][name]
            if username.lower() not in group["members"]:
                group["members"].append(username.lower())
        w.save()


def _add_member(w: World, org: dict[str, Any], username: str, role: str, actor: str) -> None:
    org["members"][username] = {"role": role, "joined": w.now()}
    audit(
        w,
        org["orgname"],
        "member.add",
        org["orgname"],
        actor,
        {"member": username},
        f"added {username} to the organization",
    )


def audit(
    w: World,
    account: str,
    action: str,
    name: str,
    actor: str,
    data: dict[str, str],
    description: str,
) -> None:
    """Append an audit log event (``GET /v2/auditlogs/{account}``)."""
    with w.lock:
        w.dockerhub["auditlogs"].setdefault(account, []).append(
            {
                "account": account,
                "action": action,
                "name": name,
                "actor": actor,
                "data": data,
                "timestamp": w.now(),
                "action_description": description,
            }
        )


# -- views of stored objects ----------------------------------------------------------------


def user_view(w: World, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "uuid": user["id"],
        "username": user["username"],
        "full_name": user["full_name"],
        "location": user["location"],
        "company": user["company"],
        "profile_url": "",
        "date_joined": w.iso(user["date_joined"]),
        "gravatar_url": "",
        "gravatar_email": "",
        "type": "User",
    }


def _gravatar_free_user(w: World, user: dict[str, Any]) -> dict[str, Any]:
    view = user_view(w, user)
    view.pop("uuid")
    return view


def group_view(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": group["id"],
        "uuid": group["uuid"],
        "name": group["name"],
        "description": group["description"],
        "member_count": len(group["members"]),
    }


def invite_status(w: World, invite: dict[str, Any]) -> str:
    if invite["status"] == "pending" and _invite_expired(w, invite):
        return "expired"
    return str(invite["status"])


def _invite_expired(w: World, invite: dict[str, Any]) -> bool:
    return bool(invite["sent_at"] + INVITE_TTL_S <= w.now())


def invite_view(w: World, invite: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": invite["id"],
        "inviter_username": invite["inviter_username"],
        "invitee": invite["invitee"],
        "org": invite["org"],
        "team": invite["team"],
        "role": invite["role"],
        "created_at": w.iso(invite["created_at"]),
    }


def _member_view(w: World, org: dict[str, Any], username: str) -> dict[str, Any]:
    user = w.dockerhub["users"][username]
    view = _gravatar_free_user(w, user)
    view.update(
        {
            "email": user["email"],
            "role": common.ROLE_NAMES[org["members"][username]["role"]],
            "groups": sorted(g["name"] for g in org["groups"].values() if username in g["members"]),
            "is_guest": False,
            "primary_email": user["email"],
        }
    )
    return view


def _invitee_view(w: World, invite: dict[str, Any]) -> dict[str, Any]:
    username = _invitee_username(w, invite["invitee"])
    if username is not None:
        view = _gravatar_free_user(w, w.dockerhub["users"][username])
        email = w.dockerhub["users"][username]["email"]
    else:
        view = {
            "id": "",
            "username": "",
            "full_name": "",
            "location": "",
            "company": "",
            "profile_url": "",
            "date_joined": w.iso(invite["created_at"]),
            "gravatar_url": "",
            "gravatar_email": "",
            "type": "User",
        }
        email = invite["invitee"]
    view.update(
        {"email": email, "role": "Invitee", "groups": [], "is_guest": False, "primary_email": email}
    )
    return view


def _new_group(w: World, org: dict[str, Any], name: str, description: str) -> dict[str, Any]:
    group = {
        "id": w.next_int("dockerhub.group", start=10000),
        "uuid": w.new_id(),
        "name": name,
        "description": description,
        "members": [],
    }
    org["groups"][name] = group
    w.count("dockerhub.group")
    return group


def group_by_id(org: dict[str, Any], group_id: int) -> dict[str, Any] | None:
    groups: dict[str, dict[str, Any]] = org["groups"]
    return next((g for g in groups.values() if g["id"] == group_id), None)


def team_grants(w: World, namespace: str, name: str) -> dict[str, str]:
    """Team name -> permission on a repository, read from the world (for tests: hubcourse
    itself reads one team at a time, the route that lists them all being unconfirmed)."""
    with w.lock:
        repo = w.dockerhub["repos"].get(f"{namespace.lower()}/{name.lower()}")
        org = w.dockerhub["orgs"].get(namespace.lower())
        if repo is None or org is None:
            return {}
        grants = {}
        for group_id, permission in repo["groups"].items():
            group = group_by_id(org, int(group_id))
            if group is not None:
                grants[str(group["name"])] = str(permission)
        return grants


# -- auth routes ----------------------------------------------------------------------------


@bp.post("/v2/auth/token")
def auth_token() -> Response:
    data = json_body()
    identifier = data.get("identifier")
    secret = data.get("secret")
    if (
        not isinstance(identifier, str)
        or not isinstance(secret, str)
        or not identifier
        or not secret
    ):
        raise HubError(400, "identifier and secret are required", message="invalid request")
    w = world()
    identity = _authenticate(w, identifier, secret)
    if identity is None:
        raise HubError(
            401, "Incorrect authentication credentials", message="incorrect username or password"
        )
    return jsonify({"access_token": common.issue_jwt(w, identity)})


@bp.post("/v2/users/login")
def users_login() -> Response:
    # Deprecated, still used by older clients and the build API's JWT scheme (notes §3).
    data = json_body()
    username = data.get("username")
    password = data.get("password")
    if (
        not isinstance(username, str)
        or not isinstance(password, str)
        or not username
        or not password
    ):
        raise HubError(
            401,
            "Incorrect authentication credentials",
            body={"detail": "Incorrect authentication credentials"},
        )
    w = world()
    identity = _authenticate(w, username, password)
    if identity is None or identity.kind != "user":
        raise HubError(
            401,
            "Incorrect authentication credentials",
            body={"detail": "Incorrect authentication credentials"},
        )
    return jsonify({"token": common.issue_jwt(w, identity)})


@bp.get("/v2/users/<username>")
def get_user(username: str) -> Response:
    # Undocumented but relied on everywhere: does this Docker ID exist? No auth (notes §9).
    w = world()
    with w.lock:
        user = hub()["users"].get(username.lower())
        if user is not None:
            return jsonify(user_view(w, user))
        org = hub()["orgs"].get(username.lower())
        if org is not None:
            return jsonify(
                {
                    "id": org["id"],
                    "uuid": org["id"],
                    "username": org["orgname"],
                    "full_name": org["full_name"],
                    "location": "",
                    "company": "",
                    "profile_url": "",
                    "date_joined": w.iso(org["date_joined"]),
                    "gravatar_url": "",
                    "gravatar_email": "",
                    "type": "Organization",
                }
            )
    raise HubError(404, "Not Found", body={"message": "User not found", "errinfo": {}})


@bp.get("/v2/user")
def get_current_user() -> Response:
    identity = require_auth()
    if identity.kind != "user":
        raise HubError(403, "An organization access token has no user.", message="forbidden")
    w = world()
    with w.lock:
        return jsonify(user_view(w, hub()["users"][identity.name]))


@bp.get("/v2/orgs/<org_name>")
def get_org_route(org_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        return jsonify(
            {
                "id": org["id"],
                "orgname": org["orgname"],
                "full_name": org["full_name"],
                "location": org["location"],
                "company": org["company"],
                "date_joined": w.iso(org["date_joined"]),
            }
        )


# -- members ---------------------------------------------------------------------------------


def _bool_arg(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


@bp.get("/v2/orgs/<org_name>/members")
def list_members(org_name: str) -> Response:
    identity = require_auth()
    w = world()
    member_type = request.args.get("type") or ("all" if _bool_arg("invites") else "member")
    if member_type not in ("all", "invitee", "member"):
        raise value_error("type", "Must be one of: all, invitee, member.")
    role = request.args.get("role")
    if role is not None and role not in common.ROLE_NAMES:
        raise value_error("role", "Must be one of: owner, editor, member.")
    search = (request.args.get("search") or "").lower()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        rows: list[dict[str, Any]] = []
        if member_type in ("all", "member"):
            for username in sorted(org["members"]):
                if role and org["members"][username]["role"] != role:
                    continue
                rows.append(_member_view(w, org, username))
        if member_type in ("all", "invitee") and not role:
            for invite in sorted(org["invites"].values(), key=lambda i: i["created_at"]):
                if invite_status(w, invite) == "pending":
                    rows.append(_invitee_view(w, invite))
        if search:
            rows = [
                r
                for r in rows
                if any(
                    search in str(r.get(k, "")).lower() for k in ("username", "full_name", "email")
                )
            ]
        # The spec calls this an array of pages; real clients decode one page (notes §1, bug 5).
        return jsonify(paginate(rows))


@bp.get("/v2/orgs/<org_name>/members/export")
def export_members(org_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Name", "Username", "Email", "Type", "Permission", "Teams", "Date Joined"])
        for username in sorted(org["members"]):
            view = _member_view(w, org, username)
            writer.writerow(
                [
                    view["full_name"],
                    username,
                    view["email"],
                    "User",
                    view["role"],
                    ",".join(view["groups"]),
                    view["date_joined"],
                ]
            )
        for invite in org["invites"].values():
            if invite_status(w, invite) == "pending":
                writer.writerow(
                    [
                        "",
                        "",
                        invite["invitee"],
                        "Invitee",
                        "Member",
                        invite["team"] or "",
                        w.iso(invite["created_at"]),
                    ]
                )
    stamp = int(w.now())
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment;filename="{org["orgname"]}-members-{stamp}.csv"'
        },
    )


@bp.put("/v2/orgs/<org_name>/members/<username>")
def update_member_role(org_name: str, username: str) -> Response:
    identity = require_auth()
    data = json_body()
    role = data.get("role")
    if role not in common.ROLE_NAMES:
        raise value_error("role", "Must be one of: owner, editor, member.", "invalid role")
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        member = org["members"].get(username.lower())
        if member is None:
            raise common.not_found("member not found")
        if member["role"] == "owner" and role != "owner" and _owner_count(org) == 1:
            raise HubError(
                400, "An organization must have at least one owner.", message="bad request"
            )
        member["role"] = role
        owners = org["groups"].get("owners")
        if owners is not None:
            if role == "owner" and username.lower() not in owners["members"]:
                owners["members"].append(username.lower())
            if role != "owner" and username.lower() in owners["members"]:
                owners["members"].remove(username.lower())
        audit(
            w,
            org["orgname"],
            "member.role.change",
            org["orgname"],
            identity.actor,
            {"member": username.lower(), "role": role},
            f"changed the role of {username.lower()} to {role}",
        )
        return jsonify(_member_view(w, org, username.lower()))


def _owner_count(org: dict[str, Any]) -> int:
    return sum(1 for m in org["members"].values() if m["role"] == "owner")


@bp.delete("/v2/orgs/<org_name>/members/<username>")
def remove_member(org_name: str, username: str) -> Response:
    identity = require_auth()
    w = world()
    name = username.lower()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        member = org["members"].get(name)
        if member is None:
            raise common.not_found("member not found")
        if member["role"] == "owner" and _owner_count(org) == 1:
            raise HubError(
                400, "Cannot remove the last owner of the organization.", message="bad request"
            )
        del org["members"][name]
        for group in org["groups"].values():
            if name in group["members"]:
                group["members"].remove(name)
        audit(
            w,
            org["orgname"],
            "member.remove",
            org["orgname"],
            identity.actor,
            {"member": name},
            f"removed {name} from the organization",
        )
    return Response(status=204)


# -- invites ---------------------------------------------------------------------------------


@bp.get("/v2/orgs/<org_name>/invites")
def list_invites(org_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        pending = [i for i in org["invites"].values() if invite_status(w, i) == "pending"]
        pending.sort(key=lambda i: i["created_at"])
        return jsonify({"data": [invite_view(w, i) for i in pending]})


# The per-invitee status of an invitation refused for lack of seats: UNCONFIRMED (see above).
SEAT_LIMIT_STATUS = "seat_limit_exceeded"


@bp.post("/v2/invites/bulk")
def bulk_invite() -> Response:
    identity = require_auth()
    data = json_body()
    org_name = require_str(data, "org")
    invitees = data.get("invitees")
    if (
        not isinstance(invitees, list)
        or not invitees
        or not all(isinstance(i, str) for i in invitees)
    ):
        raise HubError(
            400,
            "invitees: a non-empty list of Docker IDs or emails is required",
            message="bad request",
        )
    if len(invitees) > BULK_INVITE_MAX:
        raise HubError(
            400, f"invitees: at most {BULK_INVITE_MAX} per request", message="bad request"
        )
    role = data.get("role") or "member"
    if role not in common.ROLE_NAMES:
        raise HubError(400, "role: must be one of owner, editor, member", message="bad request")
    team = data.get("team") or None
    dry_run = bool(data.get("dry_run", False))
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        if team is not None and team not in org["groups"]:
            raise HubError(400, f"team {team} does not exist", message="bad request")
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        # Every member and pending invitation holds a paid seat. The plan's seats (set on the
        # control page; none: unlimited) refuse the invitees beyond them, one by one, in the
        # 202 answer. UNCONFIRMED: Docker documents neither the refusal's status nor its
        # body; "seat_limit_exceeded" is the sandbox's choice (tests/fidelity/STATUSES.md).
        seat_limit: int | None = org.get("seats")
        seats_used = len(org["members"]) + sum(
            1 for i in org["invites"].values() if invite_status(w, i) == "pending"
        )
        if seat_limit is not None and w.config.seat_refusal_whole_request:
            wanted = _new_invitees(w, org, invitees)
            if seats_used + wanted > seat_limit:
                detail = (
                    f"seat limit exceeded: {org['orgname']} has "
                    f"{max(seat_limit - seats_used, 0)} free seat(s) for {wanted} invitee(s)"
                )
                raise HubError(403, detail, message=detail)
        for raw in invitees:
            invitee = raw.strip()
            key = invitee.lower()
            username = _invitee_username(w, invitee)
            if not (DOCKER_ID_RE.match(key) and key in hub()["users"]) and not EMAIL_RE.match(
                invitee
            ):
                results.append({"invitee": invitee, "status": "invalid_email_or_docker_id"})
                continue
            if username is not None and username in org["members"]:
                results.append({"invitee": invitee, "status": "existing_org_member"})
                continue
            existing = _pending_invite(w, org, invitee, username)
            if existing is not None or key in seen:
                # Re-inviting refreshes nothing and makes no second invite (idempotent for clients).
                entry: dict[str, Any] = {"invitee": invitee, "status": "invited"}
                if existing is not None:
                    entry["invite"] = invite_view(w, existing)
                results.append(entry)
                continue
            if seat_limit is not None and seats_used >= seat_limit:
                results.append({"invitee": invitee, "status": SEAT_LIMIT_STATUS})
                continue
            seats_used += 1
            seen.add(key)
            invite = {
                "id": w.new_id(),
                "inviter_username": identity.actor,
                "invitee": username or invitee,
                "org": org["orgname"],
                "team": team or "",
                "role": role,
                "created_at": w.now(),
                "sent_at": w.now(),
                "status": "pending",
            }
            if not dry_run:
                org["invites"][invite["id"]] = invite
                w.count("dockerhub.invite")
                if w.config.auto_accept_invites > 0:
                    w.schedule(w.config.auto_accept_invites, _auto_accept, w, invite["id"])
                audit(
                    w,
                    org["orgname"],
                    "member.invite.send",
                    org["orgname"],
                    identity.actor,
                    {"invitee": invite["invitee"]},
                    f"invited {invite['invitee']} to the organization",
                )
            results.append(
                {"invitee": invitee, "status": "invited", "invite": invite_view(w, invite)}
            )
    # The body is {"invitees": [...]}, not the spec's doubly nested form (notes §1, bug 6).
    response = jsonify({"invitees": results})
    response.status_code = 202
    return response


def _new_invitees(w: World, org: dict[str, Any], invitees: list[str]) -> int:
    """How many of ``invitees`` a bulk invite would invite afresh (each takes a seat)."""
    fresh: set[str] = set()
    for raw in invitees:
        invitee = raw.strip()
        key = invitee.lower()
        username = _invitee_username(w, invitee)
        valid = (DOCKER_ID_RE.match(key) and key in hub()["users"]) or EMAIL_RE.match(invitee)
        if not valid or (username is not None and username in org["members"]):
            continue
        if _pending_invite(w, org, invitee, username) is None:
            fresh.add(key)
    return len(fresh)


def _pending_invite(
    w: World, org: dict[str, Any], invitee: str, username: str | None
) -> dict[str, Any] | None:
    invites: dict[str, dict[str, Any]] = org["invites"]
    names = (invitee.lower(), (username or "").lower())
    return next(
        (
            i
            for i in invites.values()
            if invite_status(w, i) == "pending" and i["invitee"].lower() in names
        ),
        None,
    )


def _find_invite(invite_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for org in hub()["orgs"].values():
        invite: dict[str, Any] | None = org["invites"].get(invite_id)
        if invite is not None:
            return org, invite
    raise common.not_found("invite not found")


@bp.delete("/v2/invites/<invite_id>")
def cancel_invite(invite_id: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org, invite = _find_invite(invite_id)
        require_org_owner(identity, org)
        if invite_status(w, invite) != "pending":
            raise common.not_found("invite not found")
        invite["status"] = "cancelled"
    return Response(status=204)


@bp.patch("/v2/invites/<invite_id>/resend")
def resend_invite(invite_id: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org, invite = _find_invite(invite_id)
        require_org_owner(identity, org)
        if invite["status"] != "pending":
            raise common.not_found("invite not found")
        # A new email means a new 14-day link, expired or not.
        invite["sent_at"] = w.now()
    return Response(status=204)


# -- teams (groups) --------------------------------------------------------------------------

GROUP_NAME_MAX = 30


@bp.get("/v2/orgs/<org_name>/groups")
def list_groups(org_name: str) -> Response:
    identity = require_auth()
    w = world()
    username = (request.args.get("username") or "").lower()
    search = (request.args.get("search") or "").lower()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        groups = sorted(org["groups"].values(), key=lambda g: g["id"])
        if username:
            groups = [g for g in groups if username in g["members"]]
        if search:
            groups = [g for g in groups if search in g["name"].lower()]
        return jsonify(paginate([group_view(g) for g in groups]))


def _validate_group_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise HubError(400, "name: This field is required.", message="bad request")
    if len(name) > GROUP_NAME_MAX or not all(c.isalnum() or c in "-_" for c in name):
        raise HubError(
            400, "name: Team names are at most 30 letters, digits, - or _.", message="bad request"
        )
    return name


@bp.post("/v2/orgs/<org_name>/groups")
def create_group(org_name: str) -> Response:
    identity = require_auth()
    data = json_body()
    name = _validate_group_name(data.get("name"))
    description = data.get("description") or ""
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        if name in org["groups"]:
            raise HubError(400, f"Group {name} already exists", message="bad request")
        group = _new_group(w, org, name, str(description))
        audit(
            w,
            org["orgname"],
            "team.create",
            org["orgname"],
            identity.actor,
            {"team": name},
            f"created the team {name}",
        )
        response = jsonify(group_view(group))
    response.status_code = 201
    return response


def _get_group(org: dict[str, Any], group_name: str) -> dict[str, Any]:
    group: dict[str, Any] | None = org["groups"].get(group_name)
    if group is None:
        raise common.not_found("group not found")
    return group


@bp.get("/v2/orgs/<org_name>/groups/<group_name>")
def get_group(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        return jsonify(group_view(_get_group(org, group_name)))


@bp.route("/v2/orgs/<org_name>/groups/<group_name>", methods=["PUT", "PATCH"])
def update_group(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    data = json_body()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        group = _get_group(org, group_name)
        if request.method == "PUT" or "name" in data:
            new_name = _validate_group_name(data.get("name"))
            if new_name != group["name"]:
                if new_name in org["groups"]:
                    raise HubError(400, f"Group {new_name} already exists", message="bad request")
                del org["groups"][group["name"]]
                group["name"] = new_name
                org["groups"][new_name] = group
        if "description" in data:
            group["description"] = str(data["description"] or "")
        return jsonify(group_view(group))


@bp.delete("/v2/orgs/<org_name>/groups/<group_name>")
def delete_group(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        group = _get_group(org, group_name)
        del org["groups"][group["name"]]
        # Its repository permissions go with it.
        for repo in hub()["repos"].values():
            repo["groups"].pop(str(group["id"]), None)
    return Response(status=204)


@bp.get("/v2/orgs/<org_name>/groups/<group_name>/members")
def list_group_members(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    w = world()
    search = (request.args.get("search") or "").lower()
    with w.lock:
        org = get_org(org_name)
        require_org_member(identity, org)
        group = _get_group(org, group_name)
        rows = []
        for username in sorted(group["members"]):
            user = hub()["users"][username]
            view = _gravatar_free_user(w, user)
            view["email"] = user["email"]
            rows.append(view)
        if search:
            rows = [
                r
                for r in rows
                if any(search in str(r[k]).lower() for k in ("username", "full_name", "email"))
            ]
        return jsonify(paginate(rows))


@bp.post("/v2/orgs/<org_name>/groups/<group_name>/members")
def add_group_member(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    data = json_body()
    member = require_str(data, "member").lower()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        group = _get_group(org, group_name)
        if member not in hub()["users"]:
            raise common.not_found("user not found")
        if member not in org["members"]:
            # "an invitee must accept before being added to a team" (notes §4).
            raise common.not_found(f"{member} is not a member of the organization")
        if member not in group["members"]:
            group["members"].append(member)
            audit(
                w,
                org["orgname"],
                "team.member.add",
                member,
                identity.actor,
                {"team": group["name"]},
                f"added {member} to the team {group['name']}",
            )
    return Response(status=200)


@bp.delete("/v2/orgs/<org_name>/groups/<group_name>/members/<username>")
def remove_group_member(org_name: str, group_name: str, username: str) -> Response:
    identity = require_auth()
    name = username.lower()
    w = world()
    with w.lock:
        org = get_org(org_name)
        require_org_owner(identity, org)
        group = _get_group(org, group_name)
        if name not in group["members"]:
            raise common.not_found("member not found")
        if group["name"] == "owners" and len(group["members"]) == 1:
            raise HubError(
                400, "Cannot remove the last owner of the organization.", message="bad request"
            )
        group["members"].remove(name)
        audit(
            w,
            org["orgname"],
            "team.member.remove",
            name,
            identity.actor,
            {"team": group["name"]},
            f"removed {name} from the team {group['name']}",
        )
    return Response(status=204)


def digest_of(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


# Imported last: the repository routes register on the same blueprint and use the helpers above.
from sandbox.dockerhub_repos import push_tag  # noqa: E402
