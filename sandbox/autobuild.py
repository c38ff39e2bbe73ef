"""Docker Hub automated builds: the undocumented ``api/build/v1`` and ``api/audit/v1`` routes.

Shapes follow the notes §11.1 (Docker Cloud's Tastypie API, still served by hub.docker.com):
``source`` objects with build ``setting`` rules, build ``action`` records whose ``state`` moves
``Pending -> In progress -> Success | Failed`` (or ``Canceled``), with a ``logs`` field.

Creating a source (or pointing one at another GitHub repository) goes through the GitHub
account linked to the caller's Docker Hub account (``linked_github_login``), which must
administer the repository: its owner, or an admin of the organisation that owns it (see
:func:`_check_github_link`). The seed ``demo`` switches that check off (``require_linked_admin``)
so that the default demo keeps working until hubcourse hands students the set-up.

A push to a linked sandbox GitHub repository (event ``github.push``) starts a build for every
autobuild rule whose branch matches; each phase takes ``config.build_delay`` seconds. The build
itself is decided by ``images.evaluate_build`` on the pushed tree; a success pushes the tag
(``dockerhub.push_tag`` with the autobuild pusher ``trustedbuilder``).
"""

from __future__ import annotations

import email.utils
import re
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import dockerhub_common as common
from sandbox import github_state, images
from sandbox.dockerhub_common import HubError, Identity
from sandbox.world import World

bp = Blueprint("autobuild", __name__)

PENDING, IN_PROGRESS, SUCCESS, FAILED, CANCELED = (
    "Pending",
    "In progress",
    "Success",
    "Failed",
    "Canceled",
)
ACTIVE_STATES = (PENDING, IN_PROGRESS)
MAX_PENDING = 30  # "at most 30 pending builds, and further requests are discarded" (notes §11)
AUTOBUILD_PUSHER = "trustedbuilder"  # the webhook's pusher for autobuild pushes (notes §12)
SOURCE_TYPES = ("Branch", "Tag")
SOURCE_PREFIX = "/api/build/v1/source/"
SETTING_PREFIX = "/api/build/v1/setting/"
ACTION_PREFIX = "/api/audit/v1/action/"
REPO_OBJECT = "/api/repo/v1/repository/{}/"


def world() -> World:
    w: World = current_app.extensions["sandbox_world"]
    return w


def builds(w: World) -> dict[str, Any]:
    state: dict[str, Any] = w.dockerhub["builds"]
    return state


@bp.errorhandler(HubError)
def _hub_error(exc: HubError) -> Response:
    # Tastypie answers errors as {"error": "..."}; keep detail too for clients that read it.
    if exc.body is None:
        exc.body = {"error": exc.detail, "detail": exc.detail}
    return exc.response()


def _rfc2822(ts: float | None) -> str | None:
    # Docker Cloud's action dates: "Thu, 12 Jul 2018 08:25:24 +0000".
    return email.utils.formatdate(ts, usegmt=False).replace("-0000", "+0000") if ts else None


# -- views -----------------------------------------------------------------------------------


def source_view(w: World, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "autotests": source["autotests"],
        "build_in_farm": True,
        "build_settings": [SETTING_PREFIX + s + "/" for s in source["settings"]],
        "channel": "Stable",
        "deploykey": "",
        "envvars": source["envvars"],
        "image": source["image"],
        "owner": source["owner"],
        "provider": "Github",  # sent as "github", returned as "Github" (notes §11.1)
        "repo_links": True,
        "repository": source["repository"],
        "resource_uri": SOURCE_PREFIX + source["uuid"] + "/",
        "state": source["state"],
        "uuid": source["uuid"],
        "trigger_url": f"{SOURCE_PREFIX}{source['uuid']}/trigger/{source['trigger_uuid']}/call/",
    }


def setting_view(setting: dict[str, Any]) -> dict[str, Any]:
    return {
        "autobuild": setting["autobuild"],
        "build_context": setting["build_context"],
        "buildsource": SOURCE_PREFIX + setting["source"] + "/",
        "dockerfile": setting["dockerfile"],
        "nocache": setting["nocache"],
        "resource_uri": SETTING_PREFIX + setting["uuid"] + "/",
        "source_name": setting["source_name"],
        "source_type": setting["source_type"],
        "state": setting["state"],
        "tag": setting["tag"],
        "uuid": setting["uuid"],
    }


