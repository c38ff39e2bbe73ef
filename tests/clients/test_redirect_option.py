"""``allow_redirects`` in the HTTP helper, and the job log URL read without the log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubcourse import http
from hubcourse.governor import Governor, SQLiteStore
from integrations.github import client as github
from integrations.github.client import GitHubClient
from sandbox import github_state
from sandbox.testing import RunningSandbox
from tests.clients.test_http import LoopbackServer

REPO = "log-class"
WORKFLOW = """\
name: Docker image
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo building the image
"""
LOG_ROUTE = "GET /_sandbox/github/job-logs/<int:repo_id>/<int:job_id>"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    loopback = LoopbackServer()
    yield loopback
    loopback.close()
    http.close_session()


def test_a_get_told_not_to_follow_answers_the_redirect_itself(server: LoopbackServer) -> None:
    server.script("GET", "/old", status=302, headers={"Location": "/new"}, body=b"")
    server.script("GET", "/new", body={"name": "new"})

    response = http.request(
        "GET", server.url + "/old", service="GitHub", operation="read", allow_redirects=False
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/new"
    assert [s.path for s in server.seen] == ["/old"]


def test_a_write_told_to_follow_follows(server: LoopbackServer) -> None:
    server.script("POST", "/old", status=307, headers={"Location": "/new"}, body=b"")
    server.script("POST", "/new", status=201, body={"made": True})

    response = http.request(
        "POST",
        server.url + "/old",
        service="GitHub",
        operation="make",
        json={"a": 1},
        allow_redirects=True,
    )

    assert response.status_code == 201
    assert [(s.method, s.path) for s in server.seen] == [("POST", "/old"), ("POST", "/new")]


def test_without_the_option_gets_follow_and_writes_do_not(server: LoopbackServer) -> None:
    server.script("GET", "/old", status=301, headers={"Location": "/new"}, body=b"")
    server.script("GET", "/new", body={"name": "new"})
    server.script("PUT", "/old", status=307, headers={"Location": "/new"}, body=b"")

    read = http.request("GET", server.url + "/old", service="GitHub", operation="read")
    write = http.request("PUT", server.url + "/old", service="GitHub", operation="write")

    assert read.json() == {"name": "new"}
    assert write.status_code == 307
    assert [(s.method, s.path) for s in server.seen] == [
        ("GET", "/old"),
        ("GET", "/new"),
        ("PUT", "/old"),
    ]


@pytest.fixture
def client(sandbox: RunningSandbox, tmp_path: Path) -> GitHubClient:
    governor = Governor(
        github.SERVICE,
        default_limit=5000,
        window=3600.0,
        burst=30,
        max_wait=2.0,
        store=SQLiteStore(tmp_path / "governor.sqlite3"),
    )
    token = sandbox.seeded["github"]["instructor"]["token"]
    return GitHubClient(token, api_url=f"{sandbox.url}/api/v3", governor=governor)


def _finished_job(sandbox: RunningSandbox, client: GitHubClient, login: str) -> int:
    github_state.create_repo(sandbox.world, login, REPO, {"README.md": "# class\n"})
    sha = github_state.push(
        sandbox.world, f"{login}/{REPO}", "main", {".github/workflows/d.yml": WORKFLOW}, "ci", login
    )
    for _ in range(200):  # bounded: the sandbox finishes a run in a few build delays
        runs = client.list_workflow_runs(login, REPO, head_sha=sha)
        if runs and runs[0].status == "completed":
            (job,) = client.list_workflow_jobs(login, REPO, runs[0].id)
            return job.id
        time.sleep(0.05)
    raise AssertionError("the sandbox never completed the run")


def _log_downloads(sandbox: RunningSandbox) -> int:
    routes = sandbox.world.stats["requests"].get("control", {})
    return sum(routes.get(LOG_ROUTE, {}).values())


def test_the_job_log_url_is_read_from_the_redirect_without_downloading_the_log(
    sandbox: RunningSandbox, client: GitHubClient
) -> None:
    login = str(sandbox.seeded["github"]["instructor"]["login"])
    job_id = _finished_job(sandbox, client, login)

    url = client.job_log_url(login, REPO, job_id)
    downloads_after_url = _log_downloads(sandbox)
    fetched = http.request("GET", url, service="GitHub", operation="read the log").text

    assert url.startswith(f"{sandbox.url}/_sandbox/github/job-logs/")
    assert "?sig=" in url
    assert downloads_after_url == 0
    assert "echo building the image" in fetched
    assert _log_downloads(sandbox) == 1
    # Reading the log itself still follows the redirect.
    assert "echo building the image" in client.job_log(login, REPO, job_id)
