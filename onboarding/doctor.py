"""Connection checks: can hubcourse do its job with the Docker Hub and GitHub credentials it has?

``run_checks`` answers in plain words, one ``CheckResult`` per question, for the
``hub_doctor`` command and the course setup page's "Check connection" button:

* Docker Hub answers, and the identifier and token log in;
* the organisation exists and the identity may act in it as an Owner would: inviting
  students needs an Owner (or the organisation's own access token), and Docker Hub automated
  builds need an Owner's personal token, because organisation access tokens do not reach the
  build API (notes §4, §11);
* the course team exists;
* the GitHub token is valid and carries the scopes the course's build backend needs;
* for automated builds, which GitHub account hubcourse takes to be linked to the Owner's
  Docker ID (Docker Hub's API does not say), where that comes from and how to check it.

A check that cannot run because an earlier one failed is left out rather than reported as a
second failure of the same cause. Checks only read; they never change Docker Hub or GitHub.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings

from accounts.credentials import dockerhub_credentials_for, owner_github_login_for
from accounts.github_app import app_status
from builds.backends import BACKENDS, get_backend
from hubcourse import http
from hubcourse.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ExternalServiceError,
    Forbidden,
    NotFound,
    PermanentError,
    ServiceTimeout,
)
from hubcourse.namespaces import dockerhub_spelling
from hubcourse.secrets import SecretValue
from integrations.dockerhub.client import DockerHubClient
from integrations.github.client import GitHubClient, TokenIdentity

if TYPE_CHECKING:
    from accounts.models import Course

AUTOBUILD = "dockerhub-autobuild"
# A token that dies within this long still works today, but the instructor should know.
EXPIRY_WARNING = dt.timedelta(days=14)


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str
    # What to do about a failure (empty when there is nothing to do).
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class Connection:
    """Everything the checks need; a course fills it from its own (decrypted) credentials."""

    dockerhub_url: str
    dockerhub_identifier: str
    dockerhub_secret: str = dataclasses.field(repr=False)
    organisation: str
    team: str = ""
    # None: check for both backends (the command, before a course exists).
    build_backend: str | None = None
    github_api_url: str = "https://api.github.com"
    github_token: str = dataclasses.field(default="", repr=False)
    # The GitHub account configured as linked to the Owner's Docker ID, and where it is set
    # ("" and "": not configured, the GitHub token's account is assumed).
    owner_github_login: str = ""
    owner_github_login_from: str = ""

    @classmethod
    def from_settings(
        cls,
        *,
        organisation: str | None = None,
        team: str | None = None,
        build_backend: str | None = None,
    ) -> Connection:
        return cls(
            dockerhub_url=settings.DOCKERHUB_API_URL,
            dockerhub_identifier=settings.DOCKERHUB_USERNAME,
            dockerhub_secret=settings.DOCKERHUB_TOKEN,
            organisation=dockerhub_spelling(organisation or settings.DOCKERHUB_ORG),
            team=team if team is not None else getattr(settings, "DOCKERHUB_TEAM", ""),
            build_backend=build_backend,
            github_api_url=settings.GITHUB_API_URL,
            github_token=settings.GITHUB_TOKEN,
            owner_github_login=settings.DOCKERHUB_OWNER_GITHUB_LOGIN,
            owner_github_login_from=(
                "DOCKERHUB_OWNER_GITHUB_LOGIN" if settings.DOCKERHUB_OWNER_GITHUB_LOGIN else ""
            ),
        )

    @classmethod
    def for_course(cls, course: Course) -> Connection:
        """The course's own credentials; where it has none, its registered organisation's
        (``OrganisationNotUsable`` for an organisation hubcourse may not act in)."""
        identifier, secret = dockerhub_credentials_for(course)
        linked, linked_from = owner_github_login_for(course)
        return cls(
            dockerhub_url=settings.DOCKERHUB_API_URL,
            dockerhub_identifier=identifier,
            dockerhub_secret=secret,
            organisation=course.organisation,
            team=course.team,
            build_backend=course.build_backend,
            github_api_url=settings.GITHUB_API_URL,
            github_token=_reveal(course.github_token) or settings.GITHUB_TOKEN,
            owner_github_login=linked,
            owner_github_login_from=linked_from,
        )

    @property
    def uses_organisation_token(self) -> bool:
        # An organisation access token logs in with the organisation's name (notes §3).
        return self.dockerhub_identifier.lower() == self.organisation.lower()


def run_checks(connection: Connection) -> list[CheckResult]:
    """Every check, in order; failures carry a hint. Never raises for a service's answer."""
    results = [*_dockerhub_checks(connection), *_github_checks(connection)]
    if connection.build_backend in (None, AUTOBUILD) and not connection.uses_organisation_token:
        results.append(_linked_account_check(connection))
    return results


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [result for result in results if not result.ok]


