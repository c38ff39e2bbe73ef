"""Client fidelity: every public method of hubcourse's Docker Hub and GitHub clients runs
against the sandbox, and every exchange it makes is checked against the published
descriptions (and, for the Docker Hub routes outside Docker's spec, against the written
shapes of ``undocumented.py``). Recorded at ``hubcourse.http``'s session, not by mocking the
clients. A violation, a route with no description or shape, or a public method the scenario
never called fails the test. What the sandbox answers where the descriptions are silent is
decided in ``STATUSES.md`` beside this file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from builds.backends.autobuild.client import AutobuildClient, BuildRule
from integrations.dockerhub import client as dockerhub
from integrations.dockerhub.client import (
    IMAGE_PUSH_SCOPE,
    DockerHubClient,
    OrgAccessTokenResource,
)
from integrations.github.client import GitHubClient
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN
from tests.fidelity.descriptions import github_spec
from tests.fidelity.recorder import Recorder, recording
from tests.fidelity.support import Exercised, parser_gaps, public_methods, verdict
from tests.fidelity.undocumented import ROUTES
from tests.fidelity.validate import DockerHubDescription, GitHubDescription
from tests.integrations.github.support import STUDENT, student_with_app
from tests.sandbox.app_support import user_access_token
from tests.sandbox.test_fidelity_dockerhub import load_spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def client_classes() -> list[type]:
    """The classes whose every public method must be exercised against Docker Hub."""
    return [DockerHubClient, AutobuildClient]


WORKFLOW = """\
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


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording() as running:
        yield running


