"""The ``/_sandbox/github/`` control routes, the page fragment, and GitHub state persistence."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest
import requests

from sandbox import github_state
from sandbox.config import SandboxConfig
from sandbox.testing import start_sandbox
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


def test_push_through_the_control_api_changes_files_and_deletes(gh: GitHub) -> None:
    gh.create_user("alice")
    gh.create_repo("alice", "repo", {"a.txt": "a", "b.txt": "b"})
    sha = gh.push("alice/repo", {"a.txt": "A", "b.txt": None, "c/d.txt": "d"})
    summary = requests.get(f"{gh.url}/_sandbox/github/repos/alice/repo", timeout=5).json()
    assert summary["branches"]["main"] == sha
    assert summary["files"] == ["a.txt", "c/d.txt"]


def test_push_validates_its_input(gh: GitHub) -> None:
    gh.create_user("alice")
    gh.create_repo("alice", "repo", {"a.txt": "a"})
    url = f"{gh.url}/_sandbox/github/repos/alice/repo/push"
    assert requests.post(url, json={}, timeout=5).status_code == 400
    assert requests.post(url, json={"files": {"a": 1}}, timeout=5).status_code == 400
    assert (
        requests.post(url, json={"files": {"a": "x"}, "pusher": "ghost"}, timeout=5).status_code
        == 400
    )
    assert (
        requests.post(url, json={"files": {"a": "x"}, "branch": "bad..name"}, timeout=5).status_code
        == 400
    )
    missing = requests.post(
        f"{gh.url}/_sandbox/github/repos/alice/none/push", json={"files": {"a": "x"}}, timeout=5
    )
    assert missing.status_code == 404
    assert requests.post(f"{gh.url}/_sandbox/github/repos", data="[]", timeout=5).status_code == 400


def test_a_plain_secret_is_sealed_for_the_repository(gh: GitHub, hub: Hub) -> None:
    gh.create_user("alice")
    gh.create_repo("alice", "repo", {})
    response = requests.put(
        f"{gh.url}/_sandbox/github/repos/alice/repo/secrets/docker_token",
        json={"value": "v1"},
        timeout=5,
    )
    assert response.status_code == 201
    repo = github_state.get_repo(hub.world, "alice/repo")
    assert repo is not None
    from nacl.public import PrivateKey, SealedBox

    private = PrivateKey(base64.b64decode(repo["secret_key"]["private"]))
    sealed = base64.b64decode(repo["secrets"]["DOCKER_TOKEN"]["encrypted_value"])
    assert SealedBox(private).decrypt(sealed) == b"v1"


def test_the_sandbox_page_shows_github_repositories_and_pushes_from_a_form(gh: GitHub) -> None:
    gh.create_user("alice")
    gh.create_repo("alice", "docker-class", {"DockerfileVolume": "FROM alpine\n"})
    page = requests.get(f"{gh.url}/_sandbox/", timeout=5)
    assert page.status_code == 200
    assert "alice/docker-class" in page.text
    assert "/_sandbox/github/repos/alice/docker-class/push" in page.text
    pushed = requests.post(
        f"{gh.url}/_sandbox/github/repos/alice/docker-class/push",
        data={"path": "app.py", "content": "print(1)\r\n", "message": "From the page"},
        allow_redirects=False,
        timeout=5,
    )
    assert pushed.status_code == 302
    assert "pushed" in urllib.parse.unquote(pushed.headers["Location"])
    content = gh.api("GET", "/repos/alice/docker-class/contents/app.py").json()
    assert base64.b64decode(content["content"]) == b"print(1)\n"


def test_github_state_survives_a_restart_with_a_data_file(tmp_path: Path) -> None:
    data_file = str(tmp_path / "sandbox.json")
    first = start_sandbox(SandboxConfig(data_file=data_file, build_delay=0.01), seed="empty")
    try:
        gh = GitHub(first.url)
        user = gh.create_user("alice")
        gh.create_repo("alice", "repo", {"a.txt": "a"})
        sha = gh.push("alice/repo", {"a.txt": "b"})
        key = gh.api("GET", "/repos/alice/repo/actions/secrets/public-key", user["token"]).json()
    finally:
        first.stop()
    second = start_sandbox(SandboxConfig(data_file=data_file, build_delay=0.01), seed="empty")
    try:
        gh = GitHub(second.url)
        branch = gh.api("GET", "/repos/alice/repo/branches/main", user["token"])
        assert branch.status_code == 200
        assert branch.json()["commit"]["sha"] == sha
        again = gh.api("GET", "/repos/alice/repo/actions/secrets/public-key", user["token"]).json()
        assert again == key
    finally:
        second.stop()
