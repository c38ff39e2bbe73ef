"""Repositories, branches and contents of the sandbox GitHub, over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sandbox import github_state
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub

DOCKERFILE = 'FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n'


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def alice(gh: GitHub) -> dict[str, Any]:
    user = gh.create_user("alice")
    gh.create_repo(
        "alice", "docker-class", {"DockerfileVolume": DOCKERFILE, "app/app.py": "print(1)\n"}
    )
    return user


def decoded(response_json: dict[str, Any]) -> str:
    assert response_json["encoding"] == "base64"
    return base64.b64decode(response_json["content"]).decode()


@pytest.mark.parametrize("prefix", ["", "/api/v3"])
def test_routes_answer_under_both_roots_with_links_in_the_same_layout(
    gh: GitHub, alice: dict[str, Any], prefix: str
) -> None:
    response = gh.api("GET", "/repos/alice/docker-class", alice["token"], prefix=prefix)
    assert response.status_code == 200
    body = response.json()
    assert body["full_name"] == "alice/docker-class"
    assert body["default_branch"] == "main"
    assert body["url"] == f"{gh.url}{prefix}/repos/alice/docker-class"
    assert body["permissions"]["admin"] is True


def test_repository_names_are_case_insensitive(gh: GitHub, alice: dict[str, Any]) -> None:
    response = gh.api("GET", "/repos/ALICE/Docker-Class")
    assert response.status_code == 200
    assert response.json()["full_name"] == "alice/docker-class"


def test_contents_are_base64_at_a_branch_and_at_a_sha(gh: GitHub, alice: dict[str, Any]) -> None:
    first = gh.api("GET", "/repos/alice/docker-class/contents/DockerfileVolume?ref=main").json()
    assert decoded(first) == DOCKERFILE
    assert first["sha"] == github_state.blob_sha(DOCKERFILE)
    old_head = gh.api("GET", "/repos/alice/docker-class/branches/main").json()["commit"]["sha"]
    gh.push("alice/docker-class", {"DockerfileVolume": "FROM alpine\n"})
    assert (
        decoded(gh.api("GET", "/repos/alice/docker-class/contents/DockerfileVolume").json())
        == "FROM alpine\n"
    )
    at_old = gh.api(
        "GET", f"/repos/alice/docker-class/contents/DockerfileVolume?ref={old_head[:10]}"
    )
    assert decoded(at_old.json()) == DOCKERFILE


def test_a_directory_lists_files_and_subdirectories(gh: GitHub, alice: dict[str, Any]) -> None:
    listing = gh.api("GET", "/repos/alice/docker-class/contents/").json()
    assert [(item["name"], item["type"]) for item in listing] == [
        ("DockerfileVolume", "file"),
        ("app", "dir"),
    ]
    sub = gh.api("GET", "/repos/alice/docker-class/contents/app").json()
    assert [item["path"] for item in sub] == ["app/app.py"]


def test_missing_paths_refs_and_repositories_are_404(gh: GitHub, alice: dict[str, Any]) -> None:
    missing = gh.api("GET", "/repos/alice/docker-class/contents/Dockerfile")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"
    assert "documentation_url" in missing.json()
    bad_ref = gh.api("GET", "/repos/alice/docker-class/contents/DockerfileVolume?ref=nope")
    assert bad_ref.status_code == 404
    assert "No commit found for the ref nope" in bad_ref.json()["message"]
    assert gh.api("GET", "/repos/alice/nothing").status_code == 404


def test_an_empty_repository_says_so(gh: GitHub, alice: dict[str, Any]) -> None:
    gh.create_repo("alice", "empty", {})
    response = gh.api("GET", "/repos/alice/empty/contents/README.md")
    assert response.status_code == 404
    assert response.json()["message"] == "This repository is empty."
    assert gh.api("GET", "/repos/alice/empty/branches").json() == []


def test_put_contents_creates_then_updates_with_the_current_sha(
    gh: GitHub, alice: dict[str, Any]
) -> None:
    content = base64.b64encode(b"hello\n").decode()
    created = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/docs/README.md",
        alice["token"],
        json={"message": "Add readme", "content": content},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["content"]["path"] == "docs/README.md"
    assert body["commit"]["message"] == "Add readme"
    head = gh.api("GET", "/repos/alice/docker-class/branches/main").json()["commit"]["sha"]
    assert body["commit"]["sha"] == head

    no_sha = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/docs/README.md",
        alice["token"],
        json={"message": "Change", "content": content},
    )
    assert no_sha.status_code == 422
    assert '"sha" wasn\'t supplied' in no_sha.json()["message"]

    stale = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/docs/README.md",
        alice["token"],
        json={"message": "Change", "content": content, "sha": "0" * 40},
    )
    assert stale.status_code == 409

    updated = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/docs/README.md",
        alice["token"],
        json={
            "message": "Change",
            "content": base64.b64encode(b"bye\n").decode(),
            "sha": body["content"]["sha"],
        },
    )
    assert updated.status_code == 200
    read = gh.api("GET", "/repos/alice/docker-class/contents/docs/README.md").json()
    assert decoded(read) == "bye\n"


def test_put_contents_validates_its_body(gh: GitHub, alice: dict[str, Any]) -> None:
    path = "/repos/alice/docker-class/contents/x.txt"
    no_message = gh.api("PUT", path, alice["token"], json={"content": "aGk="})
    assert no_message.status_code == 422
    not_json = gh.api("PUT", path, alice["token"], data="{nope")
    assert not_json.status_code == 400
    assert not_json.json()["message"] == "Problems parsing JSON"


def test_others_cannot_write_and_private_repositories_are_hidden(
    gh: GitHub, alice: dict[str, Any]
) -> None:
    bob = gh.create_user("bob")
    gh.create_repo("alice", "secret-work", {"a.txt": "a"}, private=True)
    write = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/x.txt",
        bob["token"],
        json={"message": "m", "content": "aGk="},
    )
    assert write.status_code == 404
    assert gh.api("GET", "/repos/alice/secret-work", bob["token"]).status_code == 404
    assert gh.api("GET", "/repos/alice/secret-work").status_code == 404
    assert gh.api("GET", "/repos/alice/secret-work", alice["token"]).status_code == 200


def test_a_workflow_file_needs_the_workflow_scope(
    gh: GitHub, hub: Hub, alice: dict[str, Any]
) -> None:
    token = github_state.issue_token(hub.world, "alice", scopes=["repo"], kind="oauth")
    response = gh.api(
        "PUT",
        "/repos/alice/docker-class/contents/.github/workflows/build.yml",
        token,
        json={"message": "Add workflow", "content": "b246IHB1c2g="},
    )
    assert response.status_code == 404
    assert response.headers["X-Accepted-OAuth-Scopes"] == "workflow"


def test_branches_list_and_detail(gh: GitHub, alice: dict[str, Any]) -> None:
    sha = gh.push("alice/docker-class", {"feature.txt": "x"}, branch="feature/x")
    names = [b["name"] for b in gh.api("GET", "/repos/alice/docker-class/branches").json()]
    assert names == ["feature/x", "main"]
    detail = gh.api("GET", "/repos/alice/docker-class/branches/feature/x").json()
    assert detail["commit"]["sha"] == sha
    assert detail["commit"]["commit"]["message"] == "Change"
    assert gh.api("GET", "/repos/alice/docker-class/branches/none").status_code == 404


def test_user_repos_paginate_with_an_absolute_link_header(
    gh: GitHub, alice: dict[str, Any]
) -> None:
    for number in range(4):
        gh.create_repo("alice", f"extra-{number}", {})
    first = gh.api("GET", "/user/repos?per_page=2", alice["token"])
    assert len(first.json()) == 2
    links = first.links
    assert links["next"]["url"].startswith(f"{gh.url}/api/v3/user/repos?")
    assert "page=3" in links["last"]["url"]
    seen = [repo["name"] for repo in first.json()]
    url: str | None = links["next"]["url"]
    while url:
        page = gh.api("GET", url.removeprefix(gh.url), alice["token"], prefix="")
        seen += [repo["name"] for repo in page.json()]
        url = page.links.get("next", {}).get("url")
    assert sorted(seen) == sorted(["docker-class", *(f"extra-{n}" for n in range(4))])


def test_the_control_api_refuses_bad_names(gh: GitHub) -> None:
    import requests

    gh.create_user("carol")
    bad = requests.post(
        f"{gh.url}/_sandbox/github/repos", json={"owner": "carol", "name": "bad name!"}, timeout=5
    )
    assert bad.status_code == 400
    assert "name is invalid" in bad.json()["error"]
    bad_user = requests.post(f"{gh.url}/_sandbox/github/users", json={"login": "-bad-"}, timeout=5)
    assert bad_user.status_code == 400


def test_a_renamed_repository_answers_its_old_name_with_301(
    gh: GitHub, alice: dict[str, Any]
) -> None:
    renamed = gh.api(
        "PATCH", "/repos/alice/docker-class", alice["token"], json={"name": "docker-course"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["full_name"] == "alice/docker-course"
    repo_id = renamed.json()["id"]

    moved = gh.api("GET", "/repos/alice/docker-class", alice["token"], allow_redirects=False)
    assert moved.status_code == 301
    location = f"{gh.url}/api/v3/repositories/{repo_id}"
    assert moved.headers["Location"] == location
    assert moved.json()["url"] == location
    followed = gh.api("GET", "/repos/alice/docker-class", alice["token"])
    assert followed.json()["full_name"] == "alice/docker-course"
    content = gh.api(
        "GET", "/repos/alice/docker-class/contents/DockerfileVolume?ref=main", alice["token"]
    )
    assert content.status_code == 200
    assert decoded(content.json()) == DOCKERFILE

    # A new repository under the old name ends the redirect.
    gh.create_repo("alice", "docker-class", {})
    assert gh.api("GET", "/repos/alice/docker-class", allow_redirects=False).status_code == 200


def test_renaming_onto_a_taken_name_is_422(gh: GitHub, alice: dict[str, Any]) -> None:
    gh.create_repo("alice", "taken", {})
    response = gh.api("PATCH", "/repos/alice/docker-class", alice["token"], json={"name": "taken"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
