"""The connection doctor against the sandbox over HTTP, and the ``hub_doctor`` command."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from onboarding.doctor import CheckResult, Connection, run_checks
from sandbox import dockerhub, github_state
from sandbox.testing import RunningSandbox

pytestmark = pytest.mark.integration

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"

TEAM = "students"


@pytest.fixture
def sb(sandbox: RunningSandbox) -> RunningSandbox:
    """The shared sandbox (reset by the ``sandbox`` fixture) with the course team created."""
    with sandbox.world.lock:
        org = sandbox.world.dockerhub["orgs"][sandbox.seeded["dockerhub"]["org"]]
        dockerhub._new_group(sandbox.world, org, TEAM, "The class")
    return sandbox


def _connection(sb: RunningSandbox, **changes: Any) -> Connection:
    seed = sb.seeded
    values: dict[str, Any] = {
        "dockerhub_url": sb.url,
        "dockerhub_identifier": seed["dockerhub"]["owner"],
        "dockerhub_secret": seed["dockerhub"]["owner_token"],
        "organisation": seed["dockerhub"]["org_display_name"],
        "team": TEAM,
        "github_api_url": f"{sb.url}/api/v3",
        "github_token": seed["github"]["instructor"]["token"],
    }
    values.update(changes)
    return Connection(**values)


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def _member_with_token(sb: RunningSandbox, username: str, role: str) -> str:
    dockerhub.create_user(sb.world, username, "a-password")
    token = dockerhub.create_pat(sb.world, username, "doctor")
    org = sb.world.dockerhub["orgs"][sb.seeded["dockerhub"]["org"]]
    dockerhub._add_member(sb.world, org, username, role, sb.seeded["dockerhub"]["owner"])
    return token


def test_an_owner_with_a_complete_setup_passes_every_check(sb):
    results = run_checks(_connection(sb, build_backend=AUTOBUILD))

    assert [result.name for result in results] == [
        "Docker Hub reachable",
        "Docker Hub login",
        "Organisation",
        "Docker Hub role",
        "Docker Hub team",
        "GitHub token",
        "GitHub token scopes",
        "Owner's linked GitHub account",
    ]
    assert all(result.ok for result in results), results
    checks = _by_name(results)
    assert checks["Docker Hub role"].message == "revelareowner is an Owner of Revelare."
    assert checks["Docker Hub team"].message == "The team students exists in Revelare (0 members)."


def test_the_organisation_token_is_enough_for_github_actions(sb):
    seed = sb.seeded["dockerhub"]
    connection = _connection(
        sb,
        dockerhub_identifier=seed["org"],
        dockerhub_secret=seed["org_token"],
        build_backend=ACTIONS,
    )

    results = run_checks(connection)

    assert all(result.ok for result in results), results


def test_the_organisation_token_cannot_run_automated_builds(sb):
    seed = sb.seeded["dockerhub"]
    connection = _connection(
        sb,
        dockerhub_identifier=seed["org"],
        dockerhub_secret=seed["org_token"],
        build_backend=AUTOBUILD,
    )

    role = _by_name(run_checks(connection))["Docker Hub role"]

    assert not role.ok
    assert "cannot set up Docker Hub automated builds" in role.message
    assert "GitHub Actions" in role.hint


def test_a_member_who_is_not_an_owner_fails_the_role_check(sb):
    token = _member_with_token(sb, "tina2024", "member")

    role = _by_name(
        run_checks(_connection(sb, dockerhub_identifier="tina2024", dockerhub_secret=token))
    )["Docker Hub role"]

    assert not role.ok
    assert role.message == (
        "tina2024 is a Member of Revelare; inviting students and setting up automated builds "
        "need an Owner."
    )
    assert "Make tina2024 an Owner of Revelare" in role.hint


def test_an_account_outside_the_organisation_fails_the_role_check(sb):
    dockerhub.create_user(sb.world, "outsider1", "a-password")
    token = dockerhub.create_pat(sb.world, "outsider1", "doctor")

    checks = _by_name(
        run_checks(_connection(sb, dockerhub_identifier="outsider1", dockerhub_secret=token))
    )

    # Docker Hub may refuse the organisation itself or only its member list to an outsider.
    first_failure = next(result for result in checks.values() if not result.ok)
    assert first_failure.name in ("Organisation", "Docker Hub role")
    assert first_failure.message == "outsider1 is not a member of Revelare."


def test_a_refused_token_stops_the_docker_hub_checks_at_the_login(sb):
    results = run_checks(_connection(sb, dockerhub_secret="dckr_pat_wrong"))

    names = [result.name for result in results]
    assert names[:2] == ["Docker Hub reachable", "Docker Hub login"]
    assert "Organisation" not in names
    login = _by_name(results)["Docker Hub login"]
    assert not login.ok
    assert login.message == "Docker Hub refused the token for revelareowner."
    assert "dckr_pat_wrong" not in login.message + login.hint


def test_missing_credentials_are_reported_without_calling_docker_hub(sb):
    results = run_checks(_connection(sb, dockerhub_secret=""))

    login = _by_name(results)["Docker Hub login"]
    assert not login.ok
    assert "DOCKERHUB_TOKEN" in login.hint
    assert "dockerhub" not in sb.world.stats["requests"]


def test_an_unknown_organisation_is_named(sb):
    results = run_checks(_connection(sb, organisation="nosuchorg"))

    org = _by_name(results)["Organisation"]
    assert not org.ok
    assert org.message.startswith("Docker Hub has no organisation named nosuchorg")
    assert "Docker Hub role" not in _by_name(results)


def test_a_missing_team_is_named(sb):
    team = _by_name(run_checks(_connection(sb, team="teachers")))["Docker Hub team"]

    assert not team.ok
    assert team.message == "Revelare has no team named teachers."


def test_an_unreachable_docker_hub_says_so(sb):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    results = run_checks(_connection(sb, dockerhub_url=closed))

    reachable = _by_name(results)["Docker Hub reachable"]
    assert not reachable.ok
    assert reachable.message.startswith("Could not reach Docker Hub")
    assert closed in reachable.hint


def test_a_revoked_github_token_fails(sb):
    github = _by_name(run_checks(_connection(sb, github_token="ghp_revoked")))["GitHub token"]

    assert not github.ok
    assert "refused the token" in github.message


def test_a_github_token_without_the_workflow_scope_fails_for_github_actions(sb):
    token = github_state.issue_token(
        sb.world, "revelare-instructor", scopes=["repo", "admin:repo_hook"], kind="pat"
    )

    for_actions = _by_name(run_checks(_connection(sb, github_token=token, build_backend=ACTIONS)))
    for_autobuild = _by_name(
        run_checks(_connection(sb, github_token=token, build_backend=AUTOBUILD))
    )

    scopes = for_actions["GitHub token scopes"]
    assert not scopes.ok
    assert scopes.message == (
        "The token lacks the workflow scope (to commit the GitHub Actions workflow)."
    )
    assert for_autobuild["GitHub token scopes"].ok


def test_no_github_token_is_fine_because_students_sign_in(sb):
    results = run_checks(_connection(sb, github_token=""))

    github = _by_name(results)["GitHub token"]
    assert github.ok
    assert "GitHub token scopes" not in _by_name(results)


# -- the command --------------------------------------------------------------------------------


def _point_settings_at(settings: Any, sb: RunningSandbox, **overrides: str) -> None:
    seed = sb.seeded
    settings.DOCKERHUB_API_URL = sb.url
    settings.DOCKERHUB_ORG = seed["dockerhub"]["org_display_name"]
    settings.DOCKERHUB_USERNAME = seed["dockerhub"]["owner"]
    settings.DOCKERHUB_TOKEN = seed["dockerhub"]["owner_token"]
    settings.GITHUB_API_URL = f"{sb.url}/api/v3"
    settings.GITHUB_TOKEN = seed["github"]["instructor"]["token"]
    for name, value in overrides.items():
        setattr(settings, name, value)


@pytest.fixture
def app_hook(live_server: Any, settings: Any, transactional_db: Any) -> str:
    """The GitHub App's webhook URL served by a live hubcourse, as in a deployment."""
    settings.GITHUB_APP_WEBHOOK_URL = f"{live_server.url}/webhooks/github/app/"
    return str(settings.GITHUB_APP_WEBHOOK_URL)


