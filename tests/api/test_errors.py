"""Every API error has one shape, with a message a person can act on."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Course
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"].strip()
    return body["error"]


def test_anonymous_requests_get_401_with_a_bearer_challenge_and_how_to_sign_in():
    response = APIClient().get("/api/v1/courses/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = _error(response)
    assert error["code"] == "not_authenticated"
    assert "/settings/tokens/" in error["message"]


def test_an_outsider_gets_404_with_the_access_policys_words(token_client, course, outsider):
    response = token_client(outsider).get(f"/api/v1/courses/{course.slug}/")
    assert response.status_code == 404
    assert _error(response) == {"code": "not_found", "message": "No such course.", "fields": {}}


def test_a_ta_changing_settings_gets_403_saying_who_can(token_client, course, ta):
    response = token_client(ta).patch(f"/api/v1/courses/{course.slug}/", {"name": "Renamed"})
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "permission_denied"
    assert "instructors" in error["message"]
    course.refresh_from_db()
    assert course.name == "Docker 101"


def test_invalid_input_names_each_field_with_the_pages_rule(token_client, course, instructor):
    response = token_client(instructor).patch(
        f"/api/v1/courses/{course.slug}/",
        {"repo_name_template": "{course}-{student}", "build_backend": "jenkins"},
        format="json",
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"build_backend"}
    assert "build_backend" in error["message"]
    # Once the types are right, the settings page's own rules speak.
    response = token_client(instructor).patch(
        f"/api/v1/courses/{course.slug}/", {"repo_name_template": "{course}-{student}"}
    )
    error = _error(response)
    assert "Unknown placeholder {student}" in error["fields"]["repo_name_template"][0]
    course.refresh_from_db()
    assert course.repo_name_template == "{course}-{docker_id}"


def test_a_body_that_is_not_json_is_refused_with_what_to_send(token_client, course, instructor):
    response = token_client(instructor).generic(
        "PATCH", f"/api/v1/courses/{course.slug}/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_an_unknown_method_is_405_in_the_same_shape(token_client, course, instructor):
    response = token_client(instructor).delete(f"/api/v1/courses/{course.slug}/")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_a_page_past_the_end_says_where_to_start(token_client, course, instructor):
    response = token_client(instructor).get("/api/v1/courses/?page=9")
    assert response.status_code == 404
    assert "page 1" in _error(response)["message"]


def test_session_requests_need_the_csrf_token_like_the_pages(course, instructor):
    client = APIClient(enforce_csrf_checks=True)
    client.login(email=instructor.email, password=PASSWORD)
    assert client.get(f"/api/v1/courses/{course.slug}/").status_code == 200
    response = client.patch(f"/api/v1/courses/{course.slug}/", {"name": "Renamed"})
    assert response.status_code == 403
    assert "CSRF" in _error(response)["message"]
    assert Course.objects.get(pk=course.pk).name == "Docker 101"


def test_a_bug_answers_500_in_the_same_shape_and_is_logged(
    token_client, course, instructor, monkeypatch, caplog
):
    from api import courses

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(courses, "courses_for_staff", broken)
    response = token_client(instructor).get("/api/v1/courses/")
    assert response.status_code == 500
    assert _error(response)["code"] == "server_error"
    assert "boom" not in response.content.decode()
    assert any("API request failed" in r.message for r in caplog.records)


def test_a_missing_object_is_named_in_words_not_model_names(token_client, course, instructor):
    response = token_client(instructor).get(f"/api/v1/courses/{course.slug}/apply-runs/424242/")
    assert response.status_code == 404
    message = _error(response)["message"]
    assert "ApplyRun" not in message and "Check the course slug and ids" in message


def test_a_moment_with_any_utc_offset_filters_instead_of_failing(token_client, course, instructor):
    # ISO 8601 allows an offset of -17:31; PostgreSQL refuses to compare with one.
    client = token_client(instructor)
    for url in ("/api/v1/builds/", "/api/v1/audit/"):
        response = client.get(
            url, {"since": "2026-01-01T00:00:00-17:31", "until": "3891-04-20T22:57:02+17:59"}
        )
        assert response.status_code == 200, response.content
