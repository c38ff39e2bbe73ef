"""Docker Hub repositories, team permissions, tags, audit logs and repository webhooks.

Routes hang on ``dockerhub_common.bp`` (registered by importing this module from ``dockerhub``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import Response, jsonify, request

from sandbox import dockerhub as dh
from sandbox import dockerhub_common as common
from sandbox import dockerhub_extra
from sandbox.dockerhub_common import (
    REPO_NAME_RE,
    HubError,
    Identity,
    bp,
    hub,
    json_body,
    paginate,
    require_auth,
    world,
)
from sandbox.world import World

PERMISSIONS = ("read", "write", "admin")
ORDERINGS = ("name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count")
DESCRIPTION_MAX = 100
FULL_DESCRIPTION_MAX = 25000
REGISTRY_URL = "https://registry.hub.docker.com"


# -- access ----------------------------------------------------------------------------------


def namespace_kind(namespace: str) -> str | None:
    state = hub()
    if namespace in state["orgs"]:
        return "org"
    if namespace in state["users"]:
        return "user"
    return None


def access(identity: Identity | None, repo: dict[str, Any]) -> dict[str, bool]:
    """``{read, write, admin}`` for this caller on this repository."""
    level = _level(identity, repo)
    rank = PERMISSIONS.index(level) if level in PERMISSIONS else -1
    return {
        "read": rank >= 0 or not repo["is_private"],
        "write": rank >= 1,
        "admin": rank >= 2,
    }


def _level(identity: Identity | None, repo: dict[str, Any]) -> str | None:
    if identity is None:
        return None
    namespace = repo["namespace"]
    if identity.kind == "user" and identity.name == namespace:
        return "admin"
    org = hub()["orgs"].get(namespace)
    if org is None:
        return None
    token = common.org_token(identity, org)
    if token is not None and common.token_is_scoped(token):
        return common.token_repo_level(token, f"{namespace}/{repo['name']}")
    role = common.org_role(identity, org)
    if role in ("owner", "editor"):
        return "admin"
    if role is None:
        return None
    best: str | None = None
    for group_id, permission in repo["groups"].items():
        group = dh.group_by_id(org, int(group_id))
        if group is not None and identity.name in group["members"]:
            if best is None or PERMISSIONS.index(permission) > PERMISSIONS.index(best):
                best = permission
    return best


def get_repo(
    namespace: str, name: str, identity: Identity | None, need: str = "read"
) -> dict[str, Any]:
    repo: dict[str, Any] | None = hub()["repos"].get(f"{namespace.lower()}/{name.lower()}")
    if repo is None:
        raise common.not_found()
    rights = access(identity, repo)
    if not rights["read"]:
        # A private repository you cannot see does not exist, as far as you can tell.
        raise common.not_found()
    if not rights[need]:
        raise HubError(
            403, "You do not have permission to perform this action.", message="forbidden"
        )
    return repo


def can_create_in(identity: Identity, namespace: str) -> bool:
    if identity.kind == "user" and identity.name == namespace:
        return True
    org = hub()["orgs"].get(namespace)
    return org is not None and common.org_role(identity, org) in ("owner", "editor")


# -- views -----------------------------------------------------------------------------------


def _storage(repo: dict[str, Any]) -> int:
    return sum(int(t["full_size"]) for t in repo["tags"].values())


def list_entry(w: World, repo: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": repo["name"],
        "namespace": repo["namespace"],
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": repo["description"],
        "is_private": repo["is_private"],
        "star_count": 0,
        "pull_count": repo["pull_count"],
        "last_updated": w.iso(repo["last_updated"]) if repo["last_updated"] else None,
        "last_modified": w.iso(repo["last_modified"]),
        "date_registered": w.iso(repo["date_registered"]),
        "affiliation": "",
        "media_types": _media_types(repo),
        "content_types": ["image"] if repo["tags"] else [],
        "categories": [],
        "storage_size": _storage(repo),
    }


def _media_types(repo: dict[str, Any]) -> list[str]:
    return ["application/vnd.oci.image.index.v1+json"] if repo["tags"] else []


def info_view(w: World, repo: dict[str, Any], identity: Identity | None) -> dict[str, Any]:
    return {
        "user": repo["namespace"],
        "name": repo["name"],
        "namespace": repo["namespace"],
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": repo["description"],
        "is_private": repo["is_private"],
        "is_automated": bool(repo.get("is_automated")),
        "can_edit": access(identity, repo)["write"],
        "star_count": 0,
        "pull_count": repo["pull_count"],
        "last_updated": w.iso(repo["last_updated"] or repo["date_registered"]),
        "last_modified": w.iso(repo["last_modified"]),
        "date_registered": w.iso(repo["date_registered"]),
        "collaborator_count": 0,
        "affiliation": None,
        "hub_user": repo["namespace"],
        "has_starred": False,
        "full_description": repo["full_description"],
        "permissions": access(identity, repo),
        "media_types": _media_types(repo),
        "content_types": ["image"] if repo["tags"] else [],
        "categories": [],
        "immutable_tags_settings": {"enabled": False, "rules": []},
        "storage_size": _storage(repo) or None,
        "source": None,
    }


def tag_view(w: World, repo: dict[str, Any], tag: dict[str, Any]) -> dict[str, Any]:
    pushed = w.iso(tag["last_pushed"])
    image = {
        "architecture": "amd64",
        "features": "",
        "variant": "",
        "digest": tag["digest"],
        "os": "linux",
        "os_features": "",
        "os_version": "",
        "size": tag["full_size"],
        "status": "active",
        "last_pulled": None,
        "last_pushed": pushed,
    }
    return {
        "creator": tag["creator"],
        "id": tag["id"],
        # An array in reality, an object in the spec (notes §1, bug 4).
        "images": [image],
        "last_updated": pushed,
        "last_updater": tag["creator"],
        "last_updater_username": tag["pusher"],
        "name": tag["name"],
        "repository": repo["id"],
        "full_size": tag["full_size"],
        "v2": "true",  # the spec types it as a string
        "tag_status": "active",
        "tag_last_pulled": None,
        "tag_last_pushed": pushed,
        "media_type": "application/vnd.oci.image.index.v1+json",
        "content_type": "image",
        "digest": tag["digest"],
    }


# -- repository create / read / list ----------------------------------------------------------


def create_repository(
    w: World, identity: Identity, namespace: str, data: dict[str, Any]
) -> dict[str, Any]:
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise HubError(400, "name: This field is required.", message="bad request")
    if not (2 <= len(name) <= 255) or not REPO_NAME_RE.match(name):
        raise HubError(
            400,
            "name: Repository names must be 2 to 255 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit.",
            message="invalid repository name",
        )
    description = data.get("description") or ""
    full_description = data.get("full_description") or ""
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise HubError(
            400, f"description: at most {DESCRIPTION_MAX} characters.", message="bad request"
        )
    if not isinstance(full_description, str) or len(full_description) > FULL_DESCRIPTION_MAX:
        raise HubError(
            400,
            f"full_description: at most {FULL_DESCRIPTION_MAX} characters.",
            message="bad request",
        )
    is_private = data.get("is_private", False)
    if not isinstance(is_private, bool):
        raise HubError(400, "is_private: Must be a valid boolean.", message="bad request")
    namespace = namespace.lower()
    with w.lock:
        if namespace_kind(namespace) is None:
            raise common.not_found(f"namespace {namespace} not found")
        if not can_create_in(identity, namespace):
            raise HubError(
                403,
                "You do not have permission to create repositories in this namespace.",
                message="forbidden",
            )
        key = f"{namespace}/{name}"
        if key in hub()["repos"]:
            raise HubError(
                400,
                "Repository with this Name and Namespace already exists.",
                message="repository already exists",
            )
        now = w.now()
        repo = {
            "id": w.next_int("dockerhub.repository", start=20000000),
            "namespace": namespace,
            "name": name,
            "description": description,
            "full_description": full_description,
            "is_private": is_private,
            "is_automated": False,
            "pull_count": 0,
            "date_registered": now,
            "last_updated": None,
            "last_modified": now,
            "creator": identity.actor,
            "tags": {},
            "groups": {},
            "webhook_pipelines": {},
        }
        hub()["repos"][key] = repo
        dh.audit(
            w, namespace, "repo.create", key, identity.actor, {}, f"created the repository {key}"
        )
    w.count("dockerhub.repository")
    return repo


@bp.post("/v2/namespaces/<namespace>/repositories")
def create_repo_namespaced(namespace: str) -> Response:
    identity = require_auth()
    data = json_body()
    if not data.get("namespace"):
        raise HubError(400, "namespace: This field is required.", message="bad request")
    if str(data["namespace"]).lower() != namespace.lower():
        raise HubError(
            400, "namespace: does not match the namespace in the path.", message="bad request"
        )
    w = world()
    with w.lock:
        repo = create_repository(w, identity, namespace, data)
        response = jsonify(info_view(w, repo, identity))
    response.status_code = 201
    return response


@bp.post("/v2/repositories")
@bp.post("/v2/repositories/<namespace>")
def create_repo_legacy(namespace: str | None = None) -> Response:
    # Deprecated forms (notes §6): the namespace comes from the path or the body.
    identity = require_auth()
    data = json_body()
    namespace = namespace or data.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise HubError(400, "namespace: This field is required.", message="bad request")
    w = world()
    with w.lock:
        repo = create_repository(w, identity, namespace, data)
        response = jsonify(info_view(w, repo, identity))
    response.status_code = 201
    return response


@bp.get("/v2/namespaces/<namespace>/repositories")
@bp.get("/v2/repositories/<namespace>")
def list_repos(namespace: str) -> Response:
    identity = common.current_identity()
    ordering = request.args.get("ordering")
    if ordering is not None and ordering not in ORDERINGS:
        # The spec's ordering error (notes §2).
        raise HubError(
            400,
            "Invalid ordering value",
            body={
                "fields": {
                    "ordering": [f"Invalid ordering value. Must be one of: {', '.join(ORDERINGS)}"]
                },
                "text": "Invalid ordering value",
            },
        )
    name_filter = (request.args.get("name") or "").lower()
    w = world()
    with w.lock:
        namespace = namespace.lower()
        if namespace_kind(namespace) is None:
            raise common.not_found(f"namespace {namespace} not found")
        repos = [
            r
            for r in hub()["repos"].values()
            if r["namespace"] == namespace
            and access(identity, r)["read"]
            and name_filter in r["name"]
        ]
        field = (ordering or "-last_updated").lstrip("-")

        def sort_key(repo: dict[str, Any]) -> Any:
            if field == "last_updated":
                return repo["last_updated"] or repo["date_registered"]
            return repo[field]

        repos.sort(key=sort_key, reverse=(ordering or "-last_updated").startswith("-"))
        return jsonify(paginate([list_entry(w, r) for r in repos]))


@bp.route("/v2/namespaces/<namespace>/repositories/<repository>", methods=["GET", "HEAD"])
@bp.route("/v2/repositories/<namespace>/<repository>", methods=["GET", "HEAD"])
def get_repo_route(namespace: str, repository: str) -> Response:
    identity = common.current_identity()
    w = world()
    with w.lock:
        try:
            repo = get_repo(namespace, repository, identity)
        except HubError as exc:
            public = dockerhub_extra.public_repository(namespace, repository)
            if exc.status != 404 or public is None:
                raise
            return jsonify(public)
        return jsonify(info_view(w, repo, identity))


@bp.patch("/v2/repositories/<namespace>/<repository>")
def update_repo(namespace: str, repository: str) -> Response:
    identity = require_auth()
    data = json_body()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        if "description" in data:
            value = data["description"] or ""
            if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
                raise HubError(
                    400,
                    f"description: at most {DESCRIPTION_MAX} characters.",
                    message="bad request",
                )
            repo["description"] = value
        if "full_description" in data:
            value = data["full_description"] or ""
            if not isinstance(value, str) or len(value) > FULL_DESCRIPTION_MAX:
                raise HubError(
                    400,
                    f"full_description: at most {FULL_DESCRIPTION_MAX} characters.",
                    message="bad request",
                )
            repo["full_description"] = value
        repo["last_modified"] = w.now()
        key = f"{repo['namespace']}/{repo['name']}"
        dh.audit(
            w,
            repo["namespace"],
            "repo.update",
            key,
            identity.actor,
            {},
            f"updated the repository {key}",
        )
        return jsonify(info_view(w, repo, identity))


@bp.delete("/v2/repositories/<namespace>/<repository>")
@bp.delete("/v2/namespaces/<namespace>/repositories/<repository>")
def delete_repo(namespace: str, repository: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        key = f"{repo['namespace']}/{repo['name']}"
        del hub()["repos"][key]
        dh.audit(
            w,
            repo["namespace"],
            "repo.delete",
            key,
            identity.actor,
            {},
            f"deleted the repository {key}",
        )
    w.emit("dockerhub.repository_deleted", full_name=key)
    return Response(status=202)


@bp.post("/v2/repositories/<namespace>/<repository>/privacy")
def set_privacy(namespace: str, repository: str) -> Response:
    identity = require_auth()
    data = json_body()
    is_private = data.get("is_private")
    if not isinstance(is_private, bool):
        raise HubError(400, "is_private: Must be a valid boolean.", message="bad request")
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        repo["is_private"] = is_private
        repo["last_modified"] = w.now()
        key = f"{repo['namespace']}/{repo['name']}"
        dh.audit(
            w,
            repo["namespace"],
            "repo.change_privacy",
            key,
            identity.actor,
            {"is_private": str(is_private).lower()},
            f"made the repository {key} {'private' if is_private else 'public'}",
        )
        return jsonify(info_view(w, repo, identity))


# -- team permissions --------------------------------------------------------------------------


def _org_of(repo: dict[str, Any]) -> dict[str, Any]:
    org: dict[str, Any] | None = hub()["orgs"].get(repo["namespace"])
    if org is None:
        raise HubError(
            400, "Team permissions exist only on organization repositories.", message="bad request"
        )
    return org


def _permission_view(group: dict[str, Any], permission: str) -> dict[str, Any]:
    return {"group_name": group["name"], "permission": permission, "group_id": group["id"]}


@bp.post("/v2/repositories/<namespace>/<repository>/groups")
def add_repo_group(namespace: str, repository: str) -> Response:
    identity = require_auth()
    data = json_body()
    group_id = data.get("group_id")
    permission = data.get("permission")
    if isinstance(group_id, bool) or not isinstance(group_id, int):
        raise HubError(400, "group_id: A valid integer is required.", message="bad request")
    if permission not in PERMISSIONS:
        raise HubError(400, "permission: must be one of read, write, admin.", message="bad request")
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        org = _org_of(repo)
        group = dh.group_by_id(org, group_id)
        if group is None:
            raise common.not_found("group not found")
        repo["groups"][str(group_id)] = permission
        return jsonify(_permission_view(group, permission))


@bp.get("/v2/repositories/<namespace>/<repository>/groups")
def list_repo_groups(namespace: str, repository: str) -> Response:
    identity = require_auth()
    w = world()
    if w.config.unconfirmed_routes_405:
        # Nobody has seen this list on the real service (notes §6): it may well not exist.
        raise common.method_not_allowed()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        org = _org_of(repo)
        rows = []
        for group_id, permission in sorted(repo["groups"].items(), key=lambda kv: int(kv[0])):
            group = dh.group_by_id(org, int(group_id))
            if group is not None:
                rows.append(_permission_view(group, permission))
        return jsonify(paginate(rows))


@bp.route(
    "/v2/repositories/<namespace>/<repository>/groups/<int:group_id>",
    methods=["GET", "PATCH", "PUT", "DELETE"],
)
def repo_group(namespace: str, repository: str, group_id: int) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        org = _org_of(repo)
        group = dh.group_by_id(org, group_id)
        permission = repo["groups"].get(str(group_id))
        if group is None or permission is None:
            raise common.not_found("permission not found")
        if request.method == "DELETE":
            del repo["groups"][str(group_id)]
            return Response(status=204)
        if request.method in ("PATCH", "PUT"):
            new = json_body().get("permission")
            if new not in PERMISSIONS:
                raise HubError(
                    400, "permission: must be one of read, write, admin.", message="bad request"
                )
            repo["groups"][str(group_id)] = permission = new
        return jsonify(_permission_view(group, permission))


@bp.get("/v2/orgs/<org_name>/groups/<group_name>/repositories")
def group_repositories(org_name: str, group_name: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        org = common.get_org(org_name)
        common.require_org_member(identity, org)
        group = org["groups"].get(group_name)
        if group is None:
            raise common.not_found("group not found")
        rows = []
        for key, repo in sorted(hub()["repos"].items()):
            permission = repo["groups"].get(str(group["id"]))
            if permission is not None:
                rows.append(
                    {"repository": key, "repository_type": "image", "permission": permission}
                )
        # A bare array, unlike every other list (notes §2).
        return jsonify(rows)


# -- tags ------------------------------------------------------------------------------------


@bp.route("/v2/namespaces/<namespace>/repositories/<repository>/tags", methods=["GET", "HEAD"])
@bp.route("/v2/repositories/<namespace>/<repository>/tags", methods=["GET", "HEAD"])
def list_tags(namespace: str, repository: str) -> Response:
    identity = common.current_identity()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity)
        if request.method == "HEAD":
            # "200 if any tags" (notes §7).
            return Response(status=200 if repo["tags"] else 404)
        tags = sorted(repo["tags"].values(), key=lambda t: t["last_pushed"], reverse=True)
        # The spec documents no 400 here (unlike the repository list, whose page_size has
        # `maximum: 100` and a 400): a larger page is served as 100 (tests/fidelity/STATUSES.md).
        return jsonify(paginate([tag_view(w, repo, t) for t in tags], cap=True))


@bp.route(
    "/v2/namespaces/<namespace>/repositories/<repository>/tags/<tag>", methods=["GET", "HEAD"]
)
@bp.route("/v2/repositories/<namespace>/<repository>/tags/<tag>", methods=["GET", "HEAD"])
def get_tag(namespace: str, repository: str, tag: str) -> Response:
    identity = common.current_identity()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity)
        found = repo["tags"].get(tag)
        if found is None:
            raise HubError(
                404,
                "tag not found",
                body={"message": f"httperror 404: tag '{tag}' not found", "errinfo": {}},
            )
        return jsonify(tag_view(w, repo, found))


@bp.delete("/v2/repositories/<namespace>/<repository>/tags/<tag>")
def delete_tag(namespace: str, repository: str, tag: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="write")
        if repo["tags"].pop(tag, None) is None:
            raise common.not_found("tag not found")
        key = f"{repo['namespace']}/{repo['name']}"
        dh.audit(
            w,
            repo["namespace"],
            "repo.tag.delete",
            key,
            identity.actor,
            {"tag": tag},
            f"deleted the tag {tag} from the repository {key}",
        )
    return Response(status=204)


def push_tag(w: World, namespace: str, repo: str, tag: str, pusher: str) -> str:
    """A push of ``namespace/repo:tag`` by ``pusher``; returns the new digest.

    Updates the tag (``tag_last_pushed``), writes the ``repo.tag.push`` audit event and fires
    the repository's webhooks with the documented payload (notes §12).
    """
    key = f"{namespace.lower()}/{repo.lower()}"
    with w.lock:
        repository = w.dockerhub["repos"].get(key)
        if repository is None:
            raise KeyError(key)
        now = w.now()
        digest = dh.digest_of(key, tag, str(now), w.new_id())
        user = w.dockerhub["users"].get(pusher)
        existing = repository["tags"].get(tag)
        repository["tags"][tag] = {
            "id": existing["id"] if existing else w.next_int("dockerhub.tag", start=300000000),
            "name": tag,
            "digest": digest,
            "full_size": 50_000_000 + int(digest[7:13], 16) % 50_000_000,
            "creator": int(user["id"][:8], 16) if user else 0,
            "pusher": pusher,
            "last_pushed": now,
        }
        repository["last_updated"] = now
        dh.audit(
            w,
            namespace.lower(),
            "repo.tag.push",
            key,
            pusher,
            {"digest": digest, "tag": tag},
            f"pushed the tag {tag} with the digest {digest[:19]} to the repository {key}",
        )
        payload = _webhook_payload(w, repository, tag, pusher, now)
        urls = [
            hook["hook_url"]
            for pipeline in repository["webhook_pipelines"].values()
            for hook in pipeline["webhooks"]
        ]
    if existing is None:
        w.count("dockerhub.tag")
    body = json.dumps(payload).encode()
    for url in urls:
        w.deliver_webhook(
            url,
            body,
            {"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1"},
            "dockerhub",
        )
    w.save()
    return digest


def _webhook_payload(
    w: World, repo: dict[str, Any], tag: str, pusher: str, now: float
) -> dict[str, Any]:
    key = f"{repo['namespace']}/{repo['name']}"
    base = w.config.public_url or f"http://{w.config.host}:{w.config.port}"
    return {
        "callback_url": f"{base}/u/{key}/hook/{w.new_id().replace('-', '')}/",
        "push_data": {"pushed_at": int(now), "pusher": pusher, "tag": tag},
        "repository": {
            "comment_count": 0,
            "date_created": int(repo["date_registered"]),
            "description": repo["description"],
            "dockerfile": "",
            "full_description": repo["full_description"],
            "is_official": repo["namespace"] == "library",
            "is_private": repo["is_private"],
            "is_trusted": bool(repo.get("is_automated")),
            "name": repo["name"],
            "namespace": repo["namespace"],
            "owner": repo["namespace"],
            "repo_name": key,
            "repo_url": f"{REGISTRY_URL}/u/{key}/",
            "star_count": 0,
            "status": "Active",
        },
    }


# -- repository webhooks (webhook_pipeline, undocumented; notes §12) -----------------------------


def _pipeline_view(w: World, pipeline: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": pipeline["name"],
        "slug": pipeline["slug"],
        "expect_final_callback": pipeline["expect_final_callback"],
        "webhooks": [
            {
                "name": h["name"],
                "hook_url": h["hook_url"],
                "created": w.iso(h["created"]),
                "last_updated": w.iso(h["created"]),
            }
            for h in pipeline["webhooks"]
        ],
        "created": w.iso(pipeline["created"]),
        "last_updated": w.iso(pipeline["created"]),
    }


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "webhook"


@bp.post("/v2/repositories/<namespace>/<repository>/webhook_pipeline")
def create_pipeline(namespace: str, repository: str) -> Response:
    identity = require_auth()
    data = json_body()
    name = data.get("name")
    hooks = data.get("webhooks")
    if not isinstance(name, str) or not name.strip():
        raise HubError(400, "name: This field is required.", message="bad request")
    if not isinstance(hooks, list) or not hooks:
        raise HubError(400, "webhooks: at least one webhook is required.", message="bad request")
    for hook in hooks:
        url = hook.get("hook_url") if isinstance(hook, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise HubError(400, "hook_url: Enter a valid URL.", message="bad request")
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        slug = _slugify(name)
        if slug in repo["webhook_pipelines"]:
            raise HubError(400, f"A webhook named {name} already exists.", message="bad request")
        now = w.now()
        pipeline = {
            "name": name,
            "slug": slug,
            "expect_final_callback": bool(data.get("expect_final_callback", False)),
            "webhooks": [
                {"name": str(h.get("name") or name), "hook_url": h["hook_url"], "created": now}
                for h in hooks
            ],
            "created": now,
        }
        repo["webhook_pipelines"][slug] = pipeline
        response = jsonify(_pipeline_view(w, pipeline))
    w.count("dockerhub.webhook")
    response.status_code = 201
    return response


@bp.get("/v2/repositories/<namespace>/<repository>/webhook_pipeline")
def list_pipelines(namespace: str, repository: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        rows = [_pipeline_view(w, p) for p in repo["webhook_pipelines"].values()]
        return jsonify(paginate(rows))


@bp.delete("/v2/repositories/<namespace>/<repository>/webhook_pipeline/<slug>")
def delete_pipeline(namespace: str, repository: str, slug: str) -> Response:
    identity = require_auth()
    w = world()
    with w.lock:
        repo = get_repo(namespace, repository, identity, need="admin")
        if repo["webhook_pipelines"].pop(slug, None) is None:
            raise common.not_found("webhook not found")
    return Response(status=204)


# -- audit logs --------------------------------------------------------------------------------


def _parse_time(field: str) -> float | None:
    raw = request.args.get(field)
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise HubError(
            400,
            f"invalid {field}",
            body={"code": 3, "message": f"invalid {field}: {raw}", "details": []},
        ) from exc


@bp.get("/v2/auditlogs/<account>")
def audit_logs(account: str) -> Response:
    identity = require_auth()
    w = world()
    start, end = _parse_time("from"), _parse_time("to")
    action = request.args.get("action")
    name = request.args.get("name")
    actor = request.args.get("actor")
    page, size = common.page_params(default_size=25, max_size=100)
    with w.lock:
        account = account.lower()
        org = hub()["orgs"].get(account)
        if org is not None:
            common.require_org_owner(identity, org)
        elif not (identity.kind == "user" and identity.name == account):
            raise HubError(
                403, "forbidden", body={"code": 7, "message": "permission denied", "details": []}
            )
        logs = [
            e
            for e in reversed(hub()["auditlogs"].get(account, []))
            if (action is None or e["action"] == action)
            and (name is None or e["name"] == name)
            and (actor is None or e["actor"] == actor)
            and (start is None or e["timestamp"] >= start)
            and (end is None or e["timestamp"] <= end)
        ]
        chunk = logs[(page - 1) * size : page * size]
        # Only {logs: [...]}: no count, no next (notes §8).
        return jsonify({"logs": [dict(e, timestamp=_rfc3339(e["timestamp"])) for e in chunk]})


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


AUDIT_ACTIONS = {
    "org": {
        "label": "Organization",
        "actions": [
            ("member.add", "Member added", "A member was added to the organization"),
            ("member.remove", "Member removed", "A member was removed from the organization"),
            ("member.role.change", "Member role changed", "A member's role was changed"),
            ("member.invite.send", "Invite sent", "An invite was sent"),
            ("team.create", "Team created", "A team was created"),
            ("team.member.add", "Team member added", "A member was added to a team"),
            ("team.member.remove", "Team member removed", "A member was removed from a team"),
        ],
    },
    "repo": {
        "label": "Repository",
        "actions": [
            ("create", "Repository created", "A repository was created"),
            ("update", "Repository updated", "A repository was updated"),
            ("delete", "Repository deleted", "A repository was deleted"),
            ("change_privacy", "Privacy changed", "A repository's privacy was changed"),
            ("tag.push", "Tag pushed", "A tag was pushed"),
            ("tag.delete", "Tag deleted", "A tag was deleted"),
        ],
    },
}


@bp.get("/v2/auditlogs/<account>/actions")
def audit_actions(account: str) -> Response:
    require_auth()
    groups = {
        group: {
            "actions": [
                {"name": f"{group}.{name}", "description": description, "label": label}
                for name, label, description in spec["actions"]
            ],
            "label": spec["label"],
        }
        for group, spec in AUDIT_ACTIONS.items()
    }
    return jsonify({"actions": groups})
