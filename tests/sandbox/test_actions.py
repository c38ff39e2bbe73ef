"""GitHub Actions runs for the github-actions build backend: push -> run -> Docker Hub tag."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from nacl.public import PublicKey, SealedBox

from sandbox import actions
from tests.sandbox.conftest import Hub
from tests.sandbox.github_support import GitHub

DOCKERFILE = 'FROM python:3.12-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n'

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
      - name: Log in to Docker Hub
        uses: docker/login-action@v3
        with:
          username: ${{ vars.DOCKERHUB_USERNAME }}
          password: ${{ secrets.DOCKERHUB_TOKEN }}
      - uses: docker/setup-buildx-action@v3
      - uses: docker/build-push-action@v6
        with:
          context: .
          file: ./DockerfileVolume
          push: true
          tags: %(tags)s
"""


@pytest.fixture
def gh(hub: Hub) -> GitHub:
    return GitHub(hub.url)


@pytest.fixture
def student(gh: GitHub, hub: Hub) -> dict[str, Any]:
    """A student repository with the workflow, its secrets, and the Docker Hub repository."""
    created = hub.create_repo("alice", hub.org_token())
    assert created.status_code == 201, created.text
    user = gh.create_user("alice")
    files = {
        "DockerfileVolume": DOCKERFILE,
        "app.py": "print('hello')\n",
        ".github/workflows/docker.yml": WORKFLOW % {"tags": f"{hub.org}/alice:latest"},
    }
    gh.create_repo("alice", "docker-class", files)
    # The login name as a repository variable (read in the clear), the token as a secret.
    made = gh.api(
        "POST",
        "/repos/alice/docker-class/actions/variables",
        user["token"],
        json={"name": "DOCKERHUB_USERNAME", "value": hub.org},
    )
    assert made.status_code == 201, made.text
    set_secret(gh, user["token"], "DOCKERHUB_TOKEN", hub.seeded["dockerhub"]["org_token"])
    return user


