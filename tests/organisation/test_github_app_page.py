"""The "GitHub App" admin page: registering the app with GitHub's manifest flow (against the
sandbox over HTTP), entering existing credentials, and its status in words."""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client

from accounts.credentials import github_app
from accounts.models import GitHubAppRegistration, User
from tests.conftest import PASSWORD
from tests.sandbox.app_support import control
from tests.sandbox.github_support import GitHub

PAGE = "/organisation/github-app/"


@pytest.fixture
def admin_client(site_admin: User) -> Client:
    client = Client()
    assert client.login(username=site_admin.email, password=PASSWORD)
    return client


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name}"
    return html.unescape(found.group(1))


def test_registering_from_the_manifest_stores_the_app_encrypted_and_the_page_shows_it(
    sandbox: Any, admin_client: Client
) -> None:
    gh = GitHub(sandbox.url)
    control(gh, "POST", "/manifest-auto-confirm", enabled=True, login="revelare-instructor")

    step = admin_client.post(f"{PAGE}register/", {"name": "hubcourse-ws26", "organisation": ""})
    assert step.status_code == 200
    page = step.content.decode()
    assert f'action="{sandbox.url}/settings/apps/new"' in page
    manifest = json.loads(_hidden(page, "manifest"))
    assert manifest["public"] is True
    assert manifest["default_permissions"]["contents"] == "write"
    assert manifest["hook_attributes"]["url"].endswith("/webhooks/github/app/")
    assert manifest["redirect_url"].endswith("/organisation/github-app/registered/")

    # The admin's browser posts the form to GitHub, which sends it back with a code.
    at_github = requests.post(
        f"{sandbox.url}/settings/apps/new",
        data={"manifest": _hidden(page, "manifest"), "state": _hidden(page, "state")},
        allow_redirects=False,
        timeout=5,
    )
    assert at_github.status_code in (302, 303), at_github.text
    back = urllib.parse.urlsplit(at_github.headers["Location"])
    assert back.path == "/organisation/github-app/registered/"
    done = admin_client.get(f"{back.path}?{back.query}", follow=True)
    assert done.status_code == 200

    registration = GitHubAppRegistration.objects.get()
    assert registration.slug.startswith("hubcourse-ws26")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT private_key, client_secret, webhook_secret FROM accounts_githubappregistration"
        )
        stored = cursor.fetchone()
    config = github_app()
    assert config is not None and config.source == "registration"
    assert config.app_id == registration.app_id
    key = config.private_key.reveal()
    assert key.startswith("-----BEGIN")
    assert "BEGIN" not in stored[0]
    assert config.client_secret.reveal() not in stored[1]
    assert config.webhook_secret.reveal() not in stored[2]

    shown = done.content.decode()
    assert registration.slug in shown
    assert "is registered" in shown
    assert f"GitHub accepts the key of the app {registration.slug}" in shown
    assert config.client_secret.reveal() not in shown
    assert config.webhook_secret.reveal() not in shown
    assert "PRIVATE KEY" not in shown

    # The code was single-use, and a return with another state is refused in words.
    again = admin_client.get(f"{back.path}?{back.query}", follow=True)
    assert "does not match a registration started here" in again.content.decode()
    assert GitHubAppRegistration.objects.count() == 1


def test_the_page_shows_the_settings_app_and_says_github_accepts_it(
    sandbox: Any, admin_client: Client
) -> None:
    page = admin_client.get(PAGE).content.decode()
    assert "hubcourse-sandbox" in page
    assert "the GITHUB_APP_* settings" in page
    assert "GitHub accepts the key of the app hubcourse-sandbox" in page


def test_a_bad_key_in_settings_is_reported_in_words(
    sandbox: Any, admin_client: Client, settings: Any
) -> None:
    from tests.integrations.github.test_app import _other_key

    settings.GITHUB_APP_PRIVATE_KEY = _other_key()
    page = admin_client.get(PAGE).content.decode()
    assert "GitHub does not accept the app&#x27;s key" in page
    assert "A JSON web token could not be decoded" in page


def test_pasted_credentials_are_checked_with_github_before_they_are_stored(
    sandbox: Any, admin_client: Client
) -> None:
    app = sandbox.seeded["github"]["app"]
    fields = {
        "app_id": app["id"],
        "slug": app["slug"],
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "webhook_secret": app["webhook_secret"],
    }
    from tests.integrations.github.test_app import _other_key

    refused = admin_client.post(f"{PAGE}credentials/", {**fields, "private_key": _other_key()})
    assert refused.status_code == 400
    assert "These credentials do not open the app" in refused.content.decode()
    assert not GitHubAppRegistration.objects.exists()

    accepted = admin_client.post(
        f"{PAGE}credentials/", {**fields, "private_key": app["pem"]}, follow=True
    )
    assert "is in use" in accepted.content.decode()
    assert GitHubAppRegistration.objects.get().source == "pasted"


def test_only_site_admins_see_the_page(client: Client, instructor: User) -> None:
    assert client.login(username=instructor.email, password=PASSWORD)
    assert client.get(PAGE).status_code == 403