def test_the_command_prints_every_check_and_succeeds(sb, settings, app_hook):
    _point_settings_at(settings, sb)
    out = io.StringIO()

    call_command("hub_doctor", "--team", TEAM, stdout=out, no_color=True)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"ok   Docker Hub reachable: Docker Hub answered at {sb.url}."
    assert "ok   Docker Hub team: The team students exists in revelare (0 members)." in lines
    assert (
        "ok   GitHub App: GitHub accepts the key of the app hubcourse-sandbox "
        f"(app {sb.seeded['github']['app']['id']}), installed 0 times."
    ) in lines
    assert (
        f"ok   GitHub App webhook URL: {app_hook} reaches hubcourse (an unsigned event is refused)."
    ) in lines
    assert lines[-1] == "Everything hubcourse needs is in place."


def test_the_command_exits_1_and_says_what_to_do_when_a_check_fails(sb, settings, app_hook):
    _point_settings_at(settings, sb, DOCKERHUB_TOKEN="dckr_pat_wrong")
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("hub_doctor", stdout=out, no_color=True)

    assert caught.value.returncode == 1
    assert str(caught.value) == "1 check failed."
    text = out.getvalue()
    assert "FAIL Docker Hub login: Docker Hub refused the token for revelareowner." in text
    assert "     What to do: Create a new token" in text
    assert "dckr_pat_wrong" not in text


