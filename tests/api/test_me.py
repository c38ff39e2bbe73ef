"""A student's own enrolments through the API: status, and linking their accounts."""

from __future__ import annotations

import pytest

from accounts.models import Enrolment, PreflightState
from hubcourse.errors import ConnectionFailed
from onboarding import joining

pytestmark = pytest.mark.django_db


def test_a_student_lists_their_courses_with_the_five_steps(token_client, course, student):
    body = token_client(student).get("/api/v1/me/enrolments/").json()
    assert body["count"] == 1
    mine = body["results"][0]
    assert mine["course"] == course.slug and len(mine["steps"]) == 5
    assert mine["now"] == 1  # step 1 waits for their Docker ID
    assert mine["steps"][0]["status"] == "todo"


def test_linking_checks_the_docker_id_and_starts_the_checks(
    token_client, course, student, monkeypatch, queued_tasks
):
    monkeypatch.setattr(joining, "docker_id_exists", lambda course, docker_id: True)
    sam = Enrolment.objects.get(user=student)
    response = token_client(student).patch(
        f"/api/v1/me/enrolments/{sam.pk}/",
        {"docker_id": "SamStudent", "github_repo": "https://github.com/sam/docker-lab"},
    )
    assert response.status_code == 200, response.json()
    sam.refresh_from_db()
    assert (sam.docker_id, sam.github_repo) == ("samstudent", "sam/docker-lab")
    assert sam.preflight_state == PreflightState.NOT_RUN and sam.docker_id_verified_at


def test_an_unknown_docker_id_gets_the_handouts_hint(token_client, student, monkeypatch):
    monkeypatch.setattr(joining, "docker_id_exists", lambda course, docker_id: False)
    sam = Enrolment.objects.get(user=student)
    response = token_client(student).patch(
        f"/api/v1/me/enrolments/{sam.pk}/", {"docker_id": "nobodyhere", "github_repo": "a/b"}
    )
    assert response.status_code == 400
    assert "sign up" in response.json()["error"]["fields"]["docker_id"][0]
    sam.refresh_from_db()
    assert sam.docker_id == ""


def test_docker_hub_being_down_is_a_message_not_a_crash(token_client, student, monkeypatch):
    def down(course, docker_id):
        raise ConnectionFailed("Docker Hub", "look up a Docker ID", None, "connection refused")

    monkeypatch.setattr(joining, "docker_id_exists", down)
    sam = Enrolment.objects.get(user=student)
    response = token_client(student).patch(
        f"/api/v1/me/enrolments/{sam.pk}/", {"docker_id": "samstudent", "github_repo": "a/b"}
    )
    assert response.status_code == 400
    assert "Try again" in response.json()["error"]["fields"]["docker_id"][0]


def test_nobody_links_someone_elses_enrolment(token_client, course, student, instructor):
    other = Enrolment.objects.create(course=course, identifier="zoe@example.edu")
    for user in (student, instructor):
        response = token_client(user).patch(
            f"/api/v1/me/enrolments/{other.pk}/", {"docker_id": "zoezoe", "github_repo": "a/b"}
        )
        assert response.status_code == 404
