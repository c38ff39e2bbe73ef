"""A course created through the API without a build backend builds with GitHub Actions."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, User

pytestmark = pytest.mark.django_db


def test_a_new_course_defaults_to_github_actions(token_client: Any, instructor: User) -> None:
    answer = token_client(instructor).post("/api/v1/courses/", {"name": "Networks"}, format="json")

    assert answer.status_code == 201, answer.content
    assert answer.json()["build_backend"] == "github-actions"
    assert Course.objects.get(slug="networks").build_backend == "github-actions"


def test_automated_builds_can_still_be_chosen(token_client: Any, instructor: User) -> None:
    answer = token_client(instructor).post(
        "/api/v1/courses/",
        {"name": "Networks", "build_backend": "dockerhub-autobuild"},
        format="json",
    )

    assert answer.status_code == 201, answer.content
    assert Course.objects.get(slug="networks").build_backend == "dockerhub-autobuild"
