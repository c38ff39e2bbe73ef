"""Students sign in with GitHub through the app's client, and no token that opens their
repositories is ever asked for or kept."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests
from allauth.socialaccount.models import SocialToken
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from integrations.github.client import GitHubClient
from tests.integrations.github.support import STUDENT, student_with_app


def _authorize_query(answer: Any) -> dict[str, str]:
    assert answer.status_code == 302
    parts = urllib.parse.urlsplit(answer.url)
    assert parts.path == "/login/oauth/authorize"
    return {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}


def test_with_the_app_students_sign_in_through_its_client_and_get_a_token_without_scopes(
    sandbox: Any, db: Any
) -> None:
    _gh, installation_id = student_with_app(sandbox)
    app = sandbox.seeded["github"]["app"]
    client = Client()
    # A request may try to add scopes; they are not asked for.
    query = _authorize_query(client.post("/accounts/github/login/?scope=repo,admin:repo_hook"))
    assert query["client_id"] == app["client_id"]
    assert "repo" not in query.get("scope", "")

    consented = requests.post(
        f"{sandbox.url}/login/oauth/authorize",
        data={**query, "login": STUDENT, "decision": "authorize"},
        allow_redirects=False,
        timeout=5,
    )
    assert consented.status_code == 302, consented.text
    back = urllib.parse.urlsplit(consented.headers["Location"])
    finished = client.get(f"{back.path}?{back.query}")
    assert finished.status_code == 302, finished.content[:500]

    [token] = SocialToken.objects.filter(account__provider="github")
    assert token.token.startswith("ghu_")  # a user-to-server token of the app
    user_client = GitHubClient.for_oauth_token(token.token)
    assert not (user_client.whoami().scopes or frozenset())
    # What it is for: confirming the student's installation.
    assert [i.id for i in user_client.list_user_installations()] == [installation_id]


def test_without_the_app_the_oauth_app_asks_only_who_the_student_is(settings: Any, db: Any) -> None:
    settings.GITHUB_APP_ID = 0
    settings.GITHUB_APP_CLIENT_ID = ""
    query = _authorize_query(Client().post("/accounts/github/login/?scope=repo"))
    assert query["client_id"] == settings.GITHUB_CLIENT_ID
    assert set(query.get("scope", "").split()) <= {"read:user", "user:email"}
    assert "repo" not in settings.SOCIALACCOUNT_PROVIDERS["github"]["SCOPE"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_deletes_every_stored_github_token() -> None:
    before = [("accounts", "0001_initial")]
    after = [("accounts", "0002_delete_github_social_tokens")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(
        [*before, ("socialaccount", "0006_alter_socialaccount_extra_data")]
    ).apps
    user = old.get_model("accounts", "User").objects.create(email="old@example.edu")
    social_app = old.get_model("socialaccount", "SocialApp").objects.create(
        provider="github", name="old", client_id="old", secret="old"
    )
    account = old.get_model("socialaccount", "SocialAccount").objects.create(
        user=user, provider="github", uid="1"
    )
    old.get_model("socialaccount", "SocialToken").objects.create(
        app=social_app, account=account, token="gho_with_repo_scope"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    try:
        assert not SocialToken.objects.exists()
    finally:
        # Later tests on this worker's database need every later migration back.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
