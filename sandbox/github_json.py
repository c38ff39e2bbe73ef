"""JSON shapes of the sandbox GitHub, as the REST API and webhooks write them.

Each function turns plain state (``sandbox.github_state``) into the object GitHub returns,
with every field its published OpenAPI description marks as required. Links are absolute and
point back at the sandbox (``Urls``), so a client following them stays in the sandbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.world import World


@dataclass(frozen=True)
class Urls:
    """``html`` is the web root (github.com); ``api`` the REST root (api.github.com)."""

    html: str
    api: str

    def __init__(self, base: str, api_prefix: str = "") -> None:
        object.__setattr__(self, "html", base.rstrip("/"))
        object.__setattr__(self, "api", base.rstrip("/") + api_prefix)


def iso(ts: float) -> str:
    """GitHub's timestamp format: seconds, ``Z``."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gravatar(login: str) -> str:
    return hashlib.md5(login.lower().encode(), usedforsecurity=False).hexdigest()


def simple_user(urls: Urls, user: dict[str, Any]) -> dict[str, Any]:
    login = user["login"]
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": user["id"],
        "node_id": user["node_id"],
        "avatar_url": f"{urls.html}/avatars/u/{user['id']}?v=4&g={_gravatar(login)[:8]}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.html}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": user.get("type", "User"),
        "user_view_type": "public",
        "site_admin": False,
    }


def _owned_repos(world: World, user: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        repo
        for repo in world.github["repos"].values()
        if repo["owner"].lower() == user["login"].lower()
    ]


def public_user(world: World, urls: Urls, user: dict[str, Any]) -> dict[str, Any]:
    """``GET /users/{username}``: the public-user shape (no private counts, email hidden)."""
    public_repos = sum(1 for repo in _owned_repos(world, user) if not repo["private"])
    return {
        **simple_user(urls, user),
        "name": user.get("name"),
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": iso(user["created_at"]),
        "updated_at": iso(user["updated_at"]),
    }


def private_user(world: World, urls: Urls, user: dict[str, Any]) -> dict[str, Any]:
    """``GET /user`` for the token's owner (the private-user shape)."""
    private_count = sum(1 for repo in _owned_repos(world, user) if repo["private"])
    return {
        **public_user(world, urls, user),
        "email": user.get("email"),
        "notification_email": user.get("email"),
        "private_gists": 0,
        "total_private_repos": private_count,
        "owned_private_repos": private_count,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": False,
        "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
    }


def _repo_urls(urls: Urls, full_name: str) -> dict[str, str]:
    api = f"{urls.api}/repos/{full_name}"
    return {
        "html_url": f"{urls.html}/{full_name}",
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
    }


def _clone_urls(urls: Urls, full_name: str) -> dict[str, str]:
    host = urls.html.split("://", 1)[-1]
    return {
        "git_url": f"git://{host}/{full_name}.git",
        "ssh_url": f"git@{host}:{full_name}.git",
        "clone_url": f"{urls.html}/{full_name}.git",
        "svn_url": f"{urls.html}/{full_name}",
    }


def minimal_repo(world: World, urls: Urls, repo: dict[str, Any]) -> dict[str, Any]:
    """The short repository object nested in Actions runs."""
    full_name = f"{repo['owner']}/{repo['name']}"
    owner = world.github["users"][repo["owner"].lower()]
    return {
        "id": repo["id"],
        "node_id": repo["node_id"],
        "name": repo["name"],
        "full_name": full_name,
        "owner": simple_user(urls, owner),
        "private": repo["private"],
        "description": repo["description"],
        "fork": False,
        **_repo_urls(urls, full_name),
    }


