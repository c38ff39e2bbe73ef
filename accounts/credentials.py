"""Credentials per course: the one place that decides which identity talks to which service.

A course may carry its own Docker Hub organisation access token and GitHub token (stored
encrypted); when it does not, the deployment's settings are used. Every step, backend and
check asks here rather than building a client itself, so a course's own credentials are
never bypassed and the rate-limit governor keys on the identity actually used.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import Course
from hubcourse.secrets import SecretValue
from integrations.dockerhub.client import DockerHubClient
from integrations.github.client import GitHubClient


def _revealed(value: SecretValue | str) -> str:
    return value.reveal() if isinstance(value, SecretValue) else value


def dockerhub_credentials_for(course: Course) -> tuple[str, str]:
    """(identifier, secret) for the course: its own when a token is stored, else the site's.

    The identifier falls back to the course's organisation name when the course stores a
    token but no username, because an organisation access token logs in as the organisation.
    """
    secret = _revealed(course.dockerhub_token)
    if secret:
        return (course.dockerhub_username or course.organisation, secret)
    return (str(settings.DOCKERHUB_USERNAME), str(settings.DOCKERHUB_TOKEN))


def dockerhub_client_for(course: Course) -> DockerHubClient:
    identifier, secret = dockerhub_credentials_for(course)
    return DockerHubClient(str(settings.DOCKERHUB_API_URL), identifier, secret)


def github_token_for(course: Course) -> str:
    return _revealed(course.github_token) or str(settings.GITHUB_TOKEN)


def github_client_for(course: Course) -> GitHubClient:
    """The course's GitHub client; ``ValueError`` when neither course nor site has a token."""
    return GitHubClient(github_token_for(course), api_url=str(settings.GITHUB_API_URL))
