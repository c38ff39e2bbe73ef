"""Setting up hubcourse's GitHub App: the manifest to register it, storing what GitHub hands
back (encrypted), credentials entered by hand, and the app's status in words.

The manifest flow (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
the admin's browser posts the manifest to GitHub, GitHub asks them to confirm, then sends them
back to ``redirect_url`` with a one-hour code that :func:`register_from_code` converts into the
app's id, key and secrets. The ``state`` ties the return to the admin who started it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.credentials import github_app
from accounts.models import GitHubAppRegistration, User
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ExternalServiceError, ValidationError
from hubcourse.secrets import SecretValue, encrypt
from integrations.github.app import (
    ACTIONS,
    EVENTS,
    GitHubAppClient,
    GitHubAppConfig,
)

# Where GitHub sends a student after they install the app (the join flow's page).
SETUP_PATH = "/github/app/setup/"
REDIRECT_PATH = "/organisation/github-app/registered/"
CALLBACK_PATH = "/accounts/github/login/callback/"


def _site(path: str) -> str:
    return f"{str(settings.SITE_URL).rstrip('/')}{path}"


def new_state() -> str:
    return secrets.token_urlsafe(24)


def manifest(name: str) -> dict[str, Any]:
    """The app hubcourse needs, as a manifest for GitHub's "register an app" page."""
    return {
        "name": name,
        "url": _site("/"),
        "hook_attributes": {"url": str(settings.GITHUB_APP_WEBHOOK_URL), "active": True},
        "redirect_url": _site(REDIRECT_PATH),
        "callback_urls": [_site(CALLBACK_PATH)],
        "setup_url": _site(SETUP_PATH),
        "setup_on_update": True,
        # Public, or only its owner's account could install it: students install it on theirs.
        "public": True,
        # emails: read lets the student's sign-in (a user token of the app) read their
        # verified email, which matches them to the roster.
        "default_permissions": {**ACTIONS, "emails": "read"},
        "default_events": list(EVENTS),
    }


def manifest_action(organisation: str = "") -> str:
    """Where the browser posts the manifest: the admin's own account or an organisation."""
    base = str(settings.GITHUB_URL).rstrip("/")
    if organisation:
        return f"{base}/organizations/{organisation}/settings/apps/new"
    return f"{base}/settings/apps/new"


def manifest_json(name: str) -> str:
    return json.dumps(manifest(name), separators=(",", ":"))


def register_from_code(code: str, actor: User) -> GitHubAppRegistration:
    """Convert the manifest flow's code and store the new app's credentials, encrypted."""
    made = GitHubAppClient.convert_manifest(code)
    with transaction.atomic():
        registration = GitHubAppRegistration.objects.create(
            app_id=made.app_id,
            slug=made.slug,
            name=made.name,
            owner=made.owner,
            html_url=made.html_url,
            client_id=made.client_id,
            client_secret=made.client_secret,
            private_key=made.pem,
            webhook_secret=made.webhook_secret,
            source=GitHubAppRegistration.Source.MANIFEST,
            created_by=actor,
        )
        audit_record(
            service="GitHub",
            action="app.register",
            target=made.slug,
            outcome=Outcome.OK,
            actor=actor,
            message=f"Registered the GitHub App {made.slug} (app {made.app_id}) from hubcourse",
        )
    return registration


@dataclasses.dataclass(frozen=True)
class PastedApp:
    app_id: int
    slug: str
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    private_key: str = dataclasses.field(repr=False)
    webhook_secret: str = dataclasses.field(repr=False)


