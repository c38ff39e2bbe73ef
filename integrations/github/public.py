"""GitHub without a credential: public repositories, read the way anyone on the web can.

A public student repository without the GitHub App is read anonymously: the course's token
is used for nothing in students' repositories, and a student's sign-in token has no scope
to lend. Anonymous calls share the server's small per-address budget (60 an hour on
github.com), so callers keep them rare (pre-flight, a list of the student's repositories).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings

from hubcourse import http
from hubcourse.errors import RateLimited, Throttled
from hubcourse.governor import Governor
from integrations.github.client import (
    API_VERSION,
    MEDIA_TYPE,
    SERVICE,
    TRANSLATOR,
    GitHubClient,
    Repository,
    _q,
)

ANONYMOUS = "anonymous"  # stands for the missing token in the governor's key


class AnonymousGitHubClient(GitHubClient):
    """The repository routes of ``GitHubClient`` with no ``Authorization`` header."""

    def __init__(self, *, api_url: str, governor: Governor | None = None) -> None:
        super().__init__(ANONYMOUS, api_url=api_url, governor=governor)

    @classmethod
    def from_settings(cls) -> AnonymousGitHubClient:
        return cls(api_url=str(settings.GITHUB_API_URL))

    def __repr__(self) -> str:
        return f"AnonymousGitHubClient(api_url={self.api_url!r})"

    def list_public_repositories(self, login: str) -> list[Repository]:
        """The public repositories ``login`` owns (what a student picks from)."""
        # Reference: https://docs.github.com/en/rest/repos/repos#list-repositories-for-a-user
        operation = f"list the public repositories of {login}"
        params = {"type": "owner", "sort": "full_name"}
        return [
            self._validate(Repository, item, operation)
            for item in self._paginate(
                f"/users/{_q(login)}/repos", operation=operation, params=params
            )
        ]

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool | None = None,
    ) -> requests.Response:
        all_headers = {"Accept": MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION}
        all_headers.update(headers or {})
        self._governor.acquire(self._key, operation, write=method not in ("GET", "HEAD"))
        try:
            return http.request(
                method,
                self._url(path_or_url),
                service=SERVICE,
                operation=operation,
                params=params,
                json=json,
                headers=all_headers,
                translator=TRANSLATOR,
                observer=self._governor.observer(self._key),
                allow_redirects=allow_redirects,
            )
        except RateLimited as error:
            if not isinstance(error, Throttled):
                self._governor.pause(self._key, error.retry_at)
            raise