def test_the_command_checks_a_courses_own_credentials(sb, settings, app_hook):
    from accounts.models import Course

    seed = sb.seeded["dockerhub"]
    Course.objects.create(
        name="Docker 101",
        slug="docker-101",
        organisation=seed["org_display_name"],
        team=TEAM,
        dockerhub_username=seed["owner"],
        dockerhub_token=seed["owner_token"],
        build_backend=AUTOBUILD,
    )
    # The site-wide Docker Hub token is wrong: only the course's own may be used.
    _point_settings_at(settings, sb, DOCKERHUB_TOKEN="dckr_pat_wrong")
    out = io.StringIO()

    call_command("hub_doctor", "--course", "docker-101", stdout=out, no_color=True)

    text = out.getvalue()
    assert "ok   Docker Hub login: Logged in to Docker Hub as revelareowner." in text
    assert "ok   Docker Hub role: revelareowner is an Owner of revelare." in text


def test_a_course_without_its_own_credentials_uses_the_site_wide_ones(sb, settings, db):
    from accounts.models import Course

    _point_settings_at(settings, sb)
    course = Course.objects.create(name="Docker 102", slug="docker-102", team="ops")

    connection = Connection.for_course(course)

    assert connection.dockerhub_identifier == settings.DOCKERHUB_USERNAME
    assert connection.dockerhub_secret == settings.DOCKERHUB_TOKEN
    assert connection.github_token == settings.GITHUB_TOKEN
    assert (connection.organisation, connection.team) == ("revelare", "ops")
    assert connection.build_backend == AUTOBUILD


def test_for_automated_builds_the_doctor_says_which_linked_account_it_assumes_and_how_to_check(
    sb,
):
    instructor = sb.seeded["github"]["instructor"]["login"]

    check = _by_name(run_checks(_connection(sb, build_backend=AUTOBUILD)))[
        "Owner's linked GitHub account"
    ]

    assert check.ok
    assert f"assumes that {instructor}, the GitHub token's account" in check.message
    assert "linked to revelareowner" in check.message
    assert "Docker Hub's API does not say" in check.hint
    assert "Account settings → Linked accounts" in check.hint
    assert "GitHub account linked to the Owner" in check.hint


def test_a_linked_account_named_in_the_settings_is_reported_with_where_it_is_set(sb):
    connection = _connection(
        sb,
        build_backend=AUTOBUILD,
        owner_github_login="school-gh",
        owner_github_login_from="the course's settings",
    )

    check = _by_name(run_checks(connection))["Owner's linked GitHub account"]

    assert "takes school-gh to be the GitHub account linked to revelareowner" in check.message
    assert "(set in the course's settings)" in check.message
    assert "repositories school-gh administers" in check.message


