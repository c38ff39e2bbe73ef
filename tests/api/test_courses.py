"""Courses through the API: created and changed with the settings page's rules; credentials
go in and never come back out."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from accounts.models import Course, CourseRole

pytestmark = pytest.mark.django_db


def test_credentials_are_stored_but_never_returned(token_client, course, instructor, ta):
    response = token_client(instructor).patch(
        f"/api/v1/courses/{course.slug}/", {"dockerhub_token": "dckr_pat_secret-value"}
    )
    assert response.status_code == 200, response.json()
    assert "secret-value" not in response.content.decode()
    assert response.json()["dockerhub_token_set_at"] is not None
    course.refresh_from_db()
    assert str(course.dockerhub_token.reveal()) == "dckr_pat_secret-value"
    seen_by_ta = token_client(ta).get(f"/api/v1/courses/{course.slug}/")
    assert "secret-value" not in seen_by_ta.content.decode()
    cleared = token_client(instructor).patch(
        f"/api/v1/courses/{course.slug}/", {"clear_dockerhub_token": True}
    )
    assert cleared.json()["dockerhub_token_set_at"] is None


def test_an_instructor_creates_a_course_and_teaches_it(token_client, course, instructor):
    response = token_client(instructor).post(
        "/api/v1/courses/", {"name": "Docker 102", "build_backend": "github-actions"}
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["slug"] == "docker-102" and created["role"] == "instructor"
    assert created["repo_private"] is True  # the model's default, not a missing checkbox
    new = Course.objects.get(slug="docker-102")
    assert CourseRole.objects.filter(course=new, user=instructor, role="instructor").exists()


def test_a_course_slug_is_fixed_once_created(token_client, course, instructor):
    response = token_client(instructor).patch(f"/api/v1/courses/{course.slug}/", {"slug": "x"})
    assert response.status_code == 200
    assert Course.objects.filter(slug="docker-101").exists()


def test_a_taken_slug_is_refused(token_client, course, instructor):
    response = token_client(instructor).post("/api/v1/courses/", {"name": "Docker 101"})
    assert response.status_code == 400
    assert "already called docker-101" in response.json()["error"]["fields"]["slug"][0]


def test_a_bad_token_rate_stops_the_server_at_start(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_token": "lots"},
    }
    assert [m.id for m in run_checks() if m.id and m.id.startswith("api.")] == ["api.E001"]
