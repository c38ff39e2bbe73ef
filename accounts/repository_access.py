"""Which client reads a student's own GitHub repository.

Through the GitHub App's installation (read permissions, that repository only) when the
student installed the app on it. Otherwise with the course's GitHub token, which reads only
what anyone may read of a student's repository (a private one reads as missing, which is
what the student must fix: pre-flight says how), as the branch-head watcher does; its budget
is 5000 requests an hour where an anonymous caller has 60 per server address, which a class
spends at once. Anonymously only when no GitHub token is set.
"""

from __future__ import annotations

import logging

from accounts.credentials import github_app, github_client_for
from accounts.models import Course, Enrolment, GitHubAccess
from hubcourse.errors import ExternalServiceError
from integrations.github.app import READ, installation_client
from integrations.github.client import GitHubClient
from integrations.github.public import AnonymousGitHubClient

logger = logging.getLogger(__name__)


def repository_client(enrolment: Enrolment) -> GitHubClient:
    """The client for pre-flight's reads of the student's repository."""
    if enrolment.github_access == GitHubAccess.APP and enrolment.github_installation_id:
        config = github_app()
        if config is not None:
            try:
                return installation_client(
                    config,
                    enrolment.github_installation_id,
                    enrolment.github_repo.split("/", 1)[-1],
                    dict(READ),
                )
            except ExternalServiceError as error:
                # The installation may be gone or suspended: the anonymous read then tells
                # the student what hubcourse can (not) see, and the app's events say why.
                logger.info("no installation token for enrolment %s: %s", enrolment.pk, error)
    return public_reader(enrolment.course)


def public_reader(course: Course) -> GitHubClient:
    """The client that reads what anyone may read on GitHub, for this course: its GitHub
    token (read-only use), or anonymous when neither the course nor the site has one."""
    try:
        return github_client_for(course)
    except ValueError:
        return AnonymousGitHubClient.from_settings()
