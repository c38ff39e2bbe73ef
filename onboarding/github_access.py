"""How hubcourse reaches a student's own GitHub repository, and keeping that true.

Students own their repositories, so the course's token can neither read a private one nor
hook it. Three ways in, recorded on the enrolment (``github_access``):

- ``app``: the student installed the course's GitHub App on the repository. The setup URL's
  ``installation_id`` can be forged by anyone, so it is recorded only once confirmed three
  ways: the ``state`` hubcourse signed for this enrolment comes back, the student's own user
  token (an OAuth round trip with the app's client id, used once and never stored) lists the
  installation and the repository in it, and the app itself says the repository's
  installation is that one.
- ``public``: a public repository without the app, read as anyone may and checked on a timer.
- ``none``: a private repository without the app: nothing can watch it.

The app's webhook events (``installation``, ``installation_repositories``, ``repository``)
keep it true: an uninstall, a removed repository, a rename, a transfer or a deletion update
the enrolment by repository id and say, on the student's page, what happened and what to do.
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.credentials import github_app
from accounts.models import Enrolment, GitHubAccess, PreflightState, User
from accounts.repository_access import public_reader
from accounts.signals import note_observed
from hubcourse import http
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ExternalServiceError, NotFound
from integrations.github.app import READ, GitHubAppClient, installation_client
from integrations.github.client import GitHubClient, Repository
from integrations.github.public import AnonymousGitHubClient

if TYPE_CHECKING:
    from integrations.github.app import GitHubAppConfig

logger = logging.getLogger(__name__)

HUBCOURSE = "hubcourse"
INSTALL_SALT = "onboarding.github-install"
CONFIRM_SALT = "onboarding.github-confirm"
# Long enough to sign in to GitHub and pick the repository; short enough that an old link
# found in a browser's history is useless.
STATE_MAX_AGE = 30 * 60


def public_check_minutes() -> int:
    """How often a public repository without the app is looked at (the watcher's setting)."""
    return int(getattr(settings, "GITHUB_PUBLIC_CHECK_MINUTES", 5))


class AccessRefused(Exception):
    """The installation could not be confirmed for this student; ``str()`` says why."""


# -- the app's configuration ---------------------------------------------------------------------


def app_config() -> GitHubAppConfig | None:

    return github_app()


def install_url(enrolment: Enrolment, user: User) -> str | None:
    """GitHub's page to install the app, carrying a state bound to this enrolment."""
    config = app_config()
    if config is None:
        return None
    state = signing.dumps(
        {"e": enrolment.pk, "u": user.pk, "n": secrets.token_urlsafe(8)}, salt=INSTALL_SALT
    )
    return f"{config.install_url}?{urllib.parse.urlencode({'state': state})}"


@dataclass(frozen=True)
class InstallState:
    enrolment_id: int
    user_id: int


def read_install_state(state: str, *, user: User) -> InstallState:
    """The enrolment a setup-URL ``state`` was signed for; ``AccessRefused`` otherwise."""
    try:
        data = signing.loads(state, salt=INSTALL_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise AccessRefused(
            "The link back from GitHub is too old. Start again from your course page."
        ) from None
    except signing.BadSignature:
        raise AccessRefused(
            "hubcourse did not send you to GitHub with this link, so it cannot tell which "
            "course it is for. Start again from your course page."
        ) from None
    if not isinstance(data, dict) or data.get("u") != user.pk:
        raise AccessRefused(
            "This link back from GitHub was made for another hubcourse account. Sign in with "
            "your own account and start again from your course page."
        )
    return InstallState(enrolment_id=int(data["e"]), user_id=int(data["u"]))


def confirm_state(enrolment: Enrolment, user: User, installation_id: int) -> str:
    """The OAuth ``state`` of the confirm round trip: enrolment, user and installation."""
    return signing.dumps({"e": enrolment.pk, "u": user.pk, "i": installation_id}, salt=CONFIRM_SALT)


def read_confirm_state(state: str, *, user: User) -> tuple[int, int]:
    """(enrolment id, installation id) of a confirm ``state``; ``AccessRefused`` otherwise."""
    try:
        data = signing.loads(state, salt=CONFIRM_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        raise AccessRefused(
            "This link back from GitHub is not one hubcourse made (or it is too old). Start "
            "again from your course page."
        ) from None
    if not isinstance(data, dict) or data.get("u") != user.pk:
        raise AccessRefused(
            "This link back from GitHub was made for another hubcourse account. Start again "
            "from your course page."
        )
    return int(data["e"]), int(data["i"])


def authorize_url(config: GitHubAppConfig, *, redirect_uri: str, state: str) -> str:
    """GitHub's OAuth page for the app's client id (no scopes: an app's token has none)."""
    base = str(settings.GITHUB_URL).rstrip("/")
    query = {"client_id": config.client_id, "redirect_uri": redirect_uri, "state": state}
    return f"{base}/login/oauth/authorize?{urllib.parse.urlencode(query)}"


def exchange_code(config: GitHubAppConfig, *, code: str, redirect_uri: str) -> str:
    """The user token for an OAuth code; used at once by the caller and never stored."""
    # Reference: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
    base = str(settings.GITHUB_URL).rstrip("/")
    response = http.request(
        "POST",
        f"{base}/login/oauth/access_token",
        service="GitHub",
        operation="confirm your GitHub sign-in",
        data={
            "client_id": config.client_id,
            "client_secret": config.client_secret.reveal(),
            "code": code,
            "redirect_uri": redirect_uri,
        },
        headers={"Accept": "application/json"},
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        raise AccessRefused(
            "GitHub did not confirm your sign-in (the code was used or too old). Start again "
            "from your course page."
        )
    return str(token)


# -- confirming an installation --------------------------------------------------------------------


def confirm_installation(
    *, enrolment: Enrolment, actor: User, installation_id: int, user_token: str
) -> Enrolment:
    """Record the installation once the student's token and the app both vouch for it."""

    config = app_config()
    if config is None:
        raise AccessRefused("The course's GitHub App is not set up yet: tell your instructor.")
    full = enrolment.github_repo.strip().strip("/")
    owner, _, name = full.partition("/")
    if not owner or not name:
        raise AccessRefused("Give your GitHub repository (owner/name) first, then install the app.")
    user_client = GitHubClient.for_oauth_token(user_token)
    try:
        mine = {inst.id for inst in user_client.list_user_installations()}
        if installation_id not in mine:
            raise AccessRefused(
                "That installation of the GitHub App is not one your GitHub account can see, "
                "so hubcourse cannot link it to you. Install the app on your own repository "
                "from your course page."
            )
        repositories = user_client.list_user_installation_repositories(installation_id)
        repository = next((r for r in repositories if r.full_name.lower() == full.lower()), None)
        if repository is None:
            raise AccessRefused(
                f"Your installation of the GitHub App does not include {full}. On GitHub, "
                "open the app's settings and add this repository (\"Only select "
                "repositories\"), or check the repository's name on your course page."
            )
        found = GitHubAppClient(config).repository_installation(owner, name)
    except ExternalServiceError as error:
        raise AccessRefused(
            f"hubcourse could not check the installation with GitHub just now: {error}. "
            "Try again in a minute."
        ) from error
    if found is None or found.id != installation_id:
        raise AccessRefused(
            f"GitHub says the app is not installed on {full} by that installation. Install "
            "it on this repository from your course page."
        )
    return _record_app(enrolment, actor, installation_id, repository)


def access_from_app(enrolment: Enrolment) -> Enrolment:
    """Ask the app itself whether it is installed on the repository the roster gives.

    For repositories the staff gave (the demo course's roster), with no student at hand to
    vouch for an installation: the app's own word on the repository is what pre-flight of
    the github-actions backend trusts too. Recorded as ``app`` when it is installed there
    (not suspended); otherwise looked at anonymously (``access_refresh``). GitHub unreachable
    leaves things as they were.
    """
    config = app_config()
    full = enrolment.github_repo.strip().strip("/")
    owner, _, name = full.partition("/")
    if config is None or not owner or not name or enrolment.github_access == GitHubAccess.APP:
        return access_refresh(enrolment)
    try:
        found = GitHubAppClient(config).repository_installation(owner, name)
        if found is None or found.suspended_at is not None:
            return access_refresh(enrolment)
        repository = installation_client(config, found.id, full, dict(READ)).get_repository(
            owner, name
        )
    except ExternalServiceError as error:
        logger.info("could not ask the GitHub App about %s: %s", full, error)
        return enrolment
    return _record_app(enrolment, None, found.id, repository)


def _record_app(
    enrolment: Enrolment, actor: User | None, installation_id: int, repository: Repository
) -> Enrolment:
    with transaction.atomic():
        fields: dict[str, object] = {
            "github_access": GitHubAccess.APP,
            "github_access_note": "",
            "github_installation_id": installation_id,
            "github_repository_id": repository.id,
            "github_repo": repository.full_name,
            "updated_at": timezone.now(),
        }
        Enrolment.objects.filter(pk=enrolment.pk).update(**fields)
        _audit(
            enrolment,
            actor,
            "github_access.app",
            f"GitHub App installation {installation_id} confirmed on {repository.full_name}",
        )
    enrolment.refresh_from_db()
    note_observed(enrolment.pk)
    return enrolment


# -- without the app -------------------------------------------------------------------------------


def access_refresh(enrolment: Enrolment) -> Enrolment:
    """Look at the repository as anyone may (``public_reader``): public (checked on a timer)
    or not visible.

    Used when the student links a repository, and when the app stops covering it. A
    repository the app covers keeps ``app``. GitHub unreachable leaves things as they were.
    """
    if enrolment.github_access == GitHubAccess.APP:
        return enrolment
    full = enrolment.github_repo.strip().strip("/")
    owner, _, name = full.partition("/")
    if not owner or not name:
        _set(enrolment, access=GitHubAccess.UNKNOWN, note="", repository_id=None)
        return enrolment
    try:
        repository = public_reader(enrolment.course).get_repository(owner, name)
    except NotFound:
        _set(enrolment, access=GitHubAccess.NONE, note="", repository_id=None)
        return enrolment
    except ExternalServiceError as error:
        logger.info("could not look at %s: %s", full, error)
        return enrolment
    _set(
        enrolment,
        access=GitHubAccess.NONE if repository.private else GitHubAccess.PUBLIC,
        note="",
        repository_id=repository.id,
    )
    return enrolment


def repository_linked(enrolment: Enrolment) -> Enrolment:
    """The student gave (another) repository: forget the old access, look at the new one."""
    Enrolment.objects.filter(pk=enrolment.pk).update(
        github_access=GitHubAccess.UNKNOWN,
        github_access_note="",
        github_installation_id=None,
        github_repository_id=None,
    )
    enrolment.refresh_from_db()
    return access_refresh(enrolment)


def own_public_repositories(login: str) -> list[str]:
    """The public repositories a GitHub login owns, read anonymously (a pick list)."""
    if not login:
        return []
    try:
        repos = AnonymousGitHubClient.from_settings().list_public_repositories(login)
    except ExternalServiceError as error:
        logger.info("could not list public repositories of %s: %s", login, error)
        return []
    return sorted((r.full_name for r in repos if not r.archived), key=str.lower)


def _set(
    enrolment: Enrolment,
    *,
    access: str,
    note: str,
    repository_id: int | object | None = ...,
    installation_id: int | object | None = ...,
    github_repo: str | None = None,
) -> None:
    fields: dict[str, object] = {
        "github_access": access,
        "github_access_note": note[:300],
        "updated_at": timezone.now(),
    }
    if repository_id is not ...:
        fields["github_repository_id"] = repository_id
    if installation_id is not ...:
        fields["github_installation_id"] = installation_id
    if github_repo is not None:
        fields["github_repo"] = github_repo
    Enrolment.objects.filter(pk=enrolment.pk).update(**fields)
    enrolment.refresh_from_db()


# -- how the student is watched, in words --------------------------------------------------------


@dataclass(frozen=True)
class AccessPanel:
    """The student page's "your repository on GitHub" section."""

    access: str
    watched: str
    explanation: str
    note: str  # what happened lately (an uninstall, a rename...), in words
    can_install: bool  # the app is set up and does not cover the repository (yet)


def access_panel(enrolment: Enrolment) -> AccessPanel:
    return AccessPanel(
        access=enrolment.github_access,
        watched=how_watched(enrolment),
        explanation=what_to_do(enrolment),
        note=enrolment.github_access_note,
        can_install=bool(enrolment.github_repo)
        and enrolment.github_access != GitHubAccess.APP
        and app_config() is not None,
    )


def how_watched(enrolment: Enrolment) -> str:
    """One phrase for the board row and the student's page."""
    access = enrolment.github_access
    if access == GitHubAccess.APP:
        return "push events"
    if access == GitHubAccess.PUBLIC:
        return f"checked every {public_check_minutes()} minutes"
    if access == GitHubAccess.NONE:
        return "cannot be watched: private repository without the app"
    return "not checked yet"


def what_to_do(enrolment: Enrolment) -> str:
    """For the student: what their access means and what they can do about it."""
    access = enrolment.github_access
    if access == GitHubAccess.APP:
        return "hubcourse hears each push to your repository within seconds."
    if access == GitHubAccess.PUBLIC:
        return (
            f"Your repository is public, so hubcourse looks at it every {public_check_minutes()} "
            "minutes. Install the course's GitHub App on it to see your builds within seconds."
        )
    if access == GitHubAccess.NONE:
        return (
            "Your repository is private (or hubcourse cannot find it), so hubcourse cannot "
            "watch it or check your Dockerfile. Install the course's GitHub App on it (you "
            "choose just this repository), or make it public, or check its name."
        )
    return ""


# -- the app's events ------------------------------------------------------------------------------


def on_app_event(
    sender: object, *, event: str, action: str, payload: dict[str, Any], **kwargs: Any
) -> None:
    """Keep every enrolment's access true to what GitHub says happened."""
    try:
        if event == "installation":
            _on_installation(action, payload)
        elif event == "installation_repositories":
            _on_installation_repositories(action, payload)
        elif event == "repository":
            _on_repository(action, payload)
    except (KeyError, TypeError, ValueError):
        logger.warning("ignored a malformed %s.%s event", event, action)


def _installation_id(payload: dict[str, Any]) -> int:
    return int(payload["installation"]["id"])


def _without_app(enrolment: Enrolment, private: bool | None, note: str) -> None:
    if private is None:
        access = GitHubAccess.NONE
    else:
        access = GitHubAccess.NONE if private else GitHubAccess.PUBLIC
    _set(enrolment, access=access, note=note)
    _changed(enrolment, note)


def _on_installation(action: str, payload: dict[str, Any]) -> None:
    installation_id = _installation_id(payload)
    enrolments = list(Enrolment.objects.filter(github_installation_id=installation_id))
    if not enrolments:
        return
    private_of = {int(r["id"]): bool(r.get("private")) for r in payload.get("repositories") or []}
    for enrolment in enrolments:
        private = private_of.get(enrolment.github_repository_id or 0)
        if action == "deleted":
            Enrolment.objects.filter(pk=enrolment.pk).update(github_installation_id=None)
            _without_app(
                enrolment,
                private,
                "The course's GitHub App was uninstalled from your repository, so hubcourse "
                "no longer hears your pushes. Install it again from this page.",
            )
        elif action == "suspend":
            _without_app(
                enrolment,
                private,
                "The course's GitHub App is suspended on your GitHub account. On GitHub, open "
                "Settings, Applications, and unsuspend it.",
            )
        elif action == "unsuspend":
            _set(enrolment, access=GitHubAccess.APP, note="")
            _changed(enrolment, "the GitHub App was unsuspended")
        elif action == "new_permissions_accepted":
            _set(enrolment, access=enrolment.github_access, note="")


def _on_installation_repositories(action: str, payload: dict[str, Any]) -> None:
    installation_id = _installation_id(payload)
    key = "repositories_removed" if action == "removed" else "repositories_added"
    repos = {int(r["id"]): r for r in payload.get(key) or []}
    if not repos:
        return
    for enrolment in Enrolment.objects.filter(
        github_installation_id=installation_id, github_repository_id__in=list(repos)
    ):
        repo = repos[enrolment.github_repository_id or 0]
        if action == "removed":
            _without_app(
                enrolment,
                bool(repo.get("private")),
                f"{repo.get('full_name', 'Your repository')} was removed from the course's "
                "GitHub App, so hubcourse no longer hears your pushes. Add it again from this "
                "page.",
            )
        elif action == "added":
            _set(enrolment, access=GitHubAccess.APP, note="")
            _changed(enrolment, "the repository was added to the GitHub App again")


def _on_repository(action: str, payload: dict[str, Any]) -> None:
    repository = payload["repository"]
    repository_id = int(repository["id"])
    full_name = str(repository["full_name"])
    private = bool(repository.get("private"))
    for enrolment in Enrolment.objects.filter(github_repository_id=repository_id):
        before = enrolment.github_repo
        if action == "renamed":
            _set(enrolment, access=enrolment.github_access, note="", github_repo=full_name)
            _changed(enrolment, f"repository renamed on GitHub from {before} to {full_name}")
            _rerun_preflight(enrolment)
        elif action == "transferred":
            Enrolment.objects.filter(pk=enrolment.pk).update(github_installation_id=None)
            _set(
                enrolment,
                access=GitHubAccess.NONE if private else GitHubAccess.PUBLIC,
                note=f"Your repository {before} was moved to {full_name} on GitHub. If it is "
                "still yours, install the course's GitHub App on it again; if not, give your "
                "own repository on this page.",
                github_repo=full_name,
            )
            _changed(enrolment, f"repository transferred on GitHub from {before} to {full_name}")
        elif action == "deleted":
            Enrolment.objects.filter(pk=enrolment.pk).update(
                github_installation_id=None, github_repository_id=None
            )
            _without_app(
                enrolment,
                None,
                f"Your repository {before} was deleted on GitHub. Create it again (or pick "
                "another one), give it on this page, and install the course's GitHub App on it.",
            )
        elif action == "privatized" and enrolment.github_access != GitHubAccess.APP:
            _without_app(
                enrolment,
                True,
                f"Your repository {full_name} was made private, so hubcourse can no longer "
                "see it. Install the course's GitHub App on it, or make it public again.",
            )
        elif action == "publicized" and enrolment.github_access == GitHubAccess.NONE:
            _set(enrolment, access=GitHubAccess.PUBLIC, note="")
            _changed(enrolment, f"repository {full_name} made public")


def _rerun_preflight(enrolment: Enrolment) -> None:
    # A failed pre-flight about the old name is stale: let the engine look again.
    Enrolment.objects.filter(pk=enrolment.pk, preflight_state=PreflightState.FAILED).update(
        preflight_state=PreflightState.NOT_RUN
    )


def _changed(enrolment: Enrolment, message: str) -> None:
    _audit(enrolment, None, "github_access.event", message)
    note_observed(enrolment.pk)


def _audit(enrolment: Enrolment, actor: User | None, action: str, message: str) -> None:
    audit_record(
        service=HUBCOURSE,
        action=action,
        target=enrolment.identifier,
        outcome=Outcome.OK,
        course=enrolment.course,
        enrolment=enrolment,
        actor=actor,
        message=message,
    )
