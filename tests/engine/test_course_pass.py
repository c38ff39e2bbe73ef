"""One reconcile pass per course at a time: a pass asked for while one runs is not run beside
it (a large class's pass outlasted the beat, and passes piled up on every worker while the
students' chains waited behind them); the running pass asks for the next as it ends, and a
pass whose worker died holds nothing."""

from __future__ import annotations

import socket
import subprocess
from typing import Any

import pytest

from accounts.models import Course
from hubcourse import workers
from onboarding import engine
from onboarding.tasks.course import reconcile_course_task
from tests.engine.support import make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    make_class(sandbox, course, 2, checked=True)
    return course


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The passes queued (not run)."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(reconcile_course_task, "delay", lambda *args: calls.append(args))
    return calls


def test_a_pass_asked_for_while_one_runs_waits_for_it_to_end(
    sandbox: Any, hub_course: Course, queued: list[tuple[Any, ...]]
) -> None:
    assert engine.course_pass_claim(hub_course.pk)  # the running pass
    reads = requests_to(sandbox, "GET", "")

    reconcile_course_task.apply(args=(hub_course.pk,))
    reconcile_course_task.apply(args=(hub_course.pk,))

    assert requests_to(sandbox, "GET", "") == reads  # nothing observed beside it
    assert queued == []
    assert engine.course_pass_end(hub_course.pk)  # one more pass, for both asks
    assert not engine.course_pass_end(hub_course.pk)


def test_a_pass_runs_when_none_runs_and_leaves_nothing_held(
    sandbox: Any, hub_course: Course, queued: list[tuple[Any, ...]]
) -> None:
    reads = requests_to(sandbox, "GET", "")

    reconcile_course_task.apply(args=(hub_course.pk,))

    assert requests_to(sandbox, "GET", "") > reads
    assert queued == []
    assert engine.course_pass_claim(hub_course.pk)


def test_the_pass_of_a_worker_that_died_holds_nothing(
    hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    monkeypatch.setitem(workers._identity, "holder", f"{socket.gethostname()}/{process.pid}/gone")
    assert engine.course_pass_claim(hub_course.pk)
    monkeypatch.setitem(workers._identity, "holder", "")

    assert engine.course_pass_claim(hub_course.pk)
