"""Shared set-up for the GitHub App tests: a student with repositories in the sandbox, the app
installed on some of them, and a counter of the HTTP requests hubcourse sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from hubcourse import http
from tests.sandbox.app_support import install
from tests.sandbox.github_support import GitHub

DOCKERFILE = 'FROM python:3.12-slim\nCMD ["python"]\n'
STUDENT = "sam-student"


@dataclass
class Sent:
    """Every request hubcourse.http sent (method, path), in order; still sent for real."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str, path_end: str) -> int:
        return sum(1 for m, p in self.calls if m == method and p.endswith(path_end))


def count_requests(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent = Sent()
    real: Callable[..., requests.Response] = http.request

    def counting(method: str, url: str, **kwargs: Any) -> requests.Response:
        sent.calls.append((method.upper(), url.split("?", 1)[0]))
        return real(method, url, **kwargs)

    monkeypatch.setattr(http, "request", counting)
    return sent


def student_with_app(sandbox: Any) -> tuple[GitHub, int]:
    """``sam-student`` with two private repositories (course, diary) and a public one; the
    seeded app installed on course and diary. Returns the GitHub helper and the installation."""
    gh = GitHub(sandbox.url)
    gh.create_user(STUDENT)
    gh.create_repo(STUDENT, "course", {"DockerfileVolume": DOCKERFILE}, private=True)
    gh.create_repo(STUDENT, "diary", {"README.md": "private\n"}, private=True)
    gh.create_repo(STUDENT, "notes", {"README.md": "hello\n"})
    app = sandbox.seeded["github"]["app"]
    return gh, install(gh, app, STUDENT, ["course", "diary"])
