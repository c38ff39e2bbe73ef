"""Credentials per course: the one place that decides which identity talks to which service.

A course may carry its own Docker Hub organisation access token and GitHub token (stored
encrypted); when it does not, the deployment's settings are used. Every step, backend and
check asks here rather than building a client itself, so a course's own credentials are
never bypassed and the rate-limit governor keys on the identity actually used.
"""

from __future__ import annotations

from django.conf import settings

from accounts import organisations
from accounts.models import Course, GitHubAppRegistration
from hubcourse.secrets import SecretValue, encrypt
from integrations.dockerhub.client import DockerHubClient
from integrations.github.app import GitHubAppConfig
from integrations.github.client import GitHubClient


def _revealed(value: SecretValue | str) -> str:
    return value.reveal() if isinstance(value, SecretValue) else value


def dockerhub_credentials_for(course: Course) -> tuple[str, str]:
    """(identifier, secret) for the course: its own when a token is stored, else those of
    its registered organisation (``accounts.organisations``: the site-wide ones act only for
    the settings' organisation). ``OrganisationNotUsable`` when there are none.

    The identifier falls back to the course's organisation name when the course stores a
    token but no username, because an organisation access token logs in as the organisation.
    """
    secret = _revealed(course.dockerhub_token)
    if secret:
        return (course.dockerhub_username or course.organisation, secret)
    return organisations.dockerhub_credentials(course.organisation)


def dockerhub_client_for(course: Course) -> DockerHubClient:
    identifier, secret = dockerhub_credentials_for(course)
    return DockerHubClient(str(settings.DOCKERHUB_API_URL), identifier, secret)


def owner_github_login_for(course: Course) -> tuple[str, str]:
    """(login, where it is set) of the GitHub account linked to the Docker ID of the course's
    Docker Hub Owner, as configured: the course's own setting, else (for a course that uses
    the site's Docker Hub credentials: the settings' organisation, no token of its own)
    ``DOCKERHUB_OWNER_GITHUB_LOGIN``. ``("", "")`` when
    neither says: Docker Hub's API does not tell which GitHub account is linked, so callers
    then take it to be the GitHub token's account and say so.
    """
    if course.owner_github_login:
        return course.owner_github_login, "the course's settings"
    site = str(settings.DOCKERHUB_OWNER_GITHUB_LOGIN)
    site_credentials = not _revealed(course.dockerhub_token) and (
        course.organisation.lower() == str(settings.DOCKERHUB_ORG).lower()
    )
    if site and site_credentials:
        return site, "DOCKERHUB_OWNER_GITHUB_LOGIN"
    return "", ""


def github_token_for(course: Course) -> str:
    return _revealed(course.github_token) or str(settings.GITHUB_TOKEN)


def github_client_for(course: Course) -> GitHubClient:
    """The course's GitHub client; ``ValueError`` when neither course nor site has a token."""
    return GitHubClient(github_token_for(course), api_url=str(settings.GITHUB_API_URL))


def _sealed(value: SecretValue | str) -> SecretValue:
    """A value as a ``SecretValue`` whether it came from the database or from settings."""
    return value if isinstance(value, SecretValue) else SecretValue(encrypt(value))


def _app_page(slug: str) -> str:
    return f"{str(settings.GITHUB_URL).rstrip('/')}/apps/{slug}"


def github_app() -> GitHubAppConfig | None:
    """The GitHub App hubcourse runs as, or ``None`` when none is set up.

    A registration made from the admin page (the manifest flow or pasted credentials) wins;
    otherwise the GITHUB_APP_* settings, which need at least an app id, a slug and a key.
    """
    registration = GitHubAppRegistration.objects.first()
    if registration is not None:
        return GitHubAppConfig(
            app_id=int(registration.app_id),
            slug=registration.slug,
            client_id=registration.client_id,
            client_secret=_sealed(registration.client_secret),
            private_key=_sealed(registration.private_key),
            webhook_secret=_sealed(registration.webhook_secret),
            html_url=registration.html_url or _app_page(registration.slug),
            source="registration",
        )
    app_id = int(settings.GITHUB_APP_ID or 0)
    slug = str(settings.GITHUB_APP_SLUG)
    key = str(settings.GITHUB_APP_PRIVATE_KEY)
    if not (app_id and slug and key):
        return None
    return GitHubAppConfig(
        app_id=app_id,
        slug=slug,
        client_id=str(settings.GITHUB_APP_CLIENT_ID),
        client_secret=_sealed(str(settings.GITHUB_APP_CLIENT_SECRET)),
        private_key=_sealed(key),
        webhook_secret=_sealed(str(settings.GITHUB_APP_WEBHOOK_SECRET)),
        html_url=_app_page(slug),
        source="settings",
    )