def full_repo(
    world: World, urls: Urls, repo: dict[str, Any], viewer: str | None = None
) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}`` (also the item of ``GET /user/repos``)."""
    full_name = f"{repo['owner']}/{repo['name']}"
    owner = world.github["users"][repo["owner"].lower()]
    is_owner = viewer is not None and viewer.lower() == repo["owner"].lower()
    data: dict[str, Any] = {
        **minimal_repo(world, urls, repo),
        **_clone_urls(urls, full_name),
        "owner": simple_user(urls, owner),
        "mirror_url": None,
        "homepage": None,
        "language": "Dockerfile" if repo["branches"] else None,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": sum(len(text) for text in repo["blobs"].values()) // 1024,
        "default_branch": repo["default_branch"],
        "open_issues_count": 0,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private" if repo["private"] else "public",
        "pushed_at": iso(repo["pushed_at"]),
        "created_at": iso(repo["created_at"]),
        "updated_at": iso(repo["updated_at"]),
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "license": None,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "subscribers_count": 1,
        "network_count": 0,
    }
    if viewer is not None:
        data["permissions"] = {
            "admin": is_owner,
            "maintain": is_owner,
            "push": is_owner,
            "triage": is_owner,
            "pull": True,
        }
    return data


def commit_person(person: dict[str, Any]) -> dict[str, Any]:
    return {"name": person["name"], "email": person["email"], "date": iso(person["date"])}


def git_commit(urls: Urls, full_name: str, commit: dict[str, Any]) -> dict[str, Any]:
    """The ``commit`` object of a contents write (a git commit)."""
    api = f"{urls.api}/repos/{full_name}"
    sha = commit["sha"]
    return {
        "sha": sha,
        "node_id": f"C_{sha[:20]}",
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{urls.html}/{full_name}/commit/{sha}",
        "author": commit_person(commit["author"]),
        "committer": commit_person(commit["committer"]),
        "message": commit["message"],
        "tree": {"url": f"{api}/git/trees/{commit['tree_sha']}", "sha": commit["tree_sha"]},
        "parents": [
            {
                "url": f"{api}/git/commits/{parent}",
                "html_url": f"{urls.html}/{full_name}/commit/{parent}",
                "sha": parent,
            }
            for parent in commit["parents"]
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def _commit_user(world: World, urls: Urls, person: dict[str, Any]) -> dict[str, Any] | None:
    user = world.github["users"].get(str(person.get("login", "")).lower())
    return simple_user(urls, user) if user else None


def rest_commit(world: World, urls: Urls, full_name: str, commit: dict[str, Any]) -> dict[str, Any]:
    """The commit object of ``GET /repos/{o}/{r}/commits/{ref}`` and of a branch."""
    api = f"{urls.api}/repos/{full_name}"
    sha = commit["sha"]
    return {
        "sha": sha,
        "node_id": f"C_{sha[:20]}",
        "commit": {
            "author": commit_person(commit["author"]),
            "committer": commit_person(commit["committer"]),
            "message": commit["message"],
            "tree": {"sha": commit["tree_sha"], "url": f"{api}/git/trees/{commit['tree_sha']}"},
            "url": f"{api}/git/commits/{sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{api}/commits/{sha}",
        "html_url": f"{urls.html}/{full_name}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "author": _commit_user(world, urls, commit["author"]),
        "committer": _commit_user(world, urls, commit["committer"]),
        "parents": [
            {
                "sha": parent,
                "url": f"{api}/commits/{parent}",
                "html_url": f"{urls.html}/{full_name}/commit/{parent}",
            }
            for parent in commit["parents"]
        ],
    }


def short_branch(urls: Urls, full_name: str, name: str, sha: str) -> dict[str, Any]:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{urls.api}/repos/{full_name}/commits/{sha}"},
        "protected": False,
    }


def branch_with_protection(
    world: World, urls: Urls, full_name: str, name: str, commit: dict[str, Any]
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full_name}"
    return {
        "name": name,
        "commit": rest_commit(world, urls, full_name, commit),
        "_links": {
            "self": f"{api}/branches/{name}",
            "html": f"{urls.html}/{full_name}/tree/{name}",
        },
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {
                "enforcement_level": "off",
                "contexts": [],
                "checks": [],
            },
        },
        "protection_url": f"{api}/branches/{name}/protection",
    }


def content_links(
    urls: Urls, full_name: str, path: str, ref: str, sha: str, kind: str
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full_name}"
    html_kind = "blob" if kind == "file" else "tree"
    git_kind = "blobs" if kind == "file" else "trees"
    html = f"{urls.html}/{full_name}/{html_kind}/{ref}/{path}"
    git = f"{api}/git/{git_kind}/{sha}"
    self_url = f"{api}/contents/{path}?ref={ref}"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": self_url,
        "html_url": html,
        "git_url": git,
        "download_url": (f"{urls.html}/{full_name}/raw/{ref}/{path}" if kind == "file" else None),
        "type": kind,
        "_links": {"self": self_url, "git": git, "html": html},
    }


def hook(
    urls: Urls, full_name: str, data: dict[str, Any], last_response: dict[str, Any]
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full_name}/hooks/{data['id']}"
    config = {key: value for key, value in data["config"].items() if key != "secret"}
    if data["config"].get("secret"):
        # GitHub never returns a hook's secret, only that there is one.
        config["secret"] = "********"  # noqa: S105 - a mask, not a secret
    return {
        "type": "Repository",
        "id": data["id"],
        "name": "web",
        "active": data["active"],
        "events": list(data["events"]),
        "config": config,
        "updated_at": iso(data["updated_at"]),
        "created_at": iso(data["created_at"]),
        "url": api,
        "test_url": f"{api}/test",
        "ping_url": f"{api}/pings",
        "deliveries_url": f"{api}/deliveries",
        "last_response": last_response,
    }


def _payload_commit(urls: Urls, full_name: str, commit: dict[str, Any]) -> dict[str, Any]:
    def person(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["name"], "email": data["email"], "username": data["login"]}

    return {
        "id": commit["sha"],
        "tree_id": commit["tree_sha"],
        "distinct": True,
        "message": commit["message"],
        "timestamp": dt.datetime.fromtimestamp(commit["committer"]["date"], tz=dt.UTC).isoformat(
            timespec="seconds"
        ),
        "url": f"{urls.html}/{full_name}/commit/{commit['sha']}",
        "author": person(commit["author"]),
        "committer": person(commit["committer"]),
        "added": list(commit["added"]),
        "removed": list(commit["removed"]),
        "modified": list(commit["modified"]),
    }


def webhook_repo(world: World, urls: Urls, repo: dict[str, Any], *, push: bool) -> dict[str, Any]:
    """The ``repository`` of a webhook payload; push events use unix times for two dates."""
    data = full_repo(world, urls, repo)
    owner = world.github["users"][repo["owner"].lower()]
    data["owner"] = {**data["owner"], "name": owner["login"], "email": owner.get("email")}
    if push:
        data["created_at"] = int(repo["created_at"])
        data["pushed_at"] = int(repo["pushed_at"])
        data["stargazers"] = 0
        data["master_branch"] = repo["default_branch"]
    data["custom_properties"] = {}
    return data


def push_payload(
    world: World,
    urls: Urls,
    repo: dict[str, Any],
    branch: str,
    before: str | None,
    after: str,
    pusher: str,
) -> dict[str, Any]:
    """The ``push`` webhook event for one new commit on ``branch``."""
    full_name = f"{repo['owner']}/{repo['name']}"
    commit = repo["commits"][after]
    payload_commit = _payload_commit(urls, full_name, commit)
    user = world.github["users"].get(pusher.lower())
    sender = simple_user(urls, user) if user else None
    zero = "0" * 40
    return {
        "ref": f"refs/heads/{branch}",
        "before": before or zero,
        "after": after,
        "repository": webhook_repo(world, urls, repo, push=True),
        "pusher": {
            "name": user["login"] if user else pusher,
            "email": (user or {}).get("email") or f"{pusher}@users.noreply.github.com",
        },
        "sender": sender,
        "created": before is None,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": (
            f"{urls.html}/{full_name}/commit/{after[:12]}"
            if before is None
            else f"{urls.html}/{full_name}/compare/{before[:12]}...{after[:12]}"
        ),
        "commits": [payload_commit],
        "head_commit": payload_commit,
    }