# -- Docker Hub ----------------------------------------------------------------------------------


def _dockerhub_checks(connection: Connection) -> list[CheckResult]:
    where = connection.dockerhub_url
    if not connection.dockerhub_identifier or not connection.dockerhub_secret:
        return [
            CheckResult(
                "Docker Hub login",
                False,
                "No Docker Hub identifier and token are configured.",
                "Set DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (or the course's Docker Hub "
                "credentials): the organisation's name with an organisation access token, "
                "or an Owner's username with their personal access token.",
            )
        ]
    client = DockerHubClient(
        connection.dockerhub_url, connection.dockerhub_identifier, connection.dockerhub_secret
    )
    results: list[CheckResult] = []

    try:
        client.token()
    except (ConnectionFailed, ServiceTimeout) as error:
        return [
            CheckResult(
                "Docker Hub reachable",
                False,
                f"{error}.",
                f"Check DOCKERHUB_API_URL ({where}) and that this machine can reach it.",
            )
        ]
    except AuthenticationFailed:
        return [
            _reachable(where),
            CheckResult(
                "Docker Hub login",
                False,
                f"Docker Hub refused the token for {connection.dockerhub_identifier}.",
                "Create a new token: with an organisation access token the identifier is the "
                "organisation's name; with a personal access token it is the username. "
                "Tokens that were revoked or have expired stop working.",
            ),
        ]
    except ExternalServiceError as error:
        return [_reachable(where), _from_error("Docker Hub login", error)]
    results += [
        _reachable(where),
        CheckResult(
            "Docker Hub login",
            True,
            f"Logged in to Docker Hub as {connection.dockerhub_identifier}.",
        ),
    ]

    org = connection.organisation
    try:
        organisation = client.get_organization(org)
    except NotFound:
        return [
            *results,
            CheckResult(
                "Organisation",
                False,
                f"Docker Hub has no organisation named {org}, or "
                f"{connection.dockerhub_identifier} cannot see it.",
                "Check the organisation name (DOCKERHUB_ORG or the course's setting).",
            ),
        ]
    except Forbidden:
        return [
            *results,
            CheckResult(
                "Organisation",
                False,
                f"{connection.dockerhub_identifier} is not a member of {org}.",
                f"Add {connection.dockerhub_identifier} to {org} as an Owner, or log in with "
                "the organisation's access token.",
            ),
        ]
    except ExternalServiceError as error:
        return [*results, _from_error("Organisation", error)]
    results.append(
        CheckResult("Organisation", True, f"The organisation {organisation.orgname} exists.")
    )

    role = _role_check(client, connection)
    results.append(role)
    if connection.team:
        results.append(_team_check(client, connection))
    return results


def _reachable(where: str) -> CheckResult:
    return CheckResult("Docker Hub reachable", True, f"Docker Hub answered at {where}.")


