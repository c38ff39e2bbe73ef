"""The sandbox's own control API (JSON, under ``/_sandbox/``) and its HTML page.

Never rate limited, delayed or faulted (see ``app``). Every POST route takes JSON or a form; a
form post (from the page) redirects back to the page with a message instead of answering JSON.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from sandbox import autobuild, dockerhub
from sandbox.config import SEEDS, SandboxConfig
from sandbox.world import World

bp = Blueprint("control", __name__, template_folder="templates")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def world() -> World:
    w: World = current_app.extensions["sandbox_world"]
    return w


def _from_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if _from_form():
        return request.form.to_dict()
    data = request.get_json(silent=True)
    if data is None and not request.data:
        return {}
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _str(data: dict[str, Any], field: str, required: bool = True) -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise ControlError(400, f"{field} is required")
        return ""
    if not isinstance(value, str):
        raise ControlError(400, f"{field} must be a string")
    return value.strip()


def _done(payload: dict[str, Any], status: int = 200, message: str = "done") -> Response:
    if _from_form():
        return redirect(url_for("control.page", message=message))  # type: ignore[return-value]
    response = jsonify(payload)
    response.status_code = status
    return response


@bp.errorhandler(ControlError)
def _control_error(exc: ControlError) -> Response:
    if _from_form():
        return redirect(url_for("control.page", message=f"error: {exc.message}"))  # type: ignore[return-value]
    response = jsonify({"error": exc.message})
    response.status_code = exc.status
    return response


# -- the page --------------------------------------------------------------------------------


@bp.get("/")
def page() -> str:
    w = world()
    with w.lock:
        hub = w.dockerhub
        orgs = []
        for org in hub["orgs"].values():
            invites = [
                dict(dockerhub.invite_view(w, i), status=dockerhub.invite_status(w, i))
                for i in org["invites"].values()
            ]
            orgs.append(
                {
                    "name": org["orgname"],
                    "full_name": org["full_name"],
                    "members": [
                        {"username": u, "role": m["role"]}
                        for u, m in sorted(org["members"].items())
                    ],
                    "teams": [
                        {"name": g["name"], "members": list(g["members"])}
                        for g in org["groups"].values()
                    ],
                    "invites": invites,
                }
            )
        repos = sorted(hub["repos"].keys())
        builds = sorted(
            hub["builds"]["actions"].values(), key=lambda a: a["created"], reverse=True
        )[:30]
        build_rows = [
            {
                "image": a["image"],
                "tag": a["build_tag"],
                "state": a["state"],
                "cause": a["cause"],
                "created": w.iso(a["created"]),
            }
            for a in builds
        ]
        users = sorted(hub["users"].keys())
        fail_next = dict(hub["builds"].get("fail_next", {}))
    return render_template(
        "control.html",
        config=w.config,
        stats=w.stats,
        orgs=orgs,
        users=users,
        repos=repos,
        builds=build_rows,
        fail_next=fail_next,
        deliveries=list(w.deliveries)[:20],
        seeded=w.meta.get("seed_result", {}),
        github_links="github_control" in current_app.blueprints,
        message=request.args.get("message"),
    )


# -- world ---------------------------------------------------------------------------------


@bp.post("/reset")
def reset() -> Response:
    data = _body()
    seed = _str(data, "seed", required=False) or "empty"
    if seed not in SEEDS:
        raise ControlError(400, "seed must be one of " + ", ".join(SEEDS))
    result = world().reset(seed)
    return _done({"seed": seed, **result}, message=f"reset with seed {seed}")


@bp.get("/seed")
def seed_result() -> Response:
    """What the last seed created (credentials hubcourse needs)."""
    return jsonify(world().meta.get("seed_result", {}))


@bp.get("/stats")
def stats() -> Response:
    w = world()
    with w.lock:
        return jsonify(w.stats)


@bp.route("/config", methods=["GET", "PATCH", "POST"])
def config() -> Response:
    w = world()
    if request.method == "GET":
        return jsonify(w.config.as_dict())
    data = _body()
    if _from_form():
        data = _coerce_form(data)
    errors = w.config.update(data)
    if errors:
        raise ControlError(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    return _done(w.config.as_dict(), message="settings saved")


def _coerce_form(data: dict[str, Any]) -> dict[str, Any]:
    """Form fields are strings; turn them into the types the settings have."""
    coerced: dict[str, Any] = {}
    for name, value in data.items():
        kind = SandboxConfig.RUNTIME_FIELDS.get(name)
        try:
            if kind is bool:
                coerced[name] = value in ("on", "true", "1")
            elif kind is int:
                coerced[name] = int(value)
            elif kind is float:
                coerced[name] = float(value)
            else:
                coerced[name] = value
        except ValueError as exc:
            raise ControlError(400, f"{name}: {value!r} is not a number") from exc
    for checkbox in ("webhooks_enabled", "unconfirmed_routes_405"):
        # An unticked checkbox is not sent at all.
        coerced.setdefault(checkbox, False)
    return coerced


@bp.post("/clock")
def clock() -> Response:
    """Move the sandbox clock forward (token and invite expiry without waiting)."""
    data = _body()
    seconds = data.get("advance_seconds")
    if isinstance(seconds, str):
        try:
            seconds = float(seconds)
        except ValueError:
            seconds = None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError(400, "advance_seconds must be a non-negative number")
    w = world()
    w.advance_clock(float(seconds))
    return _done({"now": w.iso(w.now())}, message=f"clock moved {seconds}s forward")


@bp.post("/wait-idle")
def wait_idle() -> Response:
    """Wait (at most ``timeout`` seconds, up to 60) until no build phase or delivery is left."""
    data = _body()
    timeout = data.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 60:
        raise ControlError(400, "timeout must be a number of seconds between 0 and 60")
    return jsonify({"idle": world().wait_idle(float(timeout))})


@bp.get("/deliveries")
def deliveries() -> Response:
    w = world()
    with w.lock:
        return jsonify({"deliveries": list(w.deliveries)})


@bp.get("/requests")
def requests_journal() -> Response:
    """The journal of requests the simulated services answered, oldest first.

    Filters: ``service`` (dockerhub, github), ``method``, ``path_contains``. No headers are
    kept, so no credentials are shown.
    """
    service = request.args.get("service", "").strip().lower()
    method = request.args.get("method", "").strip().upper()
    path_contains = request.args.get("path_contains", "")
    w = world()
    with w.lock:
        found = [
            dict(entry)
            for entry in w.requests
            if (not service or entry["service"] == service)
            and (not method or entry["method"] == method)
            and path_contains in entry["path"]
        ]
    return jsonify({"count": len(found), "requests": found})


# -- Docker Hub ----------------------------------------------------------------------------


@bp.get("/dockerhub/users")
def list_users() -> Response:
    w = world()
    with w.lock:
        return jsonify(
            {
                "users": [
                    dict(
                        dockerhub.user_view(w, u), linked_github_login=u.get("linked_github_login")
                    )
                    for u in w.dockerhub["users"].values()
                ]
            }
        )


@bp.post("/dockerhub/users")
def create_user() -> Response:
    data = _body()
    username = _str(data, "username")
    password = _str(data, "password", required=False) or f"{username}-password"
    w = world()
    try:
        user = dockerhub.create_user(
            w,
            username,
            password,
            _str(data, "email", required=False) or None,
            _str(data, "full_name", required=False),
        )
    except ValueError as exc:
        raise ControlError(400, str(exc)) from exc
    payload = dict(dockerhub.user_view(w, user), password=password, email=user["email"])
    if data.get("with_token") in (True, "on", "true"):
        payload["token"] = dockerhub.create_pat(w, user["username"], "sandbox")
    return _done(payload, 201, message=f"Docker ID {user['username']} created")


@bp.post("/dockerhub/users/<username>/tokens")
def create_pat(username: str) -> Response:
    data = _body()
    w = world()
    with w.lock:
        if username.lower() not in w.dockerhub["users"]:
            raise ControlError(404, f"no Docker ID {username}")
    token = dockerhub.create_pat(
        w, username.lower(), _str(data, "label", required=False) or "sandbox"
    )
    return _done({"username": username.lower(), "token": token}, 201, message="token created")


@bp.route("/dockerhub/users/<username>/github-link", methods=["GET", "PUT", "POST", "DELETE"])
def github_link(username: str) -> Response:
    """The GitHub account linked to a Docker ID (Account settings > Linked accounts).

    PUT/POST ``{"login": "<github login>"}`` links (the login need not exist in the sandbox
    GitHub), DELETE unlinks; every method answers ``{"username", "linked_github_login"}``.
    Automated build sources are created through this link (see ``autobuild``).
    """
    w = world()
    with w.lock:
        user = w.dockerhub["users"].get(username.lower())
        if user is None:
            raise ControlError(404, f"no Docker ID {username}")
        if request.method in ("PUT", "POST"):
            user["linked_github_login"] = _str(_body(), "login")
        elif request.method == "DELETE":
            user["linked_github_login"] = None
        payload = {
            "username": user["username"],
            "linked_github_login": user.get("linked_github_login"),
        }
    if request.method != "GET":
        w.save()
    return _done(payload, message=f"{username}: GitHub link {payload['linked_github_login']}")


@bp.route("/dockerhub/build-link-policy", methods=["GET", "PUT", "POST"])
def build_link_policy() -> Response:
    """Whether creating a build source needs a linked GitHub account that administers the
    repository (``{"require_linked_admin": bool}``; on in every seed but ``demo``)."""
    w = world()
    with w.lock:
        state = w.dockerhub["builds"]
        if request.method != "GET":
            value = _body().get("require_linked_admin")
            if not isinstance(value, bool):
                raise ControlError(400, "require_linked_admin must be true or false")
            state["require_linked_admin"] = value
        payload = {"require_linked_admin": bool(state.get("require_linked_admin", True))}
    return _done(payload, message=f"require_linked_admin: {payload['require_linked_admin']}")


@bp.post("/dockerhub/orgs")
def create_org() -> Response:
    data = _body()
    name = _str(data, "name")
    owner = _str(data, "owner").lower()
    w = world()
    with w.lock:
        if owner not in w.dockerhub["users"]:
            password = _str(data, "owner_password", required=False) or f"{owner}-password"
            try:
                dockerhub.create_user(w, owner, password)
            except ValueError as exc:
                raise ControlError(400, str(exc)) from exc
        try:
            org = dockerhub.create_org(w, name, owner)
        except ValueError as exc:
            raise ControlError(400, str(exc)) from exc
        token = dockerhub.create_org_token(
            w, org["orgname"], _str(data, "token_label", required=False) or "hubcourse"
        )
    return _done(
        {"org": org["orgname"], "full_name": org["full_name"], "owner": owner, "org_token": token},
        201,
        message=f"organisation {name} created",
    )


@bp.get("/dockerhub/orgs/<org_name>")
def get_org(org_name: str) -> Response:
    w = world()
    with w.lock:
        org = w.dockerhub["orgs"].get(org_name.lower())
        if org is None:
            raise ControlError(404, f"no organisation {org_name}")
        return jsonify(
            {
                "org": org["orgname"],
                "members": {u: m["role"] for u, m in org["members"].items()},
                "teams": {
                    g["name"]: {"id": g["id"], "members": g["members"]}
                    for g in org["groups"].values()
                },
                "invites": [
                    dict(dockerhub.invite_view(w, i), status=dockerhub.invite_status(w, i))
                    for i in org["invites"].values()
                ],
            }
        )


@bp.post("/dockerhub/orgs/<org_name>/seats")
def set_seats(org_name: str) -> Response:
    """The organisation plan's paid seats (``{"seats": 5}``; ``null``: unlimited). Invitations
    beyond them are refused per invitee (dockerhub.SEAT_LIMIT_STATUS, unconfirmed)."""
    data = _body()
    seats = data.get("seats")
    if seats is not None and (not isinstance(seats, int) or isinstance(seats, bool) or seats < 0):
        raise ControlError(400, "seats: a whole number of seats, or null for unlimited")
    w = world()
    with w.lock:
        org = w.dockerhub["orgs"].get(org_name.lower())
        if org is None:
            raise ControlError(404, f"no organisation {org_name}")
        org["seats"] = seats
        w.save()
    return _done(
        {"org": org["orgname"], "seats": seats},
        message=f"{org['orgname']}: {'unlimited' if seats is None else seats} seat(s)",
    )


@bp.post("/dockerhub/invites/<invite_id>/accept")
def accept_invite(invite_id: str) -> Response:
    w = world()
    try:
        invite = dockerhub.accept_invite(w, invite_id)
    except KeyError as exc:
        raise ControlError(404, f"no invite {invite_id}") from exc
    except ValueError as exc:
        raise ControlError(409, str(exc)) from exc
    return _done(
        {"accepted": invite_id, "invitee": invite["invitee"], "org": invite["org"]},
        message=f"{invite['invitee']} joined {invite['org']}",
    )


@bp.post("/dockerhub/orgs/<org_name>/accept")
def accept_by_invitee(org_name: str) -> Response:
    """Accept the pending invite of ``invitee`` (a Docker ID or email), or of everyone with ``all``."""
    data = _body()
    invitee = _str(data, "invitee").lower()
    w = world()
    with w.lock:
        org = w.dockerhub["orgs"].get(org_name.lower())
        if org is None:
            raise ControlError(404, f"no organisation {org_name}")
        pending = [
            i
            for i in org["invites"].values()
            if dockerhub.invite_status(w, i) == "pending"
            and (invitee == "all" or i["invitee"].lower() == invitee)
        ]
        if not pending:
            raise ControlError(404, f"no pending invite for {invitee} in {org_name}")
        accepted, refused = [], []
        for invite in pending:
            try:
                dockerhub.accept_invite(w, invite["id"])
                accepted.append(invite["invitee"])
            except ValueError as exc:
                refused.append({"invitee": invite["invitee"], "error": str(exc)})
    return _done(
        {"accepted": accepted, "refused": refused},
        message=f"accepted {len(accepted)} invite(s)"
        + (f", {len(refused)} refused" if refused else ""),
    )


@bp.get("/dockerhub/build-rules")
def build_rules() -> Response:
    """Per image with an automated build: how many of its rules build on push (0 when the
    link to GitHub stays but no rule does)."""
    w = world()
    with w.lock:
        builds = w.dockerhub["builds"]
        return jsonify(
            {
                source["image"]: sum(
                    1
                    for uuid in source["settings"]
                    if builds["settings"].get(uuid, {}).get("autobuild")
                )
                for source in builds["sources"].values()
            }
        )


@bp.post("/dockerhub/repositories/<namespace>/<name>/fail-next-build")
def fail_next_build(namespace: str, name: str) -> Response:
    data = _body()
    reason = (
        _str(data, "reason", required=False)
        or "the build failed (forced from the sandbox control page)"
    )
    image = f"{namespace}/{name}".lower()
    w = world()
    with w.lock:
        if image not in w.dockerhub["repos"]:
            raise ControlError(404, f"no repository {image}")
    autobuild.fail_next_build(w, image, reason)
    return _done(
        {"image": image, "fail_next": reason}, message=f"the next build of {image} will fail"
    )


@bp.post("/dockerhub/repositories/<namespace>/<name>/push")
def push_tag(namespace: str, name: str) -> Response:
    """Push a tag by hand (as ``docker push`` would)."""
    data = _body()
    tag = _str(data, "tag", required=False) or "latest"
    pusher = _str(data, "pusher", required=False) or namespace.lower()
    try:
        digest = dockerhub.push_tag(world(), namespace, name, tag, pusher)
    except KeyError as exc:
        raise ControlError(404, f"no repository {namespace}/{name}") from exc
    return _done({"digest": digest, "tag": tag}, message=f"pushed {namespace}/{name}:{tag}")
