"""How the github-actions backend writes to a student's GitHub repository.

A repository of the course's own GitHub account (GitHub Classroom style) is written with the
course's token, as before. A repository the student owns is written ONLY through hubcourse's
GitHub App: an installation token for that one repository with the ACTIONS permissions
(commit the workflow, store the secrets, read the runs). The course's token is used for
nothing there. Pre-flight asks :func:`write_access` before anything is created, and says in
words what the student must do when hubcourse could not write.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.credentials import github_app, github_client_for
from accounts.models import Enrolment
from builds.backends.base import WaitsOnStudent
from builds.backends.common import course_github_login, github_source
from integrations.github.app import ACTIONS, GitHubAppClient, GitHubAppConfig, installation_client
from integrations.github.client import GitHubClient, Installation

# Permission levels in the order they include one another.
_LEVELS = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class WriteAccess:
    """How hubcourse may write to the student's repository, or why it may not."""

    # "course" (the course's own repository), "app" (an installation), "" (not at all).
    way: str
    installation_id: int | None = None
    problem: str = ""  # in words, for the student, when ``way`` is ""


def missing_permissions(granted: dict[str, str] | object) -> list[str]:
    """The ACTIONS permissions an installation lacks, as "name: level"."""
    have = dict(granted) if isinstance(granted, dict) else {}
    return [
        f"{name}: {level}"
        for name, level in ACTIONS.items()
        if _LEVELS.get(str(have.get(name, "")), 0) < _LEVELS[level]
    ]


def _course_owns(enrolment: Enrolment, owner: str) -> bool:
    try:
        client = github_client_for(enrolment.course)
    except ValueError:
        return False  # no course token: nothing is the course's
    return owner.lower() == course_github_login(enrolment.course, client).lower()


def _installation(config: GitHubAppConfig, owner: str, repo: str) -> Installation | None:
    return GitHubAppClient(config).repository_installation(owner, repo)


def write_access(enrolment: Enrolment) -> WriteAccess:
    """Whether and how hubcourse can write the workflow and secrets (one or two calls)."""
    owner, repo = github_source(enrolment)
    if _course_owns(enrolment, owner):
        return WriteAccess("course")
    config = github_app()
    full = f"{owner}/{repo}"
    if config is None:
        return WriteAccess(
            "",
            problem=(
                f"hubcourse can write its build workflow to {full} only through its GitHub "
                "App, and none is set up yet: your instructor sets it up, then checks again."
            ),
        )
    installation = _installation(config, owner, repo)
    if installation is None:
        return WriteAccess(
            "",
            problem=(
                f"Install the hubcourse GitHub App on {full} ({config.install_url}): choose "
                f"'Only select repositories' and pick {repo}. hubcourse then commits the build "
                "workflow and stores its Docker Hub secret there."
            ),
        )
    if installation.suspended_at is not None:
        return WriteAccess(
            "",
            installation.id,
            problem=(
                f"The hubcourse GitHub App is suspended on {owner}: unsuspend it in your "
                "GitHub settings (Applications, Installed GitHub Apps), then check again."
            ),
        )
    missing = missing_permissions(dict(installation.permissions))
    if missing:
        return WriteAccess(
            "",
            installation.id,
            problem=(
                f"The hubcourse GitHub App on {full} lacks {', '.join(missing)}: accept its "
                "requested permissions in your GitHub settings (Applications, Installed "
                "GitHub Apps, hubcourse, Configure), then check again."
            ),
        )
    return WriteAccess("app", installation.id)


def writer(enrolment: Enrolment) -> GitHubClient:
    """The client that writes to the student's repository (see :func:`writer_and_way`)."""
    return writer_and_way(enrolment)[0]


def writer_and_way(enrolment: Enrolment) -> tuple[GitHubClient, str]:
    """(client, "course" or "app"): the course's token on the course's own repository, else
    an installation token (ACTIONS) for that repository alone.

    Raises ``WaitsOnStudent`` (with what to do) when hubcourse may not write there.
    """
    owner, repo = github_source(enrolment)
    config = github_app()
    installation_id = enrolment.github_installation_id
    if installation_id is None or config is None:
        if _course_owns(enrolment, owner):
            return github_client_for(enrolment.course), "course"
        access = write_access(enrolment)
        if access.way != "app" or access.installation_id is None:
            raise WaitsOnStudent(access.problem)
        installation_id = access.installation_id
        assert config is not None  # write_access answers "app" only with an app
    return installation_client(config, installation_id, f"{owner}/{repo}", ACTIONS), "app"
