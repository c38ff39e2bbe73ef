"""Client calls added for offboarding and per-student tokens, against the sandbox over HTTP:
GitHub workflow dispatch, file and secret deletes; Docker Hub organisation access tokens,
build source delete and the catalog search."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from builds.backends.autobuild.client import AutobuildClient, BuildRule
from hubcourse import errors
from integrations.dockerhub.client import (
    IMAGE_PUSH_SCOPE,
    DockerHubClient,
    OrgAccessTokenResource,
)
from integrations.github.client import GitHubClient
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN

pytestmark = pytest.mark.integration

DISPATCHABLE = """\
name: hubcourse
on:
  push:
    branches: [main]
  workflow_dispatch:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo building
"""


def _github(sandbox: Any) -> GitHubClient:
    return GitHubClient(
        sandbox.seeded["github"]["instructor"]["token"], api_url=settings.GITHUB_API_URL
    )


def _owner(sandbox: Any) -> DockerHubClient:
    hub = sandbox.seeded["dockerhub"]
    return DockerHubClient(sandbox.url, hub["owner"], hub["owner_token"])


def _repo(sandbox: Any, files: dict[str, str]) -> str:
    repo = github_state.create_repo(sandbox.world, INSTRUCTOR_LOGIN, "dispatch-me", files)
    return str(repo["name"])


def test_dispatch_starts_a_run_of_a_workflow_that_allows_it(sandbox: Any) -> None:
    name = _repo(sandbox, {".github/workflows/hubcourse.yml": DISPATCHABLE})
    client = _github(sandbox)

    run_id = client.dispatch_workflow(INSTRUCTOR_LOGIN, name, "hubcourse.yml", "main")

    assert run_id is not None
    sandbox.world.wait_idle(timeout=10)
    run = client.get_workflow_run(INSTRUCTOR_LOGIN, name, run_id)
    assert (run.event, run.head_branch, run.conclusion) == ("workflow_dispatch", "main", "success")


def test_dispatch_of_a_push_only_workflow_is_refused(sandbox: Any) -> None:
    push_only = DISPATCHABLE.replace("  workflow_dispatch:\n", "")
    name = _repo(sandbox, {".github/workflows/hubcourse.yml": push_only})

    with pytest.raises(errors.Invalid, match="workflow_dispatch"):
        _github(sandbox).dispatch_workflow(INSTRUCTOR_LOGIN, name, "hubcourse.yml", "main")
    with pytest.raises(errors.NotFound):
        _github(sandbox).dispatch_workflow(INSTRUCTOR_LOGIN, name, "other.yml", "main")


def test_delete_file_commits_once_and_then_finds_nothing_to_delete(sandbox: Any) -> None:
    name = _repo(sandbox, {"README.md": "hi\n", ".github/workflows/hubcourse.yml": DISPATCHABLE})
    client = _github(sandbox)

    sha = client.delete_file(
        INSTRUCTOR_LOGIN,
        name,
        ".github/workflows/hubcourse.yml",
        message="Remove it",
        branch="main",
    )
    again = client.delete_file(
        INSTRUCTOR_LOGIN,
        name,
        ".github/workflows/hubcourse.yml",
        message="Remove it",
        branch="main",
    )

    assert sha is not None and again is None
    repo = github_state.get_repo(sandbox.world, f"{INSTRUCTOR_LOGIN}/{name}")
    assert repo is not None
    assert repo["branches"]["main"] == sha
    assert repo["commits"][sha]["message"] == "Remove it"
    tree = github_state.read_tree(sandbox.world, f"{INSTRUCTOR_LOGIN}/{name}", "main") or {}
    assert set(tree) == {"README.md"}


def test_delete_actions_secret_says_whether_there_was_one(sandbox: Any) -> None:
    name = _repo(sandbox, {"README.md": "hi\n"})
    client = _github(sandbox)
    client.set_actions_secret(INSTRUCTOR_LOGIN, name, "DOCKERHUB_TOKEN", "s3cret")

    assert client.delete_actions_secret(INSTRUCTOR_LOGIN, name, "DOCKERHUB_TOKEN") is True
    assert client.delete_actions_secret(INSTRUCTOR_LOGIN, name, "DOCKERHUB_TOKEN") is False
    with pytest.raises(errors.NotFound):
        client.get_actions_secret(INSTRUCTOR_LOGIN, name, "DOCKERHUB_TOKEN")


def test_an_org_token_scoped_to_one_repository_pushes_there_and_nowhere_else(
    sandbox: Any,
) -> None:
    org = sandbox.seeded["dockerhub"]["org"]
    owner = _owner(sandbox)
    owner.create_repository(org, "mine")
    owner.create_repository(org, "theirs", is_private=True)

    token = owner.create_org_access_token(
        org,
        label="push mine",
        resources=[
            OrgAccessTokenResource(type="TYPE_REPO", path=f"{org}/mine", scopes=(IMAGE_PUSH_SCOPE,))
        ],
    )

    assert token.token.startswith("dckr_oat_")
    assert token.token not in repr(token)
    world = sandbox.world
    login = hub_state.login(world, org, token.token)
    assert login is not None  # docker login works with it
    assert hub_state.may_push(world, login, org, "mine")
    assert not hub_state.may_push(world, login, org, "theirs")
    # Through the API it reaches its repository only, and manages nothing in the organisation.
    scoped = DockerHubClient(sandbox.url, org, token.token)
    assert scoped.get_repository(org, "mine").name == "mine"
    with pytest.raises(errors.NotFound):
        scoped.get_repository(org, "theirs")
    with pytest.raises(errors.Forbidden):
        scoped.list_members(org)

    listed = {t.id: t for t in owner.list_org_access_tokens(org)}
    assert token.id in listed and listed[token.id].token == ""

    owner.delete_org_access_token(org, token.id)

    assert hub_state.login(world, org, token.token) is None
    assert token.id not in {t.id for t in owner.list_org_access_tokens(org)}
    with pytest.raises(errors.NotFound):
        owner.delete_org_access_token(org, token.id)


def test_only_an_owner_makes_org_tokens(sandbox: Any) -> None:
    hub = sandbox.seeded["dockerhub"]
    org = hub["org"]
    _owner(sandbox).create_repository(org, "mine")
    as_org = DockerHubClient(sandbox.url, org, hub["org_token"])
    resource = OrgAccessTokenResource(
        type="TYPE_REPO", path=f"{org}/mine", scopes=(IMAGE_PUSH_SCOPE,)
    )

    with pytest.raises(errors.Forbidden):
        as_org.create_org_access_token(org, label="x", resources=[resource])
    with pytest.raises(errors.Invalid):
        _owner(sandbox).create_org_access_token(
            org,
            label="x",
            resources=[resource.model_copy(update={"path": f"{org}/nosuchrepo"})],
        )


def test_delete_build_source_unlinks_the_repository(sandbox: Any) -> None:
    org = sandbox.seeded["dockerhub"]["org"]
    owner = _owner(sandbox)
    owner.create_repository(org, "linked")
    builds = AutobuildClient(owner)
    source = builds.create_build_source(
        org, "linked", github_owner=INSTRUCTOR_LOGIN, github_repository="x", rules=[BuildRule()]
    )

    builds.delete_build_source(source)

    assert builds.get_build_source(org, "linked") is None
    assert sandbox.world.dockerhub["builds"]["settings"] == {}
    with pytest.raises(errors.NotFound):
        builds.delete_build_source(source)


def test_catalog_search_returns_typed_results_with_badges(sandbox: Any) -> None:
    owner = _owner(sandbox)

    results = owner.catalog_search("python")

    official = next(r for r in results if r.slug == "python")
    assert official.badge == "official"
    assert owner.catalog_badge("python") == "official"
    assert owner.catalog_badge("nosuchpublisher/nosuchimage") == "none"
