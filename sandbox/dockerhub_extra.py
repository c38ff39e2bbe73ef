"""Public images on the sandbox Docker Hub: Docker Official Images and the catalog search.

hubcourse's pre-flight asks whether a Dockerfile's ``FROM`` images are Docker Official
Images (``library/<name>`` exists, with that tag) or Verified Publisher images (the catalog
search reports ``badge: verified_publisher``). The sandbox answers from the images it builds
with (``sandbox.images``), so what the pre-flight accepts is exactly what a sandbox build can
pull.

Fidelity: the repository view is the spec's whole ``repository_info`` (required and optional
fields, as an anonymous caller sees them: no write permission, nothing starred), for official
images and, through ``public_repository``, Verified Publisher ones; the tag view carries the
fields hubcourse reads; the catalog search (undocumented, notes §13)
returns ``{total, results: [{id, name, slug, type, source, badge, publisher}]}`` and filters
only by substring of ``query``, with ``from``/``size`` paging.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import dockerhub_common as common
from sandbox.dockerhub import digest_of
from sandbox.images import OFFICIAL_IMAGES, VERIFIED_IMAGES

bp = Blueprint("dockerhub_extra", __name__)


@bp.errorhandler(common.HubError)
def _hub_error(exc: common.HubError) -> Response:
    return exc.response()


# A fixed date: these images are older than any sandbox world.
_REGISTERED = "2014-06-05T20:00:00.000000Z"


def _repository(namespace: str, name: str) -> dict[str, Any]:
    return {
        "hub_user": namespace,
        "last_modified": _REGISTERED,
        "can_edit": False,
        "collaborator_count": 0,
        "has_starred": False,
        "full_description": f"# {name}\n\nA public image the sandbox builds with.",
        "permissions": {"read": True, "write": False, "admin": False},
        "immutable_tags_settings": {"enabled": False, "rules": []},
        "storage_size": None,
        "source": None,
        "user": namespace,
        "name": name,
        "namespace": namespace,
        "repository_type": "image",
        "status": 1,
        "status_description": "active",
        "description": f"The {name} image",
        "is_private": False,
        "is_automated": False,
        "star_count": 1000,
        "pull_count": 1_000_000,
        "last_updated": _REGISTERED,
        "date_registered": _REGISTERED,
        "affiliation": None,
        "media_types": ["application/vnd.oci.image.index.v1+json"],
        "content_types": ["image"],
        "categories": [],
    }


def _tags_of(namespace: str, name: str) -> tuple[str, ...]:
    if namespace == "library":
        tags = OFFICIAL_IMAGES.get(name)
    else:
        tags = VERIFIED_IMAGES.get(f"{namespace}/{name}")
    if tags is None:
        raise common.not_found()
    return tags


def public_repository(namespace: str, name: str) -> dict[str, Any] | None:
    """The view of a Verified Publisher image, ``None`` when ``namespace/name`` is not one."""
    if f"{namespace.lower()}/{name.lower()}" not in VERIFIED_IMAGES:
        return None
    return _repository(namespace.lower(), name.lower())


@bp.get("/v2/namespaces/library/repositories/<name>")
@bp.get("/v2/repositories/library/<name>")
def official_repository(name: str) -> Response:
    _tags_of("library", name.lower())
    return jsonify(_repository("library", name.lower()))


@bp.get("/v2/namespaces/library/repositories/<name>/tags/<tag>")
@bp.get("/v2/repositories/library/<name>/tags/<tag>")
def official_tag(name: str, tag: str) -> Response:
    if tag not in _tags_of("library", name.lower()):
        raise common.not_found()
    digest = digest_of(f"library/{name.lower()}", tag)
    return jsonify(
        {
            "name": tag,
            "digest": digest,
            "last_updated": _REGISTERED,
            "tag_last_pushed": _REGISTERED,
            "tag_status": "active",
            "images": [],
        }
    )


@bp.get("/api/search/v3/catalog/search")
def catalog_search() -> Response:
    query = request.args.get("query", "").strip().lower()
    start = max(0, int(request.args.get("from", "0") or 0))
    size = min(100, max(1, int(request.args.get("size", "25") or 25)))
    entries: list[dict[str, Any]] = []
    for name in sorted(OFFICIAL_IMAGES):
        entries.append(_entry(name, name, "official", "Docker"))
    for full in sorted(VERIFIED_IMAGES):
        publisher = full.split("/", 1)[0]
        entries.append(_entry(full, full, "verified_publisher", publisher))
    matches = [entry for entry in entries if query in entry["name"]]
    return jsonify({"total": len(matches), "results": matches[start : start + size]})


def _entry(name: str, slug: str, badge: str, publisher: str) -> dict[str, Any]:
    return {
        "id": slug,
        "name": name,
        "slug": slug,
        "type": "image",
        "source": "store" if badge != "none" else "community",
        "badge": badge,
        "publisher": {"id": publisher, "name": publisher},
    }
