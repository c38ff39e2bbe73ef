"""Signing in with GitHub: through the GitHub App's own client when there is one, and never
with a scope that opens the student's repositories.

A GitHub App's user-to-server token carries no OAuth scopes (the app's permissions apply),
so when hubcourse has an app with a client id and secret (settings or a registration made on
the admin page) students sign in through it. Otherwise the OAuth app of GITHUB_CLIENT_ID is
used with only ``read:user user:email``. allauth lets a request add scopes
(``?scope=repo``); hubcourse drops them, so no stored token can hold ``repo``.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.github.provider import GitHubProvider
from django.http import HttpRequest

from accounts.credentials import github_app

# The most any GitHub sign-in may ask; the app's own client asks nothing.
SIGN_IN_SCOPES = ("read:user", "user:email")


class FixedScopeGitHubProvider(GitHubProvider):  # type: ignore[misc]  # allauth is untyped
    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return [scope for scope in self.get_scope() if scope in SIGN_IN_SCOPES]


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def list_apps(
        self, request: HttpRequest, provider: Any = None, client_id: Any = None
    ) -> list[SocialApp]:
        if provider in (None, GitHubProvider.id):
            config = github_app()
            if config is not None and config.client_id:
                secret = config.client_secret.reveal()
                if secret and client_id in (None, config.client_id):
                    app = SocialApp(
                        provider=GitHubProvider.id,
                        name=config.slug,
                        client_id=config.client_id,
                        secret=secret,
                        settings={"scope": []},
                    )
                    others = [
                        found
                        for found in super().list_apps(request, provider, client_id)
                        if found.provider != GitHubProvider.id
                    ]
                    return [app, *others]
        return list(super().list_apps(request, provider, client_id))

    def get_provider(self, request: HttpRequest, provider: Any, client_id: Any = None) -> Any:
        if provider == GitHubProvider.id:
            app = self.get_app(request, provider=provider, client_id=client_id)
            return FixedScopeGitHubProvider(request, app=app)
        return super().get_provider(request, provider, client_id)
