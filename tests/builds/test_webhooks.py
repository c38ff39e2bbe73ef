"""Incoming webhooks: GitHub signatures good, bad and replayed; Docker Hub's URL token."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds.backends.github_actions.backend import WORKFLOW_PATH
from builds.models import Build, BuildState, WebhookDelivery
from builds.tasks import refresh_builds
from repositories.models import StudentRepository

SECRET = "a-webhook-secret"


@pytest.fixture
def hooked(course: Course) -> tuple[Course, Enrolment, StudentRepository]:
    course.github_webhook_secret = SECRET
    course.build_backend = "github-actions"
    course.save()
    course = Course.objects.get(pk=course.pk)
    enrolment = Enrolment.objects.create(
        course=course, identifier="ada@example.edu", docker_id="ada", github_repo="ada/course"
    )
    repository = StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name="docker-101-ada",
        created_at=timezone.now(),
        build_configured_at=timezone.now(),
    )
    return course, enrolment, repository


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(refresh_builds, "delay", calls.append)
    return calls


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _github(
    client: Client,
    course: Course,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str = "d-1",
    signature: str | None = None,
) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        f"/hooks/github/{course.webhook_token}/",
        data=body,
        content_type="application/json",
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": _sign(body) if signature is None else signature,
        },
    )


def _run(status: str, conclusion: str | None, path: str = WORKFLOW_PATH) -> dict[str, Any]:
    return {
        "id": 4242,
        "name": "hubcourse",
        "workflow_id": 7,
        "path": path,
        "head_branch": "main",
        "head_sha": "a" * 40,
        "event": "push",
        "status": status,
        "conclusion": conclusion,
        "run_number": 1,
        "html_url": "https://github.com/ada/course/actions/runs/4242",
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-05T10:01:00Z",
        "run_started_at": "2026-01-05T10:00:05Z",
    }


@pytest.mark.django_db
def test_a_bad_signature_is_refused_and_nothing_is_recorded(client: Client, hooked: Any) -> None:
    course, _enrolment, _repository = hooked

    response = _github(client, course, "ping", {"zen": "x"}, signature=_sign(b"other body"))
    unsigned = _github(client, course, "ping", {"zen": "x"}, signature="")
    wrong_secret = _github(client, course, "ping", {"zen": "x"}, signature=_sign(b"", "nope"))

    assert [response.status_code, unsigned.status_code, wrong_secret.status_code] == [401] * 3
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_replayed_delivery_is_answered_once(client: Client, hooked: Any) -> None:
    course, _enrolment, _repository = hooked

    first = _github(client, course, "ping", {"zen": "x"}, delivery="same")
    again = _github(client, course, "ping", {"zen": "x"}, delivery="same")

    assert first.json() == {"status": "pong"}
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert WebhookDelivery.objects.filter(service="github", delivery_id="same").count() == 1


@pytest.mark.django_db
def test_an_unknown_course_token_is_not_found(client: Client, hooked: Any) -> None:
    response = client.post(
        "/hooks/github/not-a-token/", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_push_to_the_course_branch_asks_for_a_look_now(
    client: Client, hooked: Any, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    course, enrolment, _repository = hooked

    with django_capture_on_commit_callbacks(execute=True):
        response = _github(
            client,
            course,
            "push",
            {"ref": "refs/heads/main", "repository": {"full_name": "Ada/Course"}},
        )
        other = _github(
            client,
            course,
            "push",
            {"ref": "refs/heads/feature", "repository": {"full_name": "ada/course"}},
            delivery="d-2",
        )

    assert response.status_code == 202
    assert other.json() == {"status": "ignored"}
    assert enqueued == [enrolment.pk]
    repository = StudentRepository.objects.get(enrolment=enrolment)
    assert repository.last_pushed_at is not None
    assert repository.next_poll_at is not None and repository.next_poll_at <= timezone.now()


@pytest.mark.django_db
def test_a_signed_workflow_run_is_recorded_and_a_finished_one_reads_its_log(
    client: Client, hooked: Any, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    course, enrolment, _repository = hooked
    repo = {"full_name": "ada/course"}

    with django_capture_on_commit_callbacks(execute=True):
        _github(
            client,
            course,
            "workflow_run",
            {"workflow_run": _run("in_progress", None), "repository": repo},
        )
        running = Build.objects.get(enrolment=enrolment)
        assert running.state == BuildState.RUNNING and enqueued == []
        _github(
            client,
            course,
            "workflow_run",
            {"workflow_run": _run("completed", "success"), "repository": repo},
            delivery="d-2",
        )
        _github(
            client,
            course,
            "workflow_run",
            {"workflow_run": _run("in_progress", None), "repository": repo},
            delivery="d-3",
        )

    build = Build.objects.get(enrolment=enrolment)
    assert build.state == BuildState.SUCCESS  # a late "in progress" does not undo it
    assert build.external_id == "4242" and build.commit_sha == "a" * 40
    assert enqueued == [enrolment.pk]


@pytest.mark.django_db
def test_runs_of_the_students_own_workflows_are_ignored(client: Client, hooked: Any) -> None:
    course, _enrolment, _repository = hooked
    payload = {
        "workflow_run": _run("completed", "failure", path=".github/workflows/tests.yml"),
        "repository": {"full_name": "ada/course"},
    }

    response = _github(client, course, "workflow_run", payload)

    assert response.json() == {"status": "ignored"}
    assert not Build.objects.exists()


@pytest.mark.django_db
def test_docker_hub_hooks_need_the_course_token_and_only_ask_for_a_look(
    client: Client, hooked: Any, enqueued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    course, enrolment, _repository = hooked
    payload = {
        "push_data": {"pushed_at": 1, "pusher": "trustedbuilder", "tag": "latest"},
        "repository": {"repo_name": "revelare/docker-101-ada", "status": "Active"},
    }

    wrong = client.post("/hooks/dockerhub/wrong/", data=payload, content_type="application/json")
    with django_capture_on_commit_callbacks(execute=True):
        right = client.post(
            f"/hooks/dockerhub/{course.webhook_token}/",
            data=payload,
            content_type="application/json",
        )
    garbage = client.post(
        f"/hooks/dockerhub/{course.webhook_token}/", data=b"[", content_type="application/json"
    )

    assert wrong.status_code == 404
    assert right.status_code == 202
    assert garbage.status_code == 400
    assert enqueued == [enrolment.pk]
    # A hint, never a fact: no build is recorded from Docker Hub's payload.
    assert not Build.objects.exists()
