"""The GitHub App's push events, as the app_event signal delivers them to the builds domain."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from integrations.github.webhooks import app_event
from repositories.models import StudentRepository

pytestmark = pytest.mark.django_db

SHA = "c0ffee" + "0" * 34


def _student(course: Course, repo: str = "ada/course", repo_id: int | None = None) -> Enrolment:
    enrolment = Enrolment.objects.create(
        course=course, identifier="ada", github_repo=repo, github_repository_id=repo_id
    )
    StudentRepository.objects.create(
        enrolment=enrolment, namespace="revelare", name="ada", build_configured_at=timezone.now()
    )
    return enrolment


def _push(full_name: str, ref: str = "refs/heads/main", **extra: Any) -> dict[str, Any]:
    return {
        "ref": ref,
        "after": SHA,
        "repository": {"id": 99, "full_name": full_name},
        **extra,
    }


def _send(payload: dict[str, Any]) -> None:
    app_event.send(sender=None, event="push", action="", payload=payload, delivery="d1")


def test_a_push_to_the_build_branch_expects_that_commits_build(course: Course) -> None:
    student = _student(course)

    _send(_push("Ada/Course"))

    repository = StudentRepository.objects.get(enrolment=student)
    assert repository.expected_sha == SHA
    assert repository.next_poll_at is not None and repository.next_poll_at <= timezone.now()


def test_a_renamed_repository_is_still_matched_by_its_id(course: Course) -> None:
    student = _student(course, repo_id=99)

    _send(_push("ada/renamed"))

    assert StudentRepository.objects.get(enrolment=student).expected_sha == SHA


@pytest.mark.parametrize(
    "payload",
    [
        _push("ada/course", ref="refs/heads/feature"),
        _push("ada/course", deleted=True),
        {**_push("ada/course"), "after": "0" * 40},
        _push("someone/else"),
    ],
)
def test_other_branches_deletions_and_other_repositories_expect_nothing(
    course: Course, payload: dict[str, Any]
) -> None:
    student = _student(course)

    _send(payload)

    assert StudentRepository.objects.get(enrolment=student).expected_sha == ""


def test_with_actions_a_push_only_asks_for_a_look_the_run_reports_itself(course: Course) -> None:
    Course.objects.filter(pk=course.pk).update(build_backend="github-actions")
    student = _student(course)

    _send(_push("ada/course"))

    repository = StudentRepository.objects.get(enrolment=student)
    assert repository.expected_sha == ""
    assert repository.last_pushed_at is not None