def _role_check(client: DockerHubClient, connection: Connection) -> CheckResult:
    name = "Docker Hub role"
    org = connection.organisation
    who = connection.dockerhub_identifier
    if connection.uses_organisation_token:
        if connection.build_backend and get_backend(connection.build_backend).needs_owner_account:
            return CheckResult(
                name,
                False,
                "An organisation access token cannot set up Docker Hub automated builds: "
                "Docker Hub lets only an Owner's own account use its build API.",
                "Use an organisation Owner's username and personal access token, or switch "
                "the course to the GitHub Actions build backend.",
            )
        try:
            # "Only team owners" may list invites (notes §4): the probe for invite rights.
            client.list_invites(org)
        except Forbidden:
            return CheckResult(
                name,
                False,
                f"The organisation access token of {org} may not manage invites.",
                "Create an organisation access token with access to members and invites "
                "(Organization settings → Access tokens).",
            )
        except ExternalServiceError as error:
            return _from_error(name, error)
        message = f"The organisation access token of {org} may invite members and manage teams."
        if connection.build_backend is None:
            message += (
                " It cannot set up Docker Hub automated builds (those need an Owner's personal "
                "token); the GitHub Actions backend works with it."
            )
        return CheckResult(name, True, message)

    try:
        members = client.list_members(org, search=who)
    except Forbidden:
        return CheckResult(
            name,
            False,
            f"{who} may not list the members of {org}, so is not an Owner of it.",
            f"Make {who} an Owner of {org}, or use the organisation's access token.",
        )
    except ExternalServiceError as error:
        return _from_error(name, error)
    member = next(
        (item for item in members if item.username.lower() == who.lower() and not item.is_invitee),
        None,
    )
    if member is None:
        return CheckResult(
            name,
            False,
            f"{who} is not a member of {org}.",
            f"Add {who} to {org} as an Owner, or log in with the organisation's access token.",
        )
    if member.role.lower() != "owner":
        return CheckResult(
            name,
            False,
            f"{who} is {_article(member.role)} {member.role} of {org}; inviting students "
            "and setting up automated builds need an Owner.",
            f"Make {who} an Owner of {org} (Organization → Members), or use another account.",
        )
    return CheckResult(name, True, f"{who} is an Owner of {org}.")


def _team_check(client: DockerHubClient, connection: Connection) -> CheckResult:
    name = "Docker Hub team"
    org, team = connection.organisation, connection.team
    try:
        found = client.get_team(org, team)
    except NotFound:
        return CheckResult(
            name,
            False,
            f"{org} has no team named {team}.",
            f"Create the team {team} in {org} on Docker Hub, or correct the course's team name.",
        )
    except ExternalServiceError as error:
        return _from_error(name, error)
    members = "member" if found.member_count == 1 else "members"
    return CheckResult(
        name, True, f"The team {found.name} exists in {org} ({found.member_count} {members})."
    )


# -- GitHub --------------------------------------------------------------------------------------


def _github_checks(connection: Connection) -> list[CheckResult]:
    if not connection.github_token:
        return [
            CheckResult(
                "GitHub token",
                True,
                "No GitHub token is configured: hubcourse acts on each repository with its "
                "student's own GitHub sign-in.",
            )
        ]
    client = GitHubClient(connection.github_token, api_url=connection.github_api_url)
    try:
        identity = client.whoami()
    except AuthenticationFailed:
        return [
            CheckResult(
                "GitHub token",
                False,
                "GitHub refused the token: it is wrong, revoked or expired.",
                "Create a new token and store it as GITHUB_TOKEN (or in the course's settings).",
            )
        ]
    except Forbidden:
        # An app installation token may not read /user; a call it may make tells us whether
        # GitHub accepts it at all.
        try:
            client.rate_limit()
        except ExternalServiceError as error:
            return [_from_error("GitHub token", error)]
        return [
            CheckResult(
                "GitHub token",
                True,
                "GitHub accepted the token (an app installation token: its permissions are set "
                "on the app).",
            )
        ]
    except (ConnectionFailed, ServiceTimeout) as error:
        return [
            CheckResult(
                "GitHub token",
                False,
                f"{error}.",
                f"Check GITHUB_API_URL ({connection.github_api_url}) and that this machine can "
                "reach it.",
            )
        ]
    except ExternalServiceError as error:
        return [_from_error("GitHub token", error)]

    message = f"GitHub accepted the token of {identity.user.login}."
    if identity.expires_at is not None:
        day = identity.expires_at.strftime("%Y-%m-%d")
        soon = identity.expires_at - dt.datetime.now(dt.UTC) < EXPIRY_WARNING
        message += f" It expires on {day}{', soon: plan its renewal' if soon else ''}."
    return [CheckResult("GitHub token", True, message), _scope_check(identity, connection)]