def action_view(w: World, action: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    view = {
        "action": action["action"],
        "body": "",
        "build_code": action["build_code"],
        "build_tag": action["build_tag"],
        "can_be_canceled": action["state"] in ACTIVE_STATES,
        "can_be_retried": action["state"] in (FAILED, CANCELED),
        "cause": action["cause"],
        "commit": action["commit"],
        "created": _rfc2822(action["created"]),
        "dockerfile": action["dockerfile"],
        "end_date": _rfc2822(action["end_date"]),
        "ip": "",
        "is_user_action": action["cause"] != "push",
        "location": "",
        "method": "POST",
        "object": REPO_OBJECT.format(action["image"]) + f"{action['build_tag']}/",
        "path": REPO_OBJECT.format(action["image"]),
        "resource_uri": ACTION_PREFIX + action["uuid"] + "/",
        "source_branch": action["source_name"],
        "start_date": _rfc2822(action["start_date"]),
        "state": action["state"],
        "user_agent": "",
        "uuid": action["uuid"],
    }
    view["logs"] = "\n".join(action["logs"]) + ("\n" if action["logs"] else "") if detail else ""
    return view


def tastypie_list(objects: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    total = len(objects)
    page = objects[offset : offset + limit] if limit else objects[offset:]

    def link(new_offset: int) -> str:
        args = request.args.to_dict()
        args["offset"] = str(new_offset)
        args["limit"] = str(limit)
        return request.path + "?" + urlencode(args)

    return {
        "meta": {
            "limit": limit,
            "next": link(offset + limit) if limit and offset + limit < total else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if limit and offset > 0 else None,
            "total_count": total,
        },
        "objects": page,
    }


def _limit_offset(default_limit: int = 25) -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", default_limit))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise HubError(400, "limit and offset must be integers") from exc
    if limit < 0 or offset < 0:
        raise HubError(400, "limit and offset must not be negative")
    return min(limit, 100), offset


# -- access ----------------------------------------------------------------------------------


def _repo_for(image: str, identity: Identity | None, need: str) -> dict[str, Any]:
    from sandbox.dockerhub_repos import get_repo

    namespace, _, name = image.partition("/")
    if not namespace or not name:
        raise HubError(400, f"image: {image!r} is not namespace/repository")
    return get_repo(namespace, name, identity, need=need)


def _require_admin(image: str) -> dict[str, Any]:
    identity = common.require_auth()
    if identity.kind != "user":
        # Autobuilds are configured by a signed-in owner in the web UI; access tokens of an
        # organisation do not reach this API (notes §11: "need an Owner").
        raise HubError(403, "Automated builds need a user who is an owner of the organization.")
    return _repo_for(image, identity, "admin")


def _check_github_link(w: World, owner: str, repository: str) -> None:
    """Docker Hub links a build source only through the GitHub account linked to the Docker
    Hub account that sets it up, and only for repositories that GitHub account administers
    (collaborators' and other users' repositories are not offered: docker/hub-feedback #429,
    #506, #1861).

    The API's refusal is undocumented (the web UI simply does not list such repositories).
    Unconfirmed: the sandbox answers 403 with Tastypie's ``{"error": ...}`` body naming why.
    """
    if not builds(w).get("require_linked_admin", True):
        return
    identity = common.require_auth()
    user = w.dockerhub["users"].get(identity.name)
    linked = user.get("linked_github_login") if user is not None else None
    if not linked:
        raise HubError(
            403,
            f"No GitHub account is linked to the Docker Hub account {identity.name}: link one "
            "in Account settings > Linked accounts before setting up automated builds.",
        )
    if not github_state.administers(w, linked, owner):
        raise HubError(
            403,
            f"The GitHub account {linked} linked to {identity.name} is not an admin of "
            f"{owner}/{repository}: Docker Hub can only build from repositories it administers.",
        )


def _source(uuid: str) -> dict[str, Any]:
    source: dict[str, Any] | None = builds(world())["sources"].get(uuid)
    if source is None:
        raise HubError(404, "Not found")
    return source


def _source_for_image(w: World, image: str) -> dict[str, Any] | None:
    sources: dict[str, dict[str, Any]] = builds(w)["sources"]
    return next((s for s in sources.values() if s["image"] == image), None)


# -- build settings --------------------------------------------------------------------------


def _clean_rule(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise HubError(400, "build_settings: each rule is an object")
    source_type = raw.get("source_type", "Branch")
    if source_type not in SOURCE_TYPES:
        raise HubError(400, "build_settings: source_type must be Branch or Tag")
    source_name = raw.get("source_name")
    if not isinstance(source_name, str) or not source_name.strip():
        raise HubError(400, "build_settings: source_name is required")
    if source_name.startswith("/") and source_name.endswith("/") and len(source_name) > 2:
        try:
            re.compile(source_name[1:-1])
        except re.error as exc:
            raise HubError(400, f"build_settings: source_name is not a valid regex: {exc}") from exc
    tag = raw.get("tag") or "latest"
    dockerfile = raw.get("dockerfile") or "Dockerfile"
    context = raw.get("build_context") or "/"
    for field, value in (("tag", tag), ("dockerfile", dockerfile), ("build_context", context)):
        if not isinstance(value, str):
            raise HubError(400, f"build_settings: {field} must be a string")
    autobuild = raw.get("autobuild", True)
    nocache = raw.get("nocache", False)
    if not isinstance(autobuild, bool) or not isinstance(nocache, bool):
        raise HubError(400, "build_settings: autobuild and nocache are booleans")
    return {
        "source_type": source_type,
        "source_name": source_name,
        "tag": tag,
        "dockerfile": dockerfile,
        "build_context": context,
        "autobuild": autobuild,
        "nocache": nocache,
    }


def _apply_rules(w: World, source: dict[str, Any], rules: Any) -> None:
    """Replace the source's rules: ``uuid: ""`` (or none) adds, a known uuid updates (notes §11.1)."""
    if not isinstance(rules, list):
        raise HubError(400, "build_settings: a list of rules is required")
    cleaned = [(_clean_rule(raw), raw.get("uuid") or "") for raw in rules]
    settings = builds(w)["settings"]
    keep: list[str] = []
    for rule, uuid in cleaned:
        if uuid:
            existing = settings.get(uuid)
            if existing is None or existing["source"] != source["uuid"]:
                raise HubError(400, f"build_settings: unknown rule {uuid}")
            existing.update(rule)
            keep.append(uuid)
        else:
            uuid = w.new_id()
            settings[uuid] = {"uuid": uuid, "source": source["uuid"], "state": "Empty", **rule}
            w.count("dockerhub.build_setting")
            keep.append(uuid)
    for uuid in source["settings"]:
        if uuid not in keep:
            settings.pop(uuid, None)
    source["settings"] = keep


# -- source routes -----------------------------------------------------------------------------


@bp.get("/api/build/v1/source")
@bp.get("/api/build/v1/<namespace>/source")
def list_sources(namespace: str | None = None) -> Response:
    image = request.args.get("image")
    identity = common.current_identity()
    limit, offset = _limit_offset()
    w = world()
    with w.lock:
        objects = []
        for source in builds(w)["sources"].values():
            if image and source["image"] != image.lower():
                continue
            if namespace and source["image"].split("/")[0] != namespace.lower():
                continue
            try:
                # Public images answer anonymously; private ones need read access.
                _repo_for(source["image"], identity, "read")
            except HubError:
                continue
            objects.append(source_view(w, source))
        return jsonify(tastypie_list(objects, limit, offset))


@bp.post("/api/build/v1/source")
@bp.post("/api/build/v1/<namespace>/source")
def create_source(namespace: str | None = None) -> Response:
    data = common.json_body()
    image = data.get("image")
    if not isinstance(image, str) or "/" not in image:
        if isinstance(data.get("namespace"), str) and isinstance(data.get("name"), str):
            image = f"{data['namespace']}/{data['name']}"
        else:
            raise HubError(400, "image: namespace/repository is required")
    image = image.lower()
    provider = str(data.get("provider") or "github").lower()
    if provider != "github":
        raise HubError(400, f"provider: {provider} is not supported (only github)")
    owner, repository = data.get("owner"), data.get("repository")
    if not isinstance(owner, str) or not owner or not isinstance(repository, str) or not repository:
        raise HubError(400, "owner and repository (the GitHub source) are required")
    w = world()
    with w.lock:
        repo = _require_admin(image)
        _check_github_link(w, owner, repository)
        if _source_for_image(w, image) is not None:
            raise HubError(400, f"{image} already has a build source; PATCH it instead")
        uuid = w.new_id()
        source = {
            "uuid": uuid,
            "trigger_uuid": w.new_id(),
            "image": image,
            "owner": owner,
            "repository": repository,
            "autotests": str(data.get("autotests") or "OFF"),
            "envvars": data.get("envvars") if isinstance(data.get("envvars"), list) else [],
            "state": "Empty",
            "settings": [],
        }
        _apply_rules(w, source, data.get("build_settings") or [])
        builds(w)["sources"][uuid] = source
        repo["is_automated"] = True
        w.count("dockerhub.build_source")
        response = jsonify(source_view(w, source))
    response.status_code = 201
    return response


@bp.get("/api/build/v1/source/<uuid>")
@bp.get("/api/build/v1/<namespace>/source/<uuid>")
def get_source(uuid: str, namespace: str | None = None) -> Response:
    identity = common.current_identity()
    w = world()
    with w.lock:
        source = _source(uuid)
        _repo_for(source["image"], identity, "read")
        return jsonify(source_view(w, source))


@bp.patch("/api/build/v1/source/<uuid>")
@bp.patch("/api/build/v1/<namespace>/source/<uuid>")
def update_source(uuid: str, namespace: str | None = None) -> Response:
    data = common.json_body()
    w = world()
    with w.lock:
        source = _source(uuid)
        _require_admin(source["image"])
        moved_to = (
            data.get("owner", source["owner"]),
            data.get("repository", source["repository"]),
        )
        if moved_to != (source["owner"], source["repository"]) and all(
            isinstance(part, str) and part for part in moved_to
        ):
            _check_github_link(w, *moved_to)
        for field in ("owner", "repository"):
            if field in data:
                if not isinstance(data[field], str) or not data[field]:
                    raise HubError(400, f"{field} must be a non-empty string")
                source[field] = data[field]
        if "autotests" in data:
            source["autotests"] = str(data["autotests"])
        if "envvars" in data and isinstance(data["envvars"], list):
            source["envvars"] = data["envvars"]
        if "build_settings" in data:
            _apply_rules(w, source, data["build_settings"])
        return jsonify(source_view(w, source))


@bp.delete("/api/build/v1/source/<uuid>")
@bp.delete("/api/build/v1/<namespace>/source/<uuid>")
def delete_source(uuid: str, namespace: str | None = None) -> Response:
    w = world()
    if w.config.unconfirmed_routes_405:
        # No client was ever seen deleting a source (notes §11.1): the real service may not.
        raise common.method_not_allowed()
    with w.lock:
        source = _source(uuid)
        repo = _require_admin(source["image"])
        for setting_uuid in source["settings"]:
            builds(w)["settings"].pop(setting_uuid, None)
        del builds(w)["sources"][uuid]
        repo["is_automated"] = False
    return Response(status=204)


@bp.get("/api/build/v1/setting")
@bp.get("/api/build/v1/<namespace>/setting")
def list_settings(namespace: str | None = None) -> Response:
    buildsource = unquote(request.args.get("buildsource", ""))
    identity = common.current_identity()
    limit, offset = _limit_offset()
    w = world()
    with w.lock:
        objects = []
        for setting in builds(w)["settings"].values():
            if buildsource and SOURCE_PREFIX + setting["source"] + "/" != buildsource:
                continue
            source = builds(w)["sources"][setting["source"]]
            try:
                _repo_for(source["image"], identity, "read")
            except HubError:
                continue
            objects.append(setting_view(setting))
        return jsonify(tastypie_list(objects, limit, offset))


@bp.get("/api/build/v1/setting/<uuid>")
@bp.get("/api/build/v1/<namespace>/setting/<uuid>")
def get_setting(uuid: str, namespace: str | None = None) -> Response:
    identity = common.current_identity()
    w = world()
    with w.lock:
        setting = builds(w)["settings"].get(uuid)
        if setting is None:
            raise HubError(404, "Not found")
        _repo_for(builds(w)["sources"][setting["source"]]["image"], identity, "read")
        return jsonify(setting_view(setting))


@bp.post("/api/build/v1/setting/<uuid>/build")
@bp.post("/api/build/v1/<namespace>/setting/<uuid>/build")
def trigger_setting(uuid: str, namespace: str | None = None) -> Response:
    identity = common.require_auth()
    w = world()
    with w.lock:
        setting = builds(w)["settings"].get(uuid)
        if setting is None:
            raise HubError(404, "Not found")
        source = builds(w)["sources"][setting["source"]]
        # Team permission "write" may start builds (notes §11).
        _repo_for(source["image"], identity, "write")
        action = queue_build(w, source, setting, ref=None, cause="manual")
        response = jsonify(action_view(w, action))
    response.status_code = 202
    # DCS reads the new build's URI from this header (notes §11.1).
    response.headers["X-DockerCloud-Action-URI"] = ACTION_PREFIX + action["uuid"] + "/"
    return response


@bp.post("/api/build/v1/source/<uuid>/trigger/<trigger_uuid>/call")
def trigger_call(uuid: str, trigger_uuid: str) -> Response:
    # The build trigger URL: no auth, the trigger uuid is the secret (notes §11.1).
    data = request.get_json(silent=True, force=True) or {}
    w = world()
    with w.lock:
        source = builds(w)["sources"].get(uuid)
        if source is None or source["trigger_uuid"] != trigger_uuid:
            raise HubError(404, "Not found", body={"error": "Trigger not found"})
        settings = [builds(w)["settings"][s] for s in source["settings"]]
        if data.get("source_name") or data.get("docker_tag"):
            settings = [
                s
                for s in settings
                if (not data.get("source_name") or _matches(s, str(data["source_name"])))
                and (not data.get("source_type") or s["source_type"] == data["source_type"])
                and (not data.get("docker_tag") or s["tag"] == data["docker_tag"])
            ]
        if not settings:
            raise HubError(
                400, "No build rule matches", body={"error": "No build rule matches this trigger"}
            )
        for setting in settings:
            ref = str(data["source_name"]) if data.get("source_name") else None
            queue_build(w, source, setting, ref=ref, cause="trigger")
        return jsonify(source_view(w, source))


# -- build history (api/audit/v1/action) --------------------------------------------------------


@bp.get("/api/audit/v1/action")
def list_actions() -> Response:
    target = unquote(request.args.get("object", ""))
    match = re.fullmatch(r"/api/repo/v1/repository/([^/]+)/([^/]+)/?", target)
    if match is None:
        raise HubError(400, "object: /api/repo/v1/repository/{namespace}/{repository}/ is required")
    image = f"{match.group(1)}/{match.group(2)}".lower()
    identity = common.require_auth()
    limit, offset = _limit_offset(default_limit=10)
    w = world()
    with w.lock:
        _repo_for(image, identity, "read")
        actions = [a for a in builds(w)["actions"].values() if a["image"] == image]
        actions.sort(key=lambda a: a["created"], reverse=True)
        include = request.args.get("include_related", "").lower() == "true"
        return jsonify(
            tastypie_list([action_view(w, a, detail=include) for a in actions], limit, offset)
        )


def _action(uuid: str) -> dict[str, Any]:
    action: dict[str, Any] | None = builds(world())["actions"].get(uuid)
    if action is None:
        raise HubError(404, "Not found")
    return action


@bp.get("/api/audit/v1/action/<uuid>")
def get_action(uuid: str) -> Response:
    identity = common.require_auth()
    w = world()
    with w.lock:
        action = _action(uuid)
        _repo_for(action["image"], identity, "read")
        return jsonify(action_view(w, action))


@bp.post("/api/audit/v1/action/<uuid>/cancel")
def cancel_action(uuid: str) -> Response:
    identity = common.require_auth()
    w = world()
    with w.lock:
        action = _action(uuid)
        _repo_for(action["image"], identity, "write")
        if action["state"] not in ACTIVE_STATES:
            raise HubError(400, f"A build in state {action['state']} cannot be canceled")
        _finish(w, action, CANCELED, ["Build canceled by " + identity.actor])
        return jsonify(action_view(w, action))


@bp.post("/api/audit/v1/action/<uuid>/retry")
def retry_action(uuid: str) -> Response:
    identity = common.require_auth()
    w = world()
    with w.lock:
        action = _action(uuid)
        _repo_for(action["image"], identity, "write")
        setting = builds(w)["settings"].get(action["setting"])
        source = builds(w)["sources"].get(action["source"])
        if setting is None or source is None:
            raise HubError(400, "The build rule of this build no longer exists")
        retried = queue_build(w, source, setting, ref=action["commit"] or None, cause="retry")
        response = jsonify(action_view(w, retried))
    response.status_code = 202
    response.headers["X-DockerCloud-Action-URI"] = ACTION_PREFIX + retried["uuid"] + "/"
    return response


# -- the build engine --------------------------------------------------------------------------


def _matches(setting: dict[str, Any], ref_name: str) -> bool:
    wanted = setting["source_name"]
    if len(wanted) > 2 and wanted.startswith("/") and wanted.endswith("/"):
        return re.fullmatch(wanted[1:-1], ref_name) is not None
    return bool(wanted == ref_name)


def _docker_tag(setting: dict[str, Any], ref_name: str) -> str:
    tag = str(setting["tag"]).replace("{sourceref}", ref_name)
    wanted = setting["source_name"]
    if len(wanted) > 2 and wanted.startswith("/") and wanted.endswith("/"):
        match = re.fullmatch(wanted[1:-1], ref_name)
        if match is not None:
            for index, group in enumerate(match.groups(), start=1):
                tag = tag.replace(f"{{\\{index}}}", group or "")
    return tag


def queue_build(
    w: World,
    source: dict[str, Any],
    setting: dict[str, Any],
    *,
    ref: str | None,
    cause: str,
    commit: str | None = None,
) -> dict[str, Any]:
    """Record a ``Pending`` build of ``setting`` and schedule its phases."""
    with w.lock:
        pending = [
            a
            for a in builds(w)["actions"].values()
            if a["image"] == source["image"] and a["state"] == PENDING
        ]
        ref_name = ref if ref and not re.fullmatch(r"[0-9a-f]{40}", ref) else setting["source_name"]
        if len(pending) >= MAX_PENDING:
            raise HubError(
                429, f"{source['image']} has {MAX_PENDING} pending builds; this one is discarded"
            )
        now = w.now()
        uuid = w.new_id()
        action = {
            "uuid": uuid,
            "image": source["image"],
            "source": source["uuid"],
            "setting": setting["uuid"],
            "source_type": setting["source_type"],
            "source_name": ref_name,
            "commit": commit or (ref if ref and re.fullmatch(r"[0-9a-f]{40}", ref) else ""),
            "build_tag": _docker_tag(setting, ref_name),
            "dockerfile": setting["dockerfile"],
            "build_context": setting["build_context"],
            "build_code": "b" + uuid.replace("-", "")[:20],
            "action": f"Build in '{ref_name}'",
            "cause": cause,
            "state": PENDING,
            "created": now,
            "start_date": None,
            "end_date": None,
            "logs": [
                f"Build queued ({cause}) for {source['image']}:{_docker_tag(setting, ref_name)}"
            ],
        }
        builds(w)["actions"][uuid] = action
        setting["state"] = PENDING
        source["state"] = PENDING
        w.schedule(w.config.build_delay, _start, w, uuid)
    w.count("dockerhub.build")
    w.save()
    return action


def _start(w: World, uuid: str) -> None:
    with w.lock:
        action = builds(w)["actions"].get(uuid)
        if action is None or action["state"] != PENDING:
            return
        source = builds(w)["sources"].get(action["source"])
        action["state"] = IN_PROGRESS
        action["start_date"] = w.now()
        repo = f"{source['owner']}/{source['repository']}" if source else "?"
        action["logs"].append(f"Cloning https://github.com/{repo}.git ({action['source_name']})")
        _set_states(w, action, IN_PROGRESS)
        w.schedule(w.config.build_delay, _complete, w, uuid)
    w.save()


def _complete(w: World, uuid: str) -> None:
    with w.lock:
        action = builds(w)["actions"].get(uuid)
        if action is None or action["state"] != IN_PROGRESS:
            return
        source = builds(w)["sources"].get(action["source"])
        if source is None:
            _finish(w, action, FAILED, ["error: the build source was removed"])
            return
        forced = builds(w).setdefault("fail_next", {}).pop(action["image"], None)
        full_name = f"{source['owner']}/{source['repository']}"
        files = github_state.read_tree(w, full_name, action["commit"] or action["source_name"])
        if files is None:
            _finish(
                w,
                action,
                FAILED,
                [
                    f"Cloning {full_name} failed: repository or ref {action['source_name']!r} not found"
                ],
            )
            return
        if not action["commit"]:
            gh_repo = github_state.get_repo(w, full_name)
            if gh_repo is not None:
                action["commit"] = github_state.resolve_ref(gh_repo, action["source_name"]) or ""
        action["logs"].append(
            f"KernelVersion: 6.1.0 Components: [{{Engine 27.3.1}}] commit {action['commit'][:7]}"
        )
        verdict = images.evaluate_build(files, action["dockerfile"], action["build_context"])
        if forced is not None:
            _finish(w, action, FAILED, [*verdict.log, f"error: {forced}"])
            return
        if not verdict.ok:
            _finish(w, action, FAILED, verdict.log)
            return
        namespace, _, name = action["image"].partition("/")
        lines = [
            *verdict.log,
            f"Pushing index.docker.io/{action['image']}:{action['build_tag']}...",
        ]
    try:
        from sandbox.dockerhub import push_tag

        digest = push_tag(w, namespace, name, action["build_tag"], AUTOBUILD_PUSHER)
    except KeyError:
        with w.lock:
            _finish(
                w, action, FAILED, [*lines, f"error: repository {action['image']} no longer exists"]
            )
        return
    with w.lock:
        if action["state"] != IN_PROGRESS:  # canceled while pushing
            return
        _finish(
            w,
            action,
            SUCCESS,
            [*lines, f"{action['build_tag']}: digest: {digest}", "Build finished"],
        )


def _finish(w: World, action: dict[str, Any], state: str, lines: list[str]) -> None:
    action["logs"].extend(lines)
    action["state"] = state
    action["end_date"] = w.now()
    _set_states(w, action, state)
    w.save()


def _set_states(w: World, action: dict[str, Any], state: str) -> None:
    setting = builds(w)["settings"].get(action["setting"])
    if setting is not None:
        setting["state"] = state
    source = builds(w)["sources"].get(action["source"])
    if source is not None:
        source["state"] = state


def fail_next_build(w: World, image: str, reason: str) -> None:
    """Make the next build of ``image`` fail with ``reason`` in its log (control API)."""
    with w.lock:
        builds(w).setdefault("fail_next", {})[image.lower()] = reason
    w.save()


def on_github_push(
    w: World, *, full_name: str, branch: str, sha: str, before: str, pusher: str, message: str
) -> None:
    """Queue a build for every autobuild rule of every source linked to ``full_name``."""
    with w.lock:
        for source in list(builds(w)["sources"].values()):
            if f"{source['owner']}/{source['repository']}".lower() != full_name.lower():
                continue
            for setting_uuid in source["settings"]:
                setting = builds(w)["settings"][setting_uuid]
                if not setting["autobuild"] or setting["source_type"] != "Branch":
                    continue
                if not _matches(setting, branch):
                    continue
                try:
                    queue_build(w, source, setting, ref=branch, cause="push", commit=sha)
                except HubError:
                    # Past 30 pending builds, Docker Hub discards further requests (notes §11).
                    continue


def resume(w: World) -> None:
    """After a restart from a data file, builds that were running pick up where they were."""
    with w.lock:
        for action in builds(w)["actions"].values():
            if action["state"] == PENDING:
                w.schedule(w.config.build_delay, _start, w, action["uuid"])
            elif action["state"] == IN_PROGRESS:
                w.schedule(w.config.build_delay, _complete, w, action["uuid"])


def install(w: World) -> None:
    w.subscribe("github.push", on_github_push)
    w.subscribe("world.loaded", resume)
