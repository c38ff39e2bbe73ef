"""The GitHub client against the sandbox GitHub over real HTTP (the ``/api/v3`` layout)."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey, SealedBox

from hubcourse import errors
from hubcourse.governor import Governor, SQLiteStore
from integrations.github import client as github
from integrations.github.client import GitHubClient
from sandbox import github_state
from sandbox.testing import RunningSandbox
from tests.clients.dockerhub_sandbox import Journal

pytestmark = pytest.mark.integration

REPO = "docker-class"
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
      - run: echo building
"""


@pytest.fixture
def gh(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared sandbox (reset by the ``sandbox`` fixture), recording what it receives."""
    app = sandbox.server.app
    sandbox.server.app = Journal(app)
    try:
        yield sandbox
    finally:
        sandbox.server.app = app


@pytest.fixture
def journal(gh: RunningSandbox) -> Journal:
    recorder = gh.server.app
    assert isinstance(recorder, Journal)
    return recorder


@pytest.fixture
def governor(tmp_path: Path) -> Governor:
    """A governor of the real kind on its own store, so tests never share budgets."""
    return Governor(
        github.SERVICE,
        default_limit=5000,
        window=3600.0,
        burst=30,
        max_wait=2.0,
        store=SQLiteStore(tmp_path / "governor.sqlite3"),
    )


@pytest.fixture
def login(gh: RunningSandbox) -> str:
    return str(gh.seeded["github"]["instructor"]["login"])


@pytest.fixture
def client(gh: RunningSandbox, governor: Governor) -> GitHubClient:
    token = gh.seeded["github"]["instructor"]["token"]
    return GitHubClient(token, api_url=f"{gh.url}/api/v3", governor=governor)


@pytest.fixture
def repo(gh: RunningSandbox, login: str) -> dict[str, Any]:
    files = {"README.md": "# Docker class\n", "DockerfileVolume": "FROM alpine:3.20\n"}
    return github_state.create_repo(gh.world, login, REPO, files)


def _requests(gh: RunningSandbox, method: str, rule_suffix: str) -> dict[str, int]:
    """The sandbox's counts by status for one route (as the API v3 layout registered it)."""
    routes = gh.world.stats["requests"].get("github", {})
    return dict(routes.get(f"{method} /api/v3{rule_suffix}", {}))


def _stored(gh: RunningSandbox, login: str) -> dict[str, Any]:
    """The sandbox's own record of the test repository."""
    stored = github_state.get_repo(gh.world, f"{login}/{REPO}")
    assert stored is not None
    return stored


# -- identity and budget ---------------------------------------------------------------------


def test_whoami_names_the_user_and_the_scopes_the_token_lists(client, login):
    identity = client.whoami()

    assert identity.user.login == login
    assert identity.scopes is not None and "repo" in identity.scopes
    assert identity.has_scope("public_repo")  # implied by "repo"
    assert client.get_authenticated_user() == identity.user


def test_it_sends_githubs_media_type_api_version_and_a_bearer_token(gh, client, journal):
    client.whoami()

    (received,) = journal.calls("GET", "/api/v3/user")
    assert received.headers["Accept"] == "application/vnd.github+json"
    assert received.headers["X-Github-Api-Version"] == "2022-11-28"
    assert (
        received.headers["Authorization"] == f"Bearer {gh.seeded['github']['instructor']['token']}"
    )
    assert received.headers["User-Agent"].startswith("hubcourse/")


def test_rate_limit_reports_the_core_budget(gh, client):
    gh.world.config.github_rate_limit = 5000
    client.whoami()

    status = client.rate_limit()

    assert status.core.limit == 5000
    assert status.core.remaining == 4999  # /rate_limit itself is free
    assert status.core.reset > dt.datetime.now(dt.UTC)
    assert "core" in status.resources


def test_a_revoked_token_is_a_permanent_authentication_failure(gh, governor):
    client = GitHubClient("ghp_not_a_token", api_url=f"{gh.url}/api/v3", governor=governor)

    with pytest.raises(errors.AuthenticationFailed) as caught:
        client.whoami()

    assert caught.value.permanent
    assert caught.value.status == 401
    assert "Bad credentials" in str(caught.value)
    assert "ghp_not_a_token" not in str(caught.value)


# -- repositories, branches, contents ----------------------------------------------------------


def test_get_repository_returns_its_typed_fields(client, login, repo):
    found = client.get_repository(login, REPO)

    assert found.id == repo["id"]
    assert found.full_name == f"{login}/{REPO}"
    assert found.owner.login == login
    assert found.default_branch == "main"
    assert found.private is False
    assert found.permissions is not None and found.permissions.admin


def test_a_missing_repository_is_a_permanent_not_found(client, login):
    with pytest.raises(errors.NotFound) as caught:
        client.get_repository(login, "no-such-repo")

    assert caught.value.permanent
    assert str(caught.value) == (
        f"GitHub refused to read repository {login}/no-such-repo: Not Found (HTTP 404)"
    )


def test_listing_my_repositories_follows_the_link_header_across_pages(gh, client, login):
    names = [f"repo-{number:03d}" for number in range(205)]
    for name in names:
        github_state.create_repo(gh.world, login, name)

    listed = client.list_my_repositories()

    assert [repo.name for repo in listed] == names
    # 205 repositories at 100 a page: three requests.
    assert _requests(gh, "GET", "/user/repos") == {"200": 3}


def test_get_branch_returns_the_head_commit(client, login, repo):
    branch = client.get_branch(login, REPO, "main")

    assert branch.name == "main"
    assert branch.sha == repo["sha"]


def test_get_file_decodes_the_base64_content(gh, client, login, repo):
    # Long enough that GitHub wraps the base64 text over several lines.
    content = "FROM alpine:3.20\n" + "RUN echo a line that makes the payload wrap\n" * 10
    github_state.push(
        gh.world, f"{login}/{REPO}", "main", {"DockerfileVolume": content}, "edit", login
    )

    found = client.get_file(login, REPO, "DockerfileVolume")

    assert found.text == content
    assert found.path == "DockerfileVolume"
    assert found.size == len(content)


def test_file_exists_tells_present_from_absent(client, login, repo):
    assert client.file_exists(login, REPO, "DockerfileVolume")
    assert not client.file_exists(login, REPO, "Dockerfile")
    assert not client.file_exists(login, REPO, "DockerfileVolume", ref="no-such-branch")


def test_get_file_refuses_a_directory(gh, client, login, repo):
    github_state.push(
        gh.world, f"{login}/{REPO}", "main", {"app/main.py": "print(1)\n"}, "add", login
    )

    with pytest.raises(errors.Invalid, match="app is not a file"):
        client.get_file(login, REPO, "app")


def test_create_or_update_file_creates_then_skips_then_updates(gh, client, login, repo, journal):
    path = ".github/workflows/docker.yml"
    stored = _stored(gh, login)

    created = client.create_or_update_file(login, REPO, path, "one\n", message="Add workflow")
    again = client.create_or_update_file(login, REPO, path, "one\n", message="Add workflow")
    updated = client.create_or_update_file(login, REPO, path, "two\n", message="Change workflow")

    assert created.action == "created" and created.commit_sha
    assert again.action == "unchanged" and again.commit_sha is None
    assert updated.action == "updated" and updated.commit_sha != created.commit_sha
    assert stored["branches"]["main"] == updated.commit_sha
    tree = stored["commits"][updated.commit_sha]["tree"]
    assert stored["blobs"][tree[path]] == "two\n"
    # One PUT without sha (201) and one with it (200); the unchanged write sent nothing.
    assert _requests(gh, "PUT", "/repos/<owner>/<name>/contents/<path:path>") == {
        "201": 1,
        "200": 1,
    }
    first, second = journal.calls("PUT", f"/api/v3/repos/{login}/{REPO}/contents/{path}")
    assert first.body == {"message": "Add workflow", "content": base64.b64encode(b"one\n").decode()}
    assert second.body == {
        "message": "Change workflow",
        "content": base64.b64encode(b"two\n").decode(),
        "sha": created.content_sha,
    }


def test_create_or_update_file_writes_into_an_empty_repository(gh, client, login):
    github_state.create_repo(gh.world, login, "empty-repo")

    written = client.create_or_update_file(login, "empty-repo", "README.md", "hi\n", message="init")

    assert written.action == "created"
    assert client.get_file(login, "empty-repo", "README.md").text == "hi\n"


# -- webhooks ----------------------------------------------------------------------------------


def test_create_webhook_sends_a_json_push_hook_with_its_secret(gh, client, login, repo, journal):
    hook = client.create_webhook(
        login, REPO, url="http://127.0.0.1:9/hooks/github", secret="hook-secret"
    )

    assert hook.config.url == "http://127.0.0.1:9/hooks/github"
    assert hook.config.content_type == "json"
    assert hook.events == ("push",)
    assert hook.active
    stored = _stored(gh, login)["hooks"][str(hook.id)]
    assert stored["config"]["secret"] == "hook-secret"
    assert stored["config"]["content_type"] == "json"
    assert _requests(gh, "POST", "/repos/<owner>/<name>/hooks") == {"201": 1}
    (received,) = journal.calls("POST", f"/api/v3/repos/{login}/{REPO}/hooks")
    assert received.body == {
        "name": "web",
        "active": True,
        "events": ["push"],
        "config": {
            "url": "http://127.0.0.1:9/hooks/github",
            "content_type": "json",
            "secret": "hook-secret",
            "insecure_ssl": "0",
        },
    }


def test_creating_a_hook_that_already_exists_brings_the_existing_one_up_to_date(
    gh, client, login, repo
):
    first = client.create_webhook(login, REPO, url="http://127.0.0.1:9/h", secret="old")

    second = client.create_webhook(
        login, REPO, url="http://127.0.0.1:9/h", secret="new", events=("push", "workflow_run")
    )

    assert second.id == first.id
    assert second.events == ("push", "workflow_run")
    assert [hook.id for hook in client.list_webhooks(login, REPO)] == [first.id]
    assert _stored(gh, login)["hooks"][str(first.id)]["config"]["secret"] == "new"
    assert _requests(gh, "POST", "/repos/<owner>/<name>/hooks") == {"201": 1, "422": 1}


def test_list_and_delete_webhooks(client, login, repo):
    kept = client.create_webhook(login, REPO, url="http://127.0.0.1:9/a", secret="s")
    gone = client.create_webhook(login, REPO, url="http://127.0.0.1:9/b", secret="s")

    client.delete_webhook(login, REPO, gone.id)

    assert [hook.id for hook in client.list_webhooks(login, REPO)] == [kept.id]
    with pytest.raises(errors.NotFound):
        client.delete_webhook(login, REPO, gone.id)


def test_a_validation_error_carries_githubs_reasons(client, login, repo):
    with pytest.raises(errors.Invalid) as caught:
        client.create_webhook(login, REPO, url="not a url", secret="s")

    assert caught.value.status == 422
    assert "Validation Failed: Config url is not supported" in str(caught.value)


# -- Actions secrets ---------------------------------------------------------------------------


def test_set_actions_secret_seals_the_value_with_the_repository_key(
    gh, client, login, repo, journal
):
    created = client.set_actions_secret(login, REPO, "DOCKERHUB_TOKEN", "dckr_oat_secret")
    replaced = client.set_actions_secret(login, REPO, "DOCKERHUB_TOKEN", "dckr_oat_newer")

    assert created is True
    assert replaced is False
    stored = _stored(gh, login)
    private = PrivateKey(base64.b64decode(stored["secret_key"]["private"]))
    sealed = base64.b64decode(stored["secrets"]["DOCKERHUB_TOKEN"]["encrypted_value"])
    assert SealedBox(private).decrypt(sealed) == b"dckr_oat_newer"
    assert stored["secrets"]["DOCKERHUB_TOKEN"]["key_id"] == stored["secret_key"]["key_id"]
    puts = journal.calls("PUT", f"/api/v3/repos/{login}/{REPO}/actions/secrets/DOCKERHUB_TOKEN")
    assert [sorted(put.body) for put in puts] == [["encrypted_value", "key_id"]] * 2
    assert "dckr_oat" not in str([put.body for put in puts])
    secret = client.get_actions_secret(login, REPO, "DOCKERHUB_TOKEN")
    assert secret.name == "DOCKERHUB_TOKEN"
    assert secret.updated_at >= secret.created_at


def test_reading_a_secret_that_was_never_set_is_not_found(client, login, repo):
    with pytest.raises(errors.NotFound):
        client.get_actions_secret(login, REPO, "NEVER_SET")


# -- Actions variables -------------------------------------------------------------------------


def test_set_actions_variable_creates_updates_and_then_only_reads(gh, client, login, repo, journal):
    base = f"/api/v3/repos/{login}/{REPO}/actions/variables"

    assert client.set_actions_variable(login, REPO, "DOCKERHUB_USERNAME", "course-org") == "created"
    assert client.set_actions_variable(login, REPO, "DOCKERHUB_USERNAME", "other-org") == "updated"
    assert (
        client.set_actions_variable(login, REPO, "DOCKERHUB_USERNAME", "other-org") == "unchanged"
    )

    assert _stored(gh, login)["variables"]["DOCKERHUB_USERNAME"]["value"] == "other-org"
    assert [c.body for c in journal.calls("POST", base)] == [
        {"name": "DOCKERHUB_USERNAME", "value": "course-org"}
    ]
    assert len(journal.calls("PATCH", f"{base}/DOCKERHUB_USERNAME")) == 1
    read = client.get_actions_variable(login, REPO, "DOCKERHUB_USERNAME")
    assert (read.name, read.value) == ("DOCKERHUB_USERNAME", "other-org")
    assert client.delete_actions_variable(login, REPO, "DOCKERHUB_USERNAME") is True
    assert client.delete_actions_variable(login, REPO, "DOCKERHUB_USERNAME") is False
    with pytest.raises(errors.NotFound):
        client.get_actions_variable(login, REPO, "DOCKERHUB_USERNAME")


def test_a_variable_made_between_the_read_and_the_create_is_updated(
    gh, client, login, repo, monkeypatch
):
    # Another writer makes it after our read said "not there": GitHub answers 409 and the
    # client updates instead.
    real = client.get_actions_variable

    def read_then_race(owner, name, variable):
        try:
            return real(owner, name, variable)
        except errors.NotFound:
            with gh.world.lock:  # the other writer
                now = gh.world.now()
                _stored(gh, login).setdefault("variables", {})[variable] = {
                    "value": "theirs",
                    "created_at": now,
                    "updated_at": now,
                }
            raise

    monkeypatch.setattr(client, "get_actions_variable", read_then_race)
    assert client.set_actions_variable(login, REPO, "DOCKERHUB_USERNAME", "ours") == "updated"
    assert _stored(gh, login)["variables"]["DOCKERHUB_USERNAME"]["value"] == "ours"


# -- Actions runs and jobs ---------------------------------------------------------------------


def _wait_for_completed_run(client: GitHubClient, login: str, sha: str) -> github.WorkflowRun:
    for _ in range(200):  # bounded: the sandbox finishes a run in a few build delays
        runs = client.list_workflow_runs(login, REPO, head_sha=sha)
        if runs and runs[0].status == "completed":
            return runs[0]
        time.sleep(0.05)
    raise AssertionError("the sandbox never completed the run")


def test_workflow_runs_are_listed_filtered_read_and_their_jobs_listed(gh, client, login, repo):
    written = client.create_or_update_file(
        login, REPO, ".github/workflows/docker.yml", WORKFLOW, message="Add workflow"
    )
    assert written.commit_sha is not None
    run = _wait_for_completed_run(client, login, written.commit_sha)

    assert run.conclusion == "success"
    assert run.event == "push"
    assert run.head_branch == "main"
    assert client.get_workflow_run(login, REPO, run.id) == run
    assert client.list_workflow_runs(login, REPO, branch="main", status="completed") == [run]
    assert client.list_workflow_runs(login, REPO, branch="other") == []
    jobs = client.list_workflow_jobs(login, REPO, run.id)
    assert [job.name for job in jobs] == ["build"]
    assert jobs[0].run_id == run.id
    assert jobs[0].conclusion == "success"
    assert [step.name for step in jobs[0].steps][:2] == ["Set up job", "Run actions/checkout@v4"]
    log_url = client.job_log_url(login, REPO, jobs[0].id)
    assert log_url.startswith(f"{gh.url}/_sandbox/github/job-logs/")
    log = client.job_log(login, REPO, jobs[0].id)
    assert "[command]echo building" in log


def test_list_workflow_runs_stops_at_the_limit(gh, client, login, repo):
    for number in range(3):
        github_state.push(
            gh.world,
            f"{login}/{REPO}",
            "main",
            {".github/workflows/d.yml": WORKFLOW, "n": str(number)},
            f"c{number}",
            login,
        )

    runs = client.list_workflow_runs(login, REPO, limit=2)

    assert len(runs) == 2
    assert runs[0].run_number > runs[1].run_number  # newest first


# -- failures: transient and rate limits -------------------------------------------------------


def test_a_5xx_is_a_transient_service_unavailable(gh, client, login, repo):
    gh.world.config.fault_rate = 1.0

    with pytest.raises(errors.ServiceUnavailable) as caught:
        client.get_repository(login, REPO)

    assert not caught.value.permanent
    assert caught.value.status in (500, 502, 503)


def test_no_answer_in_time_is_a_transient_timeout(gh, client, login, repo, settings):
    settings.HTTP_READ_TIMEOUT = 0.2
    gh.world.config.timeout_rate = 1.0
    gh.world.config.timeout_s = 1.0

    with pytest.raises(errors.ServiceTimeout) as caught:
        client.get_repository(login, REPO)

    assert not caught.value.permanent


def test_a_secondary_rate_limit_403_is_rate_limited_for_the_seconds_it_asked(
    gh, client, login, repo
):
    gh.world.github["secondary"].update(remaining=1, status=403, retry_after=42)
    before = dt.datetime.now(dt.UTC)

    with pytest.raises(errors.RateLimited) as caught:
        client.get_repository(login, REPO)

    assert not caught.value.permanent
    assert caught.value.status == 403
    waited = (caught.value.retry_at - before).total_seconds()
    assert 41 <= waited <= 43


def test_after_a_rate_limit_the_governor_holds_the_next_call_back_without_sending_it(
    gh, client, login, repo
):
    gh.world.github["secondary"].update(remaining=1, status=429, retry_after=30)
    with pytest.raises(errors.RateLimited):
        client.get_repository(login, REPO)
    sent = sum(_requests(gh, "GET", "/repos/<owner>/<name>").values())

    with pytest.raises(errors.Throttled) as caught:
        client.get_repository(login, REPO)

    assert sum(_requests(gh, "GET", "/repos/<owner>/<name>").values()) == sent
    assert caught.value.seconds_to_wait() > 25


def test_a_spent_primary_limit_is_rate_limited_until_the_reset(gh, client, login, repo):
    gh.world.config.github_rate_limit = 5000
    user = github_state.get_user(gh.world, login)
    assert user is not None
    reset = int(time.time()) + 900
    gh.world.github["rate"][f"user:{user['id']}"] = {"reset": reset, "used": 5000}

    with pytest.raises(errors.RateLimited) as caught:
        client.get_repository(login, REPO)

    assert caught.value.status == 403
    assert caught.value.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)