def test_without_a_github_token_the_doctor_says_no_linked_account_is_known(sb):
    check = _by_name(run_checks(_connection(sb, build_backend=AUTOBUILD, github_token="")))[
        "Owner's linked GitHub account"
    ]

    assert check.ok
    assert "No GitHub account is known to be linked to revelareowner" in check.message
    assert "GitHub account linked to the Owner" in check.hint


def test_github_actions_needs_no_linked_account_check(sb):
    names = [r.name for r in run_checks(_connection(sb, build_backend=ACTIONS))]

    assert "Owner's linked GitHub account" not in names


def test_a_course_names_its_owners_linked_account_and_the_site_setting_is_the_fallback(
    sb, settings, db
):
    from accounts.models import Course

    _point_settings_at(settings, sb)
    settings.DOCKERHUB_OWNER_GITHUB_LOGIN = "site-gh"
    own = Course.objects.create(name="Docker 103", slug="docker-103", owner_github_login="c-gh")
    site = Course.objects.create(name="Docker 104", slug="docker-104")
    seed = sb.seeded["dockerhub"]
    other_owner = Course.objects.create(
        name="Docker 105",
        slug="docker-105",
        dockerhub_username=seed["owner"],
        dockerhub_token=seed["owner_token"],
    )

    assert (
        Connection.for_course(own).owner_github_login,
        Connection.for_course(own).owner_github_login_from,
    ) == ("c-gh", "the course's settings")
    assert Connection.for_course(site).owner_github_login == "site-gh"
    # The site's setting describes the site's Owner, not a course's own Docker Hub identity.
    assert Connection.for_course(other_owner).owner_github_login == ""


def test_an_unknown_course_is_an_error(sb, db):
    with pytest.raises(CommandError, match="There is no course 'nope'"):
        call_command("hub_doctor", "--course", "nope", stdout=io.StringIO())


def test_an_unregistered_organisation_is_not_checked_with_the_site_credentials(sb, db):
    from accounts.models import Course

    Course.objects.create(name="Old", slug="old", organisation="Stranger")
    for args in (("--course", "old"), ("--org", "Stranger")):
        with pytest.raises(CommandError, match="stranger is not registered in hubcourse"):
            call_command("hub_doctor", *args, stdout=io.StringIO())


def test_the_command_reports_a_bad_app_key_in_words(sb, settings, app_hook):
    from tests.integrations.github.test_app import _other_key

    _point_settings_at(settings, sb, GITHUB_APP_PRIVATE_KEY=_other_key())
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 check failed"):
        call_command("hub_doctor", "--team", TEAM, stdout=out, no_color=True)

    text = out.getvalue()
    assert (
        "FAIL GitHub App: GitHub does not accept the app's key: GitHub refused to read the "
        "GitHub App: A JSON web token could not be decoded (HTTP 401)."
    ) in text
    assert "What to do: Generate a new private key" in text
    assert "PRIVATE KEY" not in text


def test_the_command_says_when_no_app_is_set_up(sb, settings, db):
    _point_settings_at(settings, sb)
    settings.GITHUB_APP_ID = 0
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 check failed"):
        call_command("hub_doctor", "--team", TEAM, stdout=out, no_color=True)

    assert "FAIL GitHub App: No GitHub App is set up" in out.getvalue()


def test_the_command_says_when_the_webhook_url_does_not_reach_hubcourse(sb, settings, db):
    _point_settings_at(
        settings, sb, GITHUB_APP_WEBHOOK_URL="http://127.0.0.1:9/webhooks/github/app/"
    )
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 check failed"):
        call_command("hub_doctor", "--team", TEAM, stdout=out, no_color=True)

    text = out.getvalue()
    assert (
        "FAIL GitHub App webhook URL: http://127.0.0.1:9/webhooks/github/app/ cannot be reached"
        in text
    )
    assert "What to do: GitHub sends the app's events to" in text
