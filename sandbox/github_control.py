"""Control routes for the sandbox GitHub, under ``/_sandbox/github/`` (JSON or page forms).

Create users (with a personal access token), OAuth apps and repositories with files, push a
commit, store a repository secret from its plain value, force the next N API answers to be
secondary rate-limit refusals, and download Actions job logs (where ``.../jobs/{id}/logs``
redirects to). The page fragment ``github_control_fragment.html`` is included by the main
sandbox page; :func:`overview` feeds it.
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, request, url_for
from nacl.public import PublicKey, SealedBox

from sandbox import actions, github_state
from sandbox.github_state import GitHubStateError

if TYPE_CHECKING:
    from sandbox.world import World

bp = Blueprint("github_control", __name__, template_folder="templates")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def world() -> World:
    found: World = current_app.extensions["sandbox_world"]
    return found


def _from_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if _from_form():
        return request.form.to_dict()
    if not request.get_data():
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _text(data: dict[str, Any], field: str, *, required: bool = True, default: str = "") -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise ControlError(400, f"{field} is required")
        return default
    if not isinstance(value, str):
        raise ControlError(400, f"{field} must be a string")
    return value.strip()


def _files(data: dict[str, Any], *, allow_delete: bool) -> dict[str, Any]:
    """``files`` as a JSON object, or from the page: one ``path`` and its ``content``."""
    if _from_form():
        path = _text(data, "path", required=False)
        if not path:
            return {}
        content = data.get("content", "")
        return {
            path: None if allow_delete and data.get("delete") else content.replace("\r\n", "\n")
        }
    files = data.get("files", {})
    if not isinstance(files, dict):
        raise ControlError(400, "files must be an object of path -> text")
    for path, content in files.items():
        if not isinstance(path, str) or not path.strip("/"):
            raise ControlError(400, "every file path must be a non-empty string")
        if content is None and not allow_delete:
            raise ControlError(400, f"{path}: content must be a string")
        if content is not None and not isinstance(content, str):
            raise ControlError(400, f"{path}: content must be a string or null (delete)")
    return files


def _done(payload: Any, status: int = 200, message: str = "done") -> Response:
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


@bp.errorhandler(GitHubStateError)
def _state_error(exc: GitHubStateError) -> Response:
    return _control_error(ControlError(400 if exc.status == 422 else exc.status, exc.message))


# -- users and apps --------------------------------------------------------------------------


@bp.get("/users")
def list_users() -> Response:
    w = world()
    with w.lock:
        users = [
            {"login": user["login"], "id": user["id"], "email": user["email"], "name": user["name"]}
            for user in sorted(w.github["users"].values(), key=lambda user: user["login"].lower())
        ]
    return jsonify(users)


@bp.post("/users")
def create_user() -> Response:
    data = _body()
    user = github_state.create_user(
        world(),
        _text(data, "login"),
        _text(data, "email", required=False) or None,
        _text(data, "name", required=False) or None,
    )
    body = {key: user[key] for key in ("login", "id", "email", "name", "token")}
    return _done(body, 201, message=f"GitHub user {user['login']} created")


@bp.post("/oauth-apps")
def create_oauth_app() -> Response:
    data = _body()
    app = github_state.create_oauth_app(
        world(),
        _text(data, "client_id", required=False) or None,
        _text(data, "client_secret", required=False) or None,
        _text(data, "name", required=False, default="hubcourse"),
        _text(data, "callback_url", required=False) or None,
    )
    return _done(app, 201, message=f"OAuth app {app['client_id']} registered")


# -- repositories ------------------------------------------------------------------------------


def _summary(w: World, repo: dict[str, Any]) -> dict[str, Any]:
    head = repo["branches"].get(repo["default_branch"])
    tree = repo["commits"][head]["tree"] if head else {}
    runs = sorted(repo["runs"].values(), key=lambda run: run["id"], reverse=True)
    return {
        "id": repo["id"],
        "full_name": github_state.full_name_of(repo),
        "private": repo["private"],
        "default_branch": repo["default_branch"],
        "branches": dict(repo["branches"]),
        "files": sorted(tree),
        "hooks": [
            {
                "id": hook["id"],
                "url": hook["config"]["url"],
                "events": hook["events"],
                "active": hook["active"],
            }
            for hook in repo["hooks"].values()
        ],
        "secrets": sorted(repo["secrets"]),
        "variables": {k: v["value"] for k, v in sorted(repo.get("variables", {}).items())},
        "runs": [
            {
                "id": run["id"],
                "name": run["name"],
                "head_sha": run["head_sha"],
                "status": run["status"],
                "conclusion": run["conclusion"],
                "jobs": run["job_ids"],
            }
            for run in runs[:20]
        ],
    }


def overview() -> list[dict[str, Any]]:
    """Every repository's summary, for the page."""
    w = world()
    with w.lock:
        return [
            _summary(w, repo)
            for repo in sorted(w.github["repos"].values(), key=github_state.full_name_of)
        ]


@bp.get("/repos")
def list_repos() -> Response:
    return jsonify(overview())