def test_the_governor_stops_short_of_the_primary_limit(gh, client, login, repo):
    gh.world.config.github_rate_limit = 20

    with pytest.raises(errors.Throttled):
        for _ in range(40):  # bounded; the governor must refuse before GitHub does
            client.get_branch(login, REPO, "main")

    assert gh.world.stats["rate_limited"].get("github", 0) == 0


def test_two_workers_sharing_a_token_stay_under_the_limit(gh, login, repo, governor):
    gh.world.config.github_rate_limit = 30
    token = gh.seeded["github"]["instructor"]["token"]
    outcomes: list[str] = []

    def worker() -> None:
        # Each thread is a worker with its own client and HTTP session, sharing the store.
        client = GitHubClient(token, api_url=f"{gh.url}/api/v3", governor=governor)
        for _ in range(40):  # bounded; the governor must refuse before GitHub does
            try:
                client.get_branch(login, REPO, "main")
            except errors.Throttled:
                outcomes.append("throttled")
                return
            except errors.ExternalServiceError as error:
                outcomes.append(f"error: {error}")
                return
        outcomes.append("never throttled")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes == ["throttled", "throttled"]
    assert gh.world.stats["rate_limited"].get("github", 0) == 0
    served = _requests(gh, "GET", "/repos/<owner>/<name>/branches/<path:branch>")
    # The margin (one call at this limit) absorbs a slot taken while another worker's
    # response was on its way: on a loaded machine the 30th call can go out, never a 31st.
    assert set(served) == {"200"} and served["200"] <= 30