def _scope_check(identity: TokenIdentity, connection: Connection) -> CheckResult:
    name = "GitHub token scopes"
    needed: list[tuple[str, tuple[str, ...], str]] = [
        ("repo", ("repo", "public_repo"), "read student repositories"),
        ("admin:repo_hook", ("admin:repo_hook", "write:repo_hook", "repo"), "add push webhooks"),
    ]
    # No backend named yet: what any of them needs.
    chosen = connection.build_backend
    for backend in [get_backend(chosen)] if chosen else list(BACKENDS.values()):
        needed.extend(s for s in backend.github_scopes if s not in needed)
    if identity.scopes is None:
        wanted = ", ".join(reason for _, _, reason in needed)
        return CheckResult(
            name,
            True,
            "This is a fine-grained token; GitHub does not list its permissions. It needs "
            f"access to the student repositories to {wanted}.",
        )
    missing = [
        (scope, reason) for scope, any_of, reason in needed if not identity.has_scope(*any_of)
    ]
    if missing:
        return CheckResult(
            name,
            False,
            "The token lacks "
            + "; ".join(f"the {scope} scope (to {reason})" for scope, reason in missing)
            + ".",
            "Create a token with the scopes " + ", ".join(scope for scope, _, _ in needed) + ".",
        )
    listed = ", ".join(sorted(identity.scopes)) or "none"
    return CheckResult(name, True, f"The token has the scopes hubcourse needs ({listed}).")


def _linked_account_check(connection: Connection) -> CheckResult:
    """Which GitHub account is taken to be linked to the Owner's Docker ID, and how to check.

    Docker Hub links an automated build only through that account, for repositories it
    administers, and no route of its API says which account it is: hubcourse takes it from
    the course's setting or DOCKERHUB_OWNER_GITHUB_LOGIN, else assumes the GitHub token's
    account. This check states the assumption; only the Owner can confirm it on Docker Hub.
    """
    name = "Owner's linked GitHub account"
    owner = connection.dockerhub_identifier
    verify = (
        f"Check on Docker Hub, signed in as {owner}, under Account settings → Linked accounts, "
        "which GitHub account is linked (Docker Hub's API does not say)."
    )
    change = (
        "If another account is linked there, enter it as “GitHub account linked to the Owner” "
        "in the course's settings (or DOCKERHUB_OWNER_GITHUB_LOGIN for the site)."
    )
    login = connection.owner_github_login
    if login:
        return CheckResult(
            name,
            True,
            f"For automated builds hubcourse takes {login} to be the GitHub account linked to "
            f"{owner} (set in {connection.owner_github_login_from}): it links builds itself "
            f"only from repositories {login} administers or an organisation's, and students "
            "link the others.",
            f"{verify} {change}",
        )
    token_login = _token_login(connection)
    if token_login:
        return CheckResult(
            name,
            True,
            f"For automated builds hubcourse assumes that {token_login}, the GitHub token's "
            f"account, is the GitHub account linked to {owner}: nothing else names it. It "
            f"links builds itself only from repositories {token_login} administers or an "
            "organisation's, and students link the others.",
            f"{verify} {change}",
        )
    return CheckResult(
        name,
        True,
        f"No GitHub account is known to be linked to {owner} (no GitHub token and none named): "
        "hubcourse tries to link each automated build as the Owner, and a refusal from Docker "
        "Hub hands that student's build to the student.",
        f"{verify} Enter the account shown there as “GitHub account linked to the Owner” in "
        "the course's settings (or DOCKERHUB_OWNER_GITHUB_LOGIN).",
    )