def set_secret(gh: GitHub, token: str, name: str, value: str) -> None:
    key = gh.api("GET", "/repos/alice/docker-class/actions/secrets/public-key", token).json()
    sealed = SealedBox(PublicKey(base64.b64decode(key["key"]))).encrypt(value.encode())
    body = {"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]}
    response = gh.api("PUT", f"/repos/alice/docker-class/actions/secrets/{name}", token, json=body)
    assert response.status_code in (201, 204), response.text


def runs(gh: GitHub, token: str, query: str = "") -> list[dict[str, Any]]:
    response = gh.api("GET", f"/repos/alice/docker-class/actions/runs{query}", token)
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == len(body["workflow_runs"])
    return list(body["workflow_runs"])


def finished_run(gh: GitHub, hub: Hub, token: str, sha: str) -> dict[str, Any]:
    assert hub.world.wait_idle(10)
    (run,) = runs(gh, token, f"?head_sha={sha}")
    assert run["status"] == "completed"
    return run


def job_log(gh: GitHub, token: str, run: dict[str, Any]) -> tuple[dict[str, Any], str]:
    jobs = gh.api("GET", f"/repos/alice/docker-class/actions/runs/{run['id']}/jobs", token).json()
    (job,) = jobs["jobs"]
    redirect = gh.api(
        "GET",
        f"/repos/alice/docker-class/actions/jobs/{job['id']}/logs",
        token,
        allow_redirects=False,
    )
    assert redirect.status_code == 302
    text = requests.get(redirect.headers["Location"], timeout=5)
    assert text.status_code == 200
    return job, text.text


def test_a_push_runs_the_workflow_and_pushes_the_tag(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    sha = gh.push("alice/docker-class", {"app.py": "print('v2')\n"}, message="Second version")
    run = finished_run(gh, hub, student["token"], sha)
    assert run["conclusion"] == "success"
    assert run["event"] == "push"
    assert run["head_branch"] == "main"
    assert run["display_title"] == "Second version"
    assert run["path"] == ".github/workflows/docker.yml"
    assert run["name"] == "Docker image"

    job, log = job_log(gh, student["token"], run)
    assert job["conclusion"] == "success"
    assert [step["name"] for step in job["steps"]][:3] == [
        "Set up job",
        "Run actions/checkout@v4",
        "Log in to Docker Hub",
    ]
    assert "Login Succeeded!" in log

    tags = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/alice/tags",
        headers=hub.org_token(),
        timeout=5,
    )
    assert [tag["name"] for tag in tags.json()["results"]] == ["latest"]
    assert tags.json()["results"][0]["tag_last_pushed"]


def test_runs_move_from_queued_through_in_progress(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    hub.world.config.update({"build_delay": 30.0})
    sha = gh.push("alice/docker-class", {"app.py": "print('v3')\n"})
    (run,) = runs(gh, student["token"], f"?head_sha={sha}")
    assert (run["status"], run["conclusion"]) == ("queued", None)
    queued = runs(gh, student["token"], "?status=queued")
    assert [r["id"] for r in queued] == [run["id"]]
    # Not waiting 30 s: the state moves are driven directly.
    actions._start_run(hub.world, "alice/docker-class", run["id"])
    moved = gh.api(
        "GET", f"/repos/alice/docker-class/actions/runs/{run['id']}", student["token"]
    ).json()
    assert moved["status"] == "in_progress"
    actions._finish_run(hub.world, "alice/docker-class", run["id"])
    done = gh.api(
        "GET", f"/repos/alice/docker-class/actions/runs/{run['id']}", student["token"]
    ).json()
    assert (done["status"], done["conclusion"]) == ("completed", "success")


def test_a_missing_secret_fails_the_login_step_with_a_log_line(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    gh.api("DELETE", "/repos/alice/docker-class/actions/secrets/DOCKERHUB_TOKEN", student["token"])
    sha = gh.push("alice/docker-class", {"app.py": "print('x')\n"})
    run = finished_run(gh, hub, student["token"], sha)
    assert run["conclusion"] == "failure"
    job, log = job_log(gh, student["token"], run)
    login = next(step for step in job["steps"] if step["name"] == "Log in to Docker Hub")
    assert login["conclusion"] == "failure"
    assert "Username and password required" in log
    # Later steps are skipped, as on GitHub.
    assert job["steps"][-2]["conclusion"] == "skipped"


def test_a_deleted_variable_leaves_the_login_name_empty_and_fails_the_login(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    deleted = gh.api(
        "DELETE", "/repos/alice/docker-class/actions/variables/DOCKERHUB_USERNAME", student["token"]
    )
    assert deleted.status_code == 204
    sha = gh.push("alice/docker-class", {"app.py": "print('x')\n"})
    run = finished_run(gh, hub, student["token"], sha)
    assert run["conclusion"] == "failure"
    _, log = job_log(gh, student["token"], run)
    assert "Username and password required" in log


def test_a_wrong_token_fails_with_dockers_message(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    set_secret(gh, student["token"], "DOCKERHUB_TOKEN", "dckr_oat_wrong")
    sha = gh.push("alice/docker-class", {"app.py": "print('x')\n"})
    run = finished_run(gh, hub, student["token"], sha)
    _, log = job_log(gh, student["token"], run)
    assert run["conclusion"] == "failure"
    assert "unauthorized: incorrect username or password" in log


def test_a_secret_sealed_for_another_key_cannot_be_opened(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    from nacl.public import PrivateKey

    key = gh.api(
        "GET", "/repos/alice/docker-class/actions/secrets/public-key", student["token"]
    ).json()
    sealed = SealedBox(PrivateKey.generate().public_key).encrypt(b"dckr_oat_x")
    gh.api(
        "PUT",
        "/repos/alice/docker-class/actions/secrets/DOCKERHUB_TOKEN",
        student["token"],
        json={"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]},
    )
    sha = gh.push("alice/docker-class", {"app.py": "print('x')\n"})
    run = finished_run(gh, hub, student["token"], sha)
    _, log = job_log(gh, student["token"], run)
    assert "DOCKERHUB_TOKEN could not be decrypted" in log


def test_a_missing_dockerfile_fails_the_build(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    sha = gh.push("alice/docker-class", {"DockerfileVolume": None})
    run = finished_run(gh, hub, student["token"], sha)
    assert run["conclusion"] == "failure"
    _, log = job_log(gh, student["token"], run)
    assert "open DockerfileVolume: no such file or directory" in log


def test_an_unknown_base_image_fails_the_build(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    sha = gh.push("alice/docker-class", {"DockerfileVolume": "FROM pyhton:3.12\n"})
    run = finished_run(gh, hub, student["token"], sha)
    _, log = job_log(gh, student["token"], run)
    assert run["conclusion"] == "failure"
    assert "docker.io/library/pyhton:3.12" in log
    tags = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/alice/tags",
        headers=hub.org_token(),
        timeout=5,
    )
    assert tags.json()["results"] == []


def test_pushing_to_a_namespace_the_login_cannot_write_is_denied(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    workflow = WORKFLOW % {"tags": "someoneelse/alice:latest"}
    sha = gh.push("alice/docker-class", {".github/workflows/docker.yml": workflow})
    run = finished_run(gh, hub, student["token"], sha)
    _, log = job_log(gh, student["token"], run)
    assert run["conclusion"] == "failure"
    assert "push access denied" in log


def test_a_branch_outside_the_filter_runs_nothing(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    gh.push("alice/docker-class", {"app.py": "print('f')\n"}, branch="feature")
    assert hub.world.wait_idle(10)
    assert runs(gh, student["token"], "?branch=feature") == []


def test_an_invalid_workflow_file_records_a_failed_run(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    sha = gh.push("alice/docker-class", {".github/workflows/docker.yml": "on: [push\njobs: {"})
    run = finished_run(gh, hub, student["token"], sha)
    assert run["conclusion"] == "failure"
    jobs = gh.api(
        "GET", f"/repos/alice/docker-class/actions/runs/{run['id']}/jobs", student["token"]
    ).json()
    assert jobs["total_count"] == 0


def test_runs_filter_by_status_conclusion_and_branch(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    good = gh.push("alice/docker-class", {"app.py": "print('1')\n"})
    assert hub.world.wait_idle(10)
    bad = gh.push("alice/docker-class", {"DockerfileVolume": "FROM nope:1\n"})
    assert hub.world.wait_idle(10)
    assert [r["head_sha"] for r in runs(gh, student["token"], "?status=success")] == [good]
    assert [r["head_sha"] for r in runs(gh, student["token"], "?status=failure")] == [bad]
    assert [r["head_sha"] for r in runs(gh, student["token"], "?branch=main")] == [bad, good]
    assert runs(gh, student["token"], "?event=pull_request") == []
    assert [r["run_number"] for r in runs(gh, student["token"])] == [2, 1]


def test_workflow_filters_follow_githubs_glob_rules() -> None:
    workflow = {"on": {"push": {"branches": ["main", "release/**", "!release/old*"]}}}
    assert actions.triggers_on_push(workflow, "main", [])
    assert actions.triggers_on_push(workflow, "release/v1/x", [])
    assert not actions.triggers_on_push(workflow, "release/old-1", [])
    assert not actions.triggers_on_push(workflow, "feature", [])
    by_path = {"on": {"push": {"paths": ["src/**"]}}}
    assert actions.triggers_on_push(by_path, "main", ["src/a/b.py"])
    assert not actions.triggers_on_push(by_path, "main", ["README.md"])
    assert actions.triggers_on_push({"on": "push"}, "any", [])
    assert not actions.triggers_on_push({"on": ["workflow_dispatch"]}, "main", [])


def test_logs_links_are_not_reusable_without_the_ticket(
    gh: GitHub, hub: Hub, student: dict[str, Any]
) -> None:
    sha = gh.push("alice/docker-class", {"app.py": "print('x')\n"})
    run = finished_run(gh, hub, student["token"], sha)
    job, _ = job_log(gh, student["token"], run)
    repo_id = gh.api("GET", "/repos/alice/docker-class", student["token"]).json()["id"]
    forged = requests.get(
        f"{gh.url}/_sandbox/github/job-logs/{repo_id}/{job['id']}?sig=forged", timeout=5
    )
    assert forged.status_code == 403