def store_pasted(pasted: PastedApp, actor: User) -> GitHubAppRegistration:
    """Store an existing app's credentials once GitHub accepts its key (``GET /app``)."""
    if "PRIVATE KEY" not in pasted.private_key:
        raise ValidationError(
            "The private key is a PEM file from the app's settings page; it starts with "
            "-----BEGIN RSA PRIVATE KEY-----."
        )
    config = GitHubAppConfig(
        app_id=pasted.app_id,
        slug=pasted.slug,
        client_id=pasted.client_id,
        client_secret=SecretValue(encrypt(pasted.client_secret)),
        private_key=SecretValue(encrypt(pasted.private_key)),
        webhook_secret=SecretValue(encrypt(pasted.webhook_secret)),
        html_url=f"{str(settings.GITHUB_URL).rstrip('/')}/apps/{pasted.slug}",
    )
    try:
        app = GitHubAppClient(config).get_app()
    except ExternalServiceError as error:
        raise ValidationError(
            f"These credentials do not open the app: {error}. Check the app id and key."
        ) from error
    except ValueError as error:  # a PEM PyJWT cannot read
        raise ValidationError(f"The private key cannot be read: {error}") from error
    if app.slug != pasted.slug:
        raise ValidationError(
            f"The key belongs to the app {app.slug!r}, not {pasted.slug!r}: fix the slug."
        )
    with transaction.atomic():
        registration = GitHubAppRegistration.objects.create(
            app_id=app.id,
            slug=app.slug,
            name=app.name,
            owner=app.owner.login if app.owner else "",
            html_url=app.html_url,
            client_id=pasted.client_id,
            client_secret=pasted.client_secret,
            private_key=pasted.private_key,
            webhook_secret=pasted.webhook_secret,
            source=GitHubAppRegistration.Source.PASTED,
            created_by=actor,
        )
        audit_record(
            service="GitHub",
            action="app.enter_credentials",
            target=app.slug,
            outcome=Outcome.OK,
            actor=actor,
            message=f"Entered the credentials of the GitHub App {app.slug} (app {app.id})",
        )
    return registration


@dataclasses.dataclass(frozen=True)
class AppStatus:
    """What the admin page and the doctor say about the app."""

    configured: bool
    ok: bool
    summary: str
    config: GitHubAppConfig | None = None
    name: str = ""
    owner: str = ""
    installations: int | None = None
    problems: tuple[str, ...] = ()


def app_status(*, live: bool = True) -> AppStatus:
    """The app in use and, with ``live``, whether GitHub accepts its key (one JWT call)."""
    config = github_app()
    if config is None:
        return AppStatus(
            configured=False,
            ok=False,
            summary=(
                "No GitHub App is set up: students' repositories can only be read when they "
                "are public. Register the app from the GitHub App page, or set GITHUB_APP_ID, "
                "GITHUB_APP_SLUG and GITHUB_APP_PRIVATE_KEY."
            ),
        )
    problems: list[str] = []
    if not config.webhook_secret.reveal():
        problems.append(
            "No webhook secret is set: hubcourse refuses every event of the app. Set "
            "GITHUB_APP_WEBHOOK_SECRET to the secret in the app's settings."
        )
    if not (config.client_id and config.client_secret.reveal()):
        problems.append(
            "No client id and secret: students sign in through the OAuth app instead of "
            "the GitHub App."
        )
    if not live:
        return AppStatus(
            True, not problems, f"GitHub App {config.slug}", config, problems=tuple(problems)
        )
    try:
        client = GitHubAppClient(config)
        app = client.get_app()
        installations = len(client.list_installations())
    except ExternalServiceError as error:
        return AppStatus(
            configured=True,
            ok=False,
            summary=f"GitHub does not accept the app's key: {error}",
            config=config,
            problems=tuple(problems),
        )
    except ValueError as error:
        return AppStatus(
            configured=True,
            ok=False,
            summary=f"The app's private key cannot be read: {error}",
            config=config,
            problems=tuple(problems),
        )
    return AppStatus(
        configured=True,
        ok=not problems,
        summary=(
            f"GitHub accepts the key of the app {app.slug} (app {app.id}), installed "
            f"{installations} time{'s' if installations != 1 else ''}."
        ),
        config=config,
        name=app.name,
        owner=app.owner.login if app.owner else "",
        installations=installations,
        problems=tuple(problems),
    )
