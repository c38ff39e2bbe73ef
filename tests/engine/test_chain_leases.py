"""A student's chain never keeps their lease once it has stopped, whatever stopped it, and a
database that refuses for a moment is retried like an outside transient error."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from accounts.models import Course
from accounts.steps import StepName
from hubcourse import tasks as policy
from hubcourse.celery import app
from onboarding import engine
from onboarding import steps as step_registry
from onboarding.tasks import steps as step_tasks
from repositories.models import StudentRepository
from repositories.services import repository_ensure
from tests.engine.support import make_class

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def as_in_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # A retry or a failure ends that task, not the caller; retries run at once.
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(policy, "BACKOFF_BASE", 0)


def _apply(course: Course) -> None:
    engine.apply_plan(engine.plan_course(course), follow_up=False)


def test_a_chain_dying_of_a_non_http_error_frees_the_lease_and_says_so(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch, as_in_a_worker: None
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)

    def broken(**_: Any) -> None:
        raise RuntimeError("a bug, not Docker Hub")

    monkeypatch.setattr(step_registry, "repository_ensure", broken)

    # Eager chains hand the failed step's result on; a worker would just stop the chain.
    with pytest.raises(RuntimeError):
        _apply(hub_course)

    enrolment.refresh_from_db()
    assert enrolment.error_step == "repository"
    assert not enrolment.error_permanent
    assert "RuntimeError" in enrolment.error_message
    # The next pass may queue the student again at once.
    assert engine.pipeline_claim(enrolment.pk)


def test_a_step_failing_in_a_worker_releases_the_lease_in_on_failure(
    sandbox: Any, hub_course: Course
) -> None:
    # What a worker does when retries run out or a time limit ends the task.
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    assert engine.pipeline_claim(enrolment.pk)

    step_tasks.STEP_TASKS[StepName.PERMISSIONS].on_failure(
        RuntimeError("retries exhausted"), "task-id", (enrolment.pk, None), {}, None
    )

    assert engine.pipeline_claim(enrolment.pk)


def test_a_deadlocked_step_is_retried_and_the_chain_goes_on(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch, as_in_a_worker: None
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    real = repository_ensure
    calls: list[int] = []

    def deadlocked_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    monkeypatch.setattr(step_registry, "repository_ensure", deadlocked_once)

    _apply(hub_course)

    repository = StudentRepository.objects.get(enrolment=enrolment)
    assert len(calls) == 2
    assert repository.created_at is not None
    assert repository.build_configured_at is not None  # later steps ran
    enrolment.refresh_from_db()
    assert not enrolment.error_step
    assert engine.pipeline_claim(enrolment.pk)  # pipeline_done released it


def test_every_step_renews_the_lease_so_only_a_dead_chain_lets_it_run_out(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    renewed: list[tuple[int, float]] = []
    real = engine.pipeline_renew

    def spy(enrolment_id: int, *, waiting: float = 0, **kwargs: Any) -> bool:
        renewed.append((enrolment_id, waiting))
        return real(enrolment_id, waiting=waiting, **kwargs)

    monkeypatch.setattr(engine, "pipeline_renew", spy)

    _apply(hub_course)

    # Every step but pre-flight (passed already) and its own team step (course-team policy
    # has none) renews the lease as it starts.
    assert [e for e, _ in renewed] == [enrolment.pk] * 4
    assert engine.PIPELINE_LEASE_SECONDS <= 5 * 60


def test_later_steps_of_a_chain_are_served_before_new_students_steps(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_class(sandbox, course, 1)
    chains: list[Any] = []

    class Capture:
        def __init__(self, *signatures: Any) -> None:
            chains.append(signatures)

        def delay(self) -> None:
            pass

    monkeypatch.setattr(engine, "chain", Capture)

    engine.apply_plan(engine.plan_course(course), follow_up=False)

    ((*steps, done),) = chains
    priorities = [s.options["priority"] for s in steps]
    # Pre-flight with the course tasks (first); then each later step at least as urgent as
    # the one before it (the Redis broker serves lower numbers first).
    assert steps[0].task == "onboarding.step.preflight" and priorities[0] == 0
    assert priorities[1:] == sorted(priorities[1:], reverse=True)
    assert priorities[1] > priorities[-1]
    assert done.options["priority"] <= priorities[-1]
