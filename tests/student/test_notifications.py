"""Emails on a broken build and on its fix: only when the outcome changes, never twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Enrolment, User
from builds.models import Build, BuildState
from builds.notifications import notify_build_outcome

pytestmark = pytest.mark.django_db

_counter = iter(range(1, 10_000))


@pytest.fixture
def sam(student: User) -> Enrolment:
    return Enrolment.objects.get(user=student)


def _finish(enrolment: Enrolment, state: str, *, sha: str = "", log: str = "") -> Build:
    number = next(_counter)
    return Build.objects.create(
        enrolment=enrolment,
        backend="github-actions",
        external_id=str(number),
        state=state,
        commit_sha=sha or f"{number:07x}",
        created_at=timezone.now() + dt.timedelta(seconds=number),
        log_excerpt=log,
    )


def _notify(enrolment: Enrolment, capture: Any) -> str | None:
    with capture(execute=True):
        return notify_build_outcome(enrolment_id=enrolment.pk)


def test_a_first_success_sends_nothing(
    sam: Enrolment, django_capture_on_commit_callbacks: Any
) -> None:
    _finish(sam, BuildState.SUCCESS)

    assert _notify(sam, django_capture_on_commit_callbacks) is None
    assert mail.outbox == []


def test_a_break_then_a_fix_send_one_email_each(
    sam: Enrolment, student: User, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    _finish(sam, BuildState.SUCCESS)
    _notify(sam, capture)

    _finish(
        sam, BuildState.FAILED, sha="deadbeefcafe", log="Step 3/5\nCOPY failed: app.py not found"
    )
    assert _notify(sam, capture) == "broken"
    _finish(sam, BuildState.FAILED)
    assert _notify(sam, capture) is None  # still broken: no second email
    _finish(sam, BuildState.SUCCESS)
    assert _notify(sam, capture) == "fixed"
    _finish(sam, BuildState.SUCCESS)
    assert _notify(sam, capture) is None

    assert [m.subject for m in mail.outbox] == [
        "Docker 101: your Docker image build failed",
        "Docker 101: your Docker image builds again",
    ]
    broken = mail.outbox[0]
    assert broken.to == [student.email]
    assert "deadbee" in broken.body and "COPY failed: app.py not found" in broken.body
    assert f"/my/{sam.pk}/" in broken.body


def test_the_same_build_reported_twice_sends_one_email(
    sam: Enrolment, django_capture_on_commit_callbacks: Any
) -> None:
    _finish(sam, BuildState.FAILED)

    first = _notify(sam, django_capture_on_commit_callbacks)
    second = _notify(sam, django_capture_on_commit_callbacks)

    assert (first, second) == ("broken", None)
    assert len(mail.outbox) == 1


def test_running_and_canceled_builds_change_nothing(
    sam: Enrolment, django_capture_on_commit_callbacks: Any
) -> None:
    _finish(sam, BuildState.FAILED)
    _notify(sam, django_capture_on_commit_callbacks)
    _finish(sam, BuildState.CANCELED)
    _finish(sam, BuildState.RUNNING)

    assert _notify(sam, django_capture_on_commit_callbacks) is None
    assert len(mail.outbox) == 1


def test_a_student_with_no_account_gets_the_roster_email(
    sam: Enrolment, django_capture_on_commit_callbacks: Any
) -> None:
    Enrolment.objects.filter(pk=sam.pk).update(user=None, email="sam@school.edu")
    _finish(sam, BuildState.FAILED)

    _notify(sam, django_capture_on_commit_callbacks)

    assert mail.outbox[0].to == ["sam@school.edu"]


class _FakeBackend:
    """Reports whatever builds the test sets, as a build backend would."""

    name = "dockerhub-autobuild"

    def __init__(self) -> None:
        self.infos: list[Any] = []

    def builds_since(self, enrolment: Enrolment, since: Any) -> list[Any]:
        return list(self.infos)

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        return f"log of {external_id}\nthe end"


def test_recording_builds_sends_the_email_once_per_change(
    sam: Enrolment,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from builds import moving
    from builds import services as build_services
    from builds.backends.base import BuildInfo
    from repositories.models import StudentRepository

    StudentRepository.objects.create(
        enrolment=sam, namespace="revelare", name="x", build_configured_at=timezone.now()
    )
    backend = _FakeBackend()
    monkeypatch.setattr(moving, "backend_of", lambda *args, **kwargs: backend)
    monkeypatch.setattr(build_services, "get_backend", lambda name: backend)
    start = timezone.now()

    def report(*states: str) -> None:
        backend.infos = [
            BuildInfo(
                external_id=f"b{i}",
                state=BuildState(state),
                created_at=start + dt.timedelta(minutes=i),
                commit_sha=f"{i:07d}",
            )
            for i, state in enumerate(states)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            build_services.builds_refresh(enrolment_id=sam.pk)

    report("running")
    report("failed")
    report("failed")  # the same report again (a retry): nothing new
    report("failed", "failed")
    report("failed", "failed", "success")

    assert [m.subject.split(": ", 1)[1] for m in mail.outbox] == [
        "your Docker image build failed",
        "your Docker image builds again",
    ]
    assert "log of b0" in mail.outbox[0].body
