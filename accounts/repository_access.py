"""Which client reads a student's own GitHub repository: never the course's token.

Through the GitHub App's installation (read permissions, that repository only) when the
student installed the app on it; anonymously otherwise, so a private repository without the
app reads as missing, which is what the student must fix (pre-flight says how).
"""

from __future__ import annotations

import logging

from accounts.credentials import github_app
from accounts.models import Enrolment, GitHubAccess
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
    return AnonymousGitHubClient.from_settings()