@bp.post("/repos")
def create_repo() -> Response:
    data = _body()
    private = data.get("private", False)
    if isinstance(private, str):
        private = private.lower() in ("1", "true", "on", "yes")
    repo = github_state.create_repo(
        world(),
        _text(data, "owner"),
        _text(data, "name"),
        _files(data, allow_delete=False),
        private=bool(private),
        default_branch=_text(data, "default_branch", required=False, default="main"),
        description=_text(data, "description", required=False) or None,
    )
    return _done(repo, 201, message=f"repository {repo['full_name']} created")


def _repo_or_404(owner: str, name: str) -> dict[str, Any]:
    repo = github_state.get_repo(world(), f"{owner}/{name}")
    if repo is None:
        raise ControlError(404, f"no repository {owner}/{name}")
    return repo


@bp.get("/repos/<owner>/<name>")
def get_repo(owner: str, name: str) -> Response:
    w = world()
    with w.lock:
        return jsonify(_summary(w, _repo_or_404(owner, name)))


@bp.post("/repos/<owner>/<name>/push")
def push(owner: str, name: str) -> Response:
    """Commit files (null deletes) on a branch as if ``git push`` had happened."""
    data = _body()
    repo = _repo_or_404(owner, name)
    files = _files(data, allow_delete=True)
    if not files:
        raise ControlError(400, "files is required")
    branch = _text(data, "branch", required=False, default=repo["default_branch"])
    pusher = _text(data, "pusher", required=False, default=repo["owner"])
    if github_state.get_user(world(), pusher) is None:
        raise ControlError(400, f"no GitHub user {pusher}")
    message = _text(data, "message", required=False, default=f"Update {', '.join(sorted(files))}")
    sha = github_state.push(world(), f"{owner}/{name}", branch, files, message, pusher)
    return _done(
        {"sha": sha, "branch": branch}, 201, message=f"pushed {sha[:7]} to {owner}/{name}@{branch}"
    )


@bp.post("/repos/<owner>/<name>/actions/fail-next-run")
def fail_next_run(owner: str, name: str) -> Response:
    """The repository's next workflow run fails at its image build (the reason in its log)."""
    data = _body()
    repo = _repo_or_404(owner, name)
    reason = _text(
        data,
        "reason",
        required=False,
        default="the build failed (forced from the sandbox control page)",
    )
    full_name = github_state.full_name_of(repo)
    actions.fail_next_run(world(), full_name, reason)
    return _done(
        {"repository": full_name, "fail_next_run": reason},
        message=f"the next workflow run of {full_name} will fail",
    )


@bp.put("/repos/<owner>/<name>/secrets/<secret_name>")
@bp.post("/repos/<owner>/<name>/secrets/<secret_name>")
def put_secret(owner: str, name: str, secret_name: str) -> Response:
    """Seal ``value`` with the repository's public key and store it, as a client would."""
    data = _body()
    value = _text(data, "value")
    w = world()
    with w.lock:
        repo = _repo_or_404(owner, name)
        key = repo["secret_key"]
        sealed = SealedBox(PublicKey(base64.b64decode(key["public"]))).encrypt(value.encode())
        now = w.now()
        existing = repo["secrets"].get(secret_name.upper())
        repo["secrets"][secret_name.upper()] = {
            "encrypted_value": base64.b64encode(sealed).decode(),
            "key_id": key["key_id"],
            "created_at": existing["created_at"] if existing else now,
            "updated_at": now,
        }
    w.save()
    return _done({"name": secret_name.upper()}, 201, message=f"secret {secret_name.upper()} stored")


# -- rate limits and logs ------------------------------------------------------------------------


@bp.post("/secondary-limit")
def force_secondary_limit() -> Response:
    """The next ``count`` GitHub API requests get a secondary rate-limit refusal."""
    data = _body()
    try:
        count = int(data.get("count", 1))
        status = int(data.get("status", 403))
        retry_after = int(data.get("retry_after", 60))
    except (TypeError, ValueError) as exc:
        raise ControlError(400, "count, status and retry_after must be integers") from exc
    if status not in (403, 429) or count < 0 or retry_after < 0:
        raise ControlError(400, "status must be 403 or 429; count and retry_after >= 0")
    w = world()
    with w.lock:
        w.github["secondary"] = {"remaining": count, "status": status, "retry_after": retry_after}
    return _done(w.github["secondary"], message=f"next {count} GitHub requests get a {status}")


@bp.get("/job-logs/<int:repo_id>/<int:job_id>")
def job_logs(repo_id: int, job_id: int) -> Response:
    w = world()
    with w.lock:
        repo = next((r for r in w.github["repos"].values() if r["id"] == repo_id), None)
        job = repo["jobs"].get(str(job_id)) if repo else None
        ticket = request.args.get("sig", "")
        if (
            job is None
            or not job.get("log_ticket")
            or not secrets.compare_digest(job["log_ticket"], ticket)
        ):
            # Blob storage answers an expired or forged link with an XML error.
            return Response(
                '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code></Error>',
                status=403,
                mimetype="application/xml",
            )
        text = "\n".join(job["log"]) + "\n"
    return Response(text, mimetype="text/plain")


def install(app: Flask, the_world: World) -> None:
    app.register_blueprint(bp, url_prefix="/_sandbox/github")

    @app.context_processor
    def github_overview() -> dict[str, Any]:
        # Lazy: only the page that includes the fragment pays for it.
        return {"github_overview": overview}