def _token_login(connection: Connection) -> str:
    """The GitHub token's account, or "" when there is no token or GitHub will not say."""
    if not connection.github_token:
        return ""
    client = GitHubClient(connection.github_token, api_url=connection.github_api_url)
    try:
        return client.whoami().user.login
    except ExternalServiceError:
        return ""


# -- wording -------------------------------------------------------------------------------------


def _from_error(name: str, error: ExternalServiceError) -> CheckResult:
    hint = "Try again in a few minutes." if not error.permanent else ""
    return CheckResult(name, False, f"{error}.", hint)


def _reveal(value: object) -> str:
    # An encrypted field reads back as a SecretValue, or as a plain str before it is saved.
    if isinstance(value, SecretValue):
        return value.reveal()
    return str(value or "")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# -- the GitHub App ----------------------------------------------------------------------------


def app_checks() -> list[CheckResult]:
    """The GitHub App: GitHub accepts its key (a JWT ``GET /app``), it has what students need,
    and its webhook URL reaches this hubcourse."""

    status = app_status(live=True)
    if not status.configured:
        return [
            CheckResult(
                "GitHub App",
                False,
                "No GitHub App is set up, so hubcourse can only read public repositories and "
                "sees pushes late.",
                "Register it on the organisation's GitHub App page, or set GITHUB_APP_ID, "
                "GITHUB_APP_SLUG and GITHUB_APP_PRIVATE_KEY (or _FILE).",
            )
        ]
    if status.summary.startswith(("GitHub does not accept", "The app's private key")):
        return [
            CheckResult(
                "GitHub App",
                False,
                f"{status.summary.rstrip('.')}.",
                "Generate a new private key on the app's settings page on GitHub and set "
                "GITHUB_APP_PRIVATE_KEY (or enter the credentials again on the GitHub App page); "
                "check that GITHUB_APP_ID is the app's id.",
            )
        ]
    results = [CheckResult("GitHub App", True, status.summary)]
    for problem in status.problems:
        results.append(CheckResult("GitHub App settings", False, problem))
    results.append(_webhook_check())
    return results


def _webhook_check() -> CheckResult:
    """Post an unsigned body to the app's webhook URL: hubcourse's receiver refuses it with
    401, which proves the URL reaches it (through any proxy) without acting on anything."""

    url = str(settings.GITHUB_APP_WEBHOOK_URL)
    name = "GitHub App webhook URL"
    hint = (
        f"GitHub sends the app's events to {url}: it must reach this hubcourse from the "
        "internet. Set SITE_URL (or GITHUB_APP_WEBHOOK_URL) to the public address and use the "
        "same URL as the Webhook URL in the app's settings on GitHub."
    )
    try:
        http.request(
            "POST",
            url,
            service="hubcourse",
            operation="reach the GitHub App's webhook URL",
            json={"zen": "hub_doctor"},
            headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "hub-doctor"},
        )
    except AuthenticationFailed:
        return CheckResult(name, True, f"{url} reaches hubcourse (an unsigned event is refused).")
    except PermanentError as error:
        return CheckResult(
            name, False, f"{url} answered {error.status or 'nothing'}, not hubcourse's 401.", hint
        )
    except ExternalServiceError as error:
        return CheckResult(name, False, f"{url} cannot be reached: {error.message}.", hint)
    return CheckResult(
        name, False, f"{url} accepted an unsigned event: it is not hubcourse's receiver.", hint
    )