def _control(sandbox: Any, path: str, body: dict[str, Any]) -> None:
    # The sandbox's control API, through plain requests: not part of what is recorded.
    response = requests.post(f"{sandbox.url}/_sandbox/dockerhub/{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text


def drive_dockerhub(sandbox: Any) -> None:
    """Call every public method of DockerHubClient once, as hubcourse would."""
    seeded = sandbox.seeded["dockerhub"]
    org = seeded["org"]
    dockerhub.clear_token_cache()
    owner = DockerHubClient.from_settings()  # an Owner's token: builds and access tokens
    oc = DockerHubClient(sandbox.url, org, seeded["org_token"])  # the organisation's token
    assert oc.token()

    assert oc.get_user(seeded["owner"]).username == seeded["owner"]
    assert oc.user_exists("nosuchdockerid") is False
    assert oc.get_organization(org).orgname == org
    for name in ("fidelityone", "fidelitytwo"):
        _control(sandbox, "users", {"username": name, "password": f"{name}-pw"})
    invited = oc.bulk_invite(org, ["fidelityone", "fidelitytwo"])
    assert [r.status for r in invited] == ["invited", "invited"]
    invites = {i.invitee: i.id for i in oc.list_invites(org)}
    oc.resend_invite(invites["fidelitytwo"])
    oc.cancel_invite(invites["fidelitytwo"])
    _control(sandbox, f"orgs/{org}/accept", {"invitee": "fidelityone"})
    assert "fidelityone" in {m.username for m in oc.list_members(org, search="fidelity")}
    oc.update_member_role(org, "fidelityone", "member")

    team = oc.create_team(org, "students", "the class")
    assert team.name in {t.name for t in oc.list_teams(org)}
    oc.get_team(org, "students")
    oc.update_team(org, "students", description="the class of 2026")
    oc.add_team_member(org, "students", "fidelityone")
    assert [m.username for m in oc.list_team_members(org, "students")] == ["fidelityone"]

    oc.create_repository(org, "fidelity-repo", description="d", is_private=True)
    assert oc.get_repository(org, "fidelity-repo").is_private
    assert "fidelity-repo" in {r.name for r in oc.list_repositories(org)}
    oc.set_repository_privacy(org, "fidelity-repo", is_private=False)
    oc.update_repository(org, "fidelity-repo", description="changed")
    # Official and Verified Publisher images, as pre-flight reads them.
    assert oc.get_repository("library", "python").namespace == "library"
    assert oc.get_repository("bitnami", "python").name == "python"

    oc.grant_team_permission(org, "fidelity-repo", team.id, "write")
    assert oc.team_permissions(org, "fidelity-repo", [team.id])[team.id].permission == "write"
    oc.change_team_permission(org, "fidelity-repo", team.id, "read")
    read = oc.get_team_permission(org, "fidelity-repo", team.id)
    assert read is not None and read.permission == "read"
    assert oc.list_team_repositories(org, "students")
    oc.revoke_team_permission(org, "fidelity-repo", team.id)

    hub_state.push_tag(sandbox.world, org, "fidelity-repo", "latest", seeded["owner"])
    assert [t.name for t in oc.list_tags(org, "fidelity-repo")] == ["latest"]
    assert oc.get_tag(org, "fidelity-repo", "latest").name == "latest"
    assert oc.list_audit_logs(
        org, action="repo.tag.push", since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )

    hook = oc.create_webhook(org, "fidelity-repo", "hubcourse", "http://127.0.0.1:9/hook")
    assert [w.name for w in oc.list_webhooks(org, "fidelity-repo")] == ["hubcourse"]
    oc.delete_webhook(org, "fidelity-repo", hook.slug)

    github_state.create_repo(
        sandbox.world, INSTRUCTOR_LOGIN, "fidelity-src", {"DockerfileVolume": "FROM alpine\n"}
    )
    owner.create_repository(org, "fidelity-built")
    builds = AutobuildClient(owner)
    source = builds.create_build_source(
        org,
        "fidelity-built",
        github_owner=INSTRUCTOR_LOGIN,
        github_repository="fidelity-src",
        rules=[BuildRule()],
    )
    assert builds.get_build_source(org, "fidelity-built") == source
    (setting,) = builds.list_build_settings(source)
    builds.update_build_source(source, rules=[setting.model_copy(update={"nocache": True})])
    build_uuid = builds.trigger_build(setting, f"{org}/fidelity-built")
    sandbox.world.wait_idle(timeout=10)
    assert build_uuid in {b.uuid for b in builds.list_builds(org, "fidelity-built")}
    assert builds.get_build(build_uuid).finished
    builds.build_log(build_uuid)
    builds.delete_build_source(source)

    assert oc.catalog_search("python")
    assert oc.catalog_badge("bitnami/python") == "verified_publisher"

    token = owner.create_org_access_token(
        org,
        label="push fidelity-repo",
        resources=[
            OrgAccessTokenResource(
                type="TYPE_REPO", path=f"{org}/fidelity-repo", scopes=(IMAGE_PUSH_SCOPE,)
            )
        ],
    )
    assert token.id in {t.id for t in owner.list_org_access_tokens(org)}
    owner.delete_org_access_token(org, token.id)

    oc.remove_team_member(org, "students", "fidelityone")
    oc.delete_team(org, "students")
    oc.remove_member(org, "fidelityone")
    oc.delete_repository(org, "fidelity-repo")


def drive_github(sandbox: Any) -> None:
    """Call every public method of GitHubClient once, as hubcourse would."""
    login = INSTRUCTOR_LOGIN
    github_state.create_repo(
        sandbox.world,
        login,
        "fidelity-gh",
        {"README.md": "# hi\n", ".github/workflows/hubcourse.yml": WORKFLOW},
    )
    gh = GitHubClient.from_settings()
    student = GitHubClient.for_oauth_token(sandbox.seeded["github"]["instructor"]["token"])
    assert gh.get_authenticated_user().login == login
    assert student.whoami().user.login == login
    assert gh.rate_limit().core.limit > 0
    assert gh.get_repository(login, "fidelity-gh").name == "fidelity-gh"
    assert "fidelity-gh" in {r.name for r in gh.list_my_repositories()}
    branch = gh.get_branch(login, "fidelity-gh", "main")
    assert gh.get_file(login, "fidelity-gh", "README.md", ref=branch.sha).text == "# hi\n"
    assert gh.file_exists(login, "fidelity-gh", "nothing-here.txt") is False
    gh.create_or_update_file(login, "fidelity-gh", "src/app.py", "print(1)\n", message="Add")
    gh.delete_file(login, "fidelity-gh", "src/app.py", message="Remove")

    hook = gh.create_webhook(login, "fidelity-gh", url="http://127.0.0.1:9/gh", secret="s3cret")
    gh.update_webhook(login, "fidelity-gh", hook.id, url="http://127.0.0.1:9/gh2", secret="s3")
    assert [h.id for h in gh.list_webhooks(login, "fidelity-gh")] == [hook.id]
    gh.delete_webhook(login, "fidelity-gh", hook.id)

    assert gh.get_actions_public_key(login, "fidelity-gh").key_id
    assert gh.set_actions_secret(login, "fidelity-gh", "DOCKERHUB_TOKEN", "x") is True
    assert gh.get_actions_secret(login, "fidelity-gh", "DOCKERHUB_TOKEN").name
    assert gh.delete_actions_secret(login, "fidelity-gh", "DOCKERHUB_TOKEN") is True
    assert gh.set_actions_variable(login, "fidelity-gh", "DOCKERHUB_USERNAME", "u") == "created"
    assert gh.set_actions_variable(login, "fidelity-gh", "DOCKERHUB_USERNAME", "v") == "updated"
    assert gh.get_actions_variable(login, "fidelity-gh", "DOCKERHUB_USERNAME").value == "v"
    assert gh.delete_actions_variable(login, "fidelity-gh", "DOCKERHUB_USERNAME") is True

    run_id = gh.dispatch_workflow(login, "fidelity-gh", "hubcourse.yml", "main")
    assert run_id is not None
    sandbox.world.wait_idle(timeout=10)
    assert run_id in {r.id for r in gh.list_workflow_runs(login, "fidelity-gh", branch="main")}
    assert gh.get_workflow_run(login, "fidelity-gh", run_id).conclusion == "success"
    (job, *_) = gh.list_workflow_jobs(login, "fidelity-gh", run_id)
    assert gh.job_log_url(login, "fidelity-gh", job.id)
    assert gh.job_log(login, "fidelity-gh", job.id)

    # Watching a branch head without the app: a conditional read, then "not modified".
    sha, etag = gh.get_branch_head(login, "fidelity-gh", "main") or ("", "")
    assert sha and gh.get_branch_head(login, "fidelity-gh", "main", etag) is None
    assert gh.get_account(login).login == login

    # The user side of the GitHub App: what a student's own token confirms.
    hub, installation_id = student_with_app(sandbox)
    app = sandbox.seeded["github"]["app"]
    user = GitHubClient.for_oauth_token(user_access_token(hub, app, STUDENT))
    assert [i.id for i in user.list_user_installations()] == [installation_id]
    assert user.list_user_installation_repositories(installation_id)


def test_every_docker_hub_client_call_matches_the_spec_or_a_written_shape(
    sandbox: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    exercised = {cls: Exercised() for cls in client_classes()}
    for cls, calls in exercised.items():
        calls.wrap(monkeypatch, cls)

    drive_dockerhub(sandbox)

    description = DockerHubDescription(load_spec(sandbox.url))
    results, problems = verdict(description.check, recorder.exchanges)
    assert not problems, "\n".join(problems)
    for cls, calls in exercised.items():
        assert set(public_methods(cls)) - calls.called == set(), cls.__name__
    # The routes outside Docker's spec that the client used all have a written shape.
    assert {r.route for r in results if not r.documented} <= {
        f"{route.method} {route.path}" for route in ROUTES
    }


def test_every_github_client_call_matches_githubs_description(
    sandbox: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = github_spec()
    exercised = Exercised()
    exercised.wrap(monkeypatch, GitHubClient)

    drive_github(sandbox)

    _, problems = verdict(GitHubDescription(spec).check, recorder.exchanges)
    assert not problems, "\n".join(problems)
    assert set(public_methods(GitHubClient)) - exercised.called == set()


def test_the_written_shapes_promise_every_field_the_client_requires() -> None:
    assert parser_gaps() == []
