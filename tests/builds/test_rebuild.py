"""Rebuild: the student rebuilds their latest commit, staff one student or a selection, through
the course's backend on the sandbox; rate-limited per student, audited, refused in words."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, User
from builds.models import Build, BuildState
from builds.rebuild import ACTION
from builds.services import build_configure, build_trigger_first, builds_refresh
from hubcourse.models import AuditEvent
from repositories.models import StudentRepository
from tests.builds.support import make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"


def _built(sandbox: Any, course: Course, name: str) -> Enrolment:
    student = make_student(sandbox, course, name)
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=student.pk)
    assert Build.objects.filter(enrolment=student, state=BuildState.SUCCESS).count() == 1
    return student


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _audit(student: Enrolment) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(enrolment=student, action=ACTION)
        .order_by("id")
        .values_list("outcome", "message")
    )


def test_a_student_rebuilds_their_latest_commit_once_then_is_asked_to_wait(
    sandbox: Any, course: Course, settings: Any, client: Client
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    settings.BUILD_REBUILD_MIN_INTERVAL = 600
    student = _built(sandbox, course, "margaret")
    user = User.objects.create_user("margaret@example.edu", "pw-long-enough-1")
    Enrolment.objects.filter(pk=student.pk).update(user=user)
    client.force_login(user)
    url = reverse("student:rebuild", args=[student.pk])

    first = client.post(url)
    sandbox.world.wait_idle(timeout=10)
    second = client.post(url)

    assert first.status_code == 302
    assert _messages(first) == ["Rebuilding the latest commit: the result shows here in a minute."]
    assert "another can start in 9\xa0minutes" in _messages(second)[-1]
    builds_refresh(enrolment_id=student.pk)
    builds = list(Build.objects.filter(enrolment=student).order_by("created_at"))
    assert [b.state for b in builds] == [BuildState.SUCCESS, BuildState.SUCCESS]
    assert builds[0].commit_sha == builds[1].commit_sha  # the same, latest commit
    audit = _audit(student)
    assert [outcome for outcome, _ in audit] == [AuditEvent.Outcome.OK, AuditEvent.Outcome.NOOP]
    assert audit[1][1].startswith("refused: A rebuild was asked for a moment ago")
    assert AuditEvent.objects.filter(action=ACTION, actor=user).count() == 2
    # The rebuild's expectation is met once its build has finished: the repository idles.
    assert StudentRepository.objects.get(enrolment=student).expected_at is None


def test_staff_rebuild_a_selection_and_hear_why_some_were_refused(
    sandbox: Any, course: Course, settings: Any, client: Client, instructor: User
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    ready = _built(sandbox, course, "barbara")
    not_set_up = make_student(sandbox, course, "frances")
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:bulk", args=[course.slug]),
        {"action": "rebuild", "scope": "selected", "ids": [ready.pk, not_set_up.pk]},
    )
    sandbox.world.wait_idle(timeout=10)

    assert _messages(response) == [
        "Rebuilding the latest commit of 1 student. Not for 1 student: "
        "The build is not set up yet: hubcourse sets it up during onboarding."
    ]
    assert [o for o, _ in _audit(ready)] == [AuditEvent.Outcome.OK]
    assert [o for o, _ in _audit(not_set_up)] == [AuditEvent.Outcome.NOOP]
    assert AuditEvent.objects.get(enrolment=not_set_up, action=ACTION).actor == instructor
    builds_refresh(enrolment_id=ready.pk)
    assert Build.objects.filter(enrolment=ready).count() == 2

    one = client.post(reverse("dashboard:student_rebuild", args=[course.slug, ready.pk]))
    assert "another can start in" in _messages(one)[-1]


def test_a_student_without_a_linked_repository_is_told_why_nothing_builds(
    course: Course, client: Client, student: User
) -> None:
    enrolment = Enrolment.objects.get(user=student)
    client.force_login(student)

    response = client.post(reverse("student:rebuild", args=[enrolment.pk]))

    assert _messages(response) == [
        "No GitHub repository is linked yet, so there is nothing to build."
    ]
    assert [o for o, _ in _audit(enrolment)] == [AuditEvent.Outcome.NOOP]
