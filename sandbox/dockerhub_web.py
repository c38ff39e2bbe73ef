"""Docker Hub's web pages for the links hubcourse gives people: ``/r/<namespace>/<name>`` and
``/_/<name>`` (Docker Official Images).

hubcourse links students to ``DOCKERHUB_WEB_URL/r/<namespace>/<name>`` (and pre-flight names
``/_/<image>``); in development that is the sandbox. These are small server-rendered pages with
no scripts and nothing from a CDN.

Fidelity: the real pages are a JavaScript application that shows a private repository only to
a signed-in member; here every repository is shown to anyone (the privacy is labelled), with
its tags (digest, last pushed) and its latest automated builds. ``/r/library/<name>`` redirects
to ``/_/<name>`` as on Docker Hub. An unknown repository is a 404 page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from sandbox import autobuild
from sandbox.dockerhub import digest_of
from sandbox.images import OFFICIAL_IMAGES
from sandbox.world import World

bp = Blueprint("dockerhub_web", __name__, template_folder="templates")

# The latest builds a repository page lists, newest first.
LATEST_BUILDS = 10


def world() -> World:
    w: World = current_app.extensions["sandbox_world"]
    return w


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _not_found(kind: str, name: str) -> tuple[str, int]:
    return render_template("dockerhub_web/not_found.html", kind=kind, name=name), 404


@bp.get("/r/<namespace>/<name>")
def repository(namespace: str, name: str) -> Response | tuple[str, int] | str:
    if namespace.lower() == "library":
        return redirect(url_for("dockerhub_web.official", name=name), code=301)
    w = world()
    key = f"{namespace.lower()}/{name.lower()}"
    with w.lock:
        repo = w.dockerhub["repos"].get(key)
        if repo is None:
            return _not_found("repository", key)
        tags = [
            {"name": t["name"], "digest": t["digest"], "pushed": when(t["last_pushed"])}
            for t in sorted(repo["tags"].values(), key=lambda t: t["last_pushed"], reverse=True)
        ]
        actions = sorted(
            (a for a in autobuild.builds(w)["actions"].values() if a["image"].lower() == key),
            key=lambda a: a["created"],
            reverse=True,
        )[:LATEST_BUILDS]
        builds = [_build_row(a) for a in actions]
        view: dict[str, Any] = {
            "full_name": key,
            "description": repo["description"],
            "private": repo["is_private"],
            "registered": when(repo["date_registered"]),
            "updated": when(repo["last_updated"]),
        }
    return render_template("dockerhub_web/repository.html", repo=view, tags=tags, builds=builds)


def _build_row(action: dict[str, Any]) -> dict[str, str]:
    return {
        "state": action["state"],
        "branch": action["source_name"],
        "commit": action["commit"][:7],
        "tag": action["build_tag"],
        "created": when(action["created"]),
        "finished": when(action["end_date"]),
    }


@bp.get("/_/<name>")
def official(name: str) -> tuple[str, int] | str:
    image = name.lower()
    known = OFFICIAL_IMAGES.get(image)
    if known is None:
        return _not_found("official image", image)
    tags = [{"name": tag, "digest": digest_of(f"library/{image}", tag)} for tag in known]
    return render_template("dockerhub_web/official.html", name=image, tags=tags)
