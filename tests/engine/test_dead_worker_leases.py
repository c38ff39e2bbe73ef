"""A student's lease dies with the worker that held it (and only then); a chain that lost its
lease stops; a repository whose create answer was lost to a killed worker is read back as the
course's own, while one made by someone else is still left alone."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any

import pytest
from django.core.cache import cache

from accounts import managed
from accounts.credentials import dockerhub_client_for
from accounts.models import Course, ManagedResource
from accounts.steps import StepName
from hubcourse import workers
from onboarding import engine
from onboarding.tasks import steps as step_tasks
from repositories.models import StudentRepository
from repositories.services import repository_ensure, repository_row
from tests.engine.support import make_class

pytestmark = pytest.mark.django_db(transaction=True)

HOST = socket.gethostname()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _held_by(monkeypatch: pytest.MonkeyPatch, enrolment_id: int, holder: str) -> str:
    """The student's chain claimed, and its message taken by worker ``holder``; its token."""
    token = engine.pipeline_claim(enrolment_id)
    assert token
    monkeypatch.setitem(workers._identity, "holder", holder)
    assert engine.pipeline_renew(enrolment_id, token=token)
    monkeypatch.setitem(workers._identity, "holder", "")
    return token


def test_a_lease_whose_worker_died_is_released_and_a_live_workers_is_not(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed, live, remote_gone, remote_live = make_class(sandbox, hub_course, 4, checked=True)
    live_holder = f"{HOST}/{os.getpid()}/live"
    cache.set(f"hubcourse:worker-alive:{live_holder}", 1, timeout=60)
    remote_live_holder = "other-host/4242/up"
    cache.set(f"hubcourse:worker-alive:{remote_live_holder}", 1, timeout=60)

    old = _held_by(monkeypatch, killed.pk, f"{HOST}/{_dead_pid()}/gone")
    _held_by(monkeypatch, live.pk, live_holder)
    _held_by(monkeypatch, remote_gone.pk, "other-host/4242/silent")  # its alive key ran out
    _held_by(monkeypatch, remote_live.pk, remote_live_holder)

    new = engine.pipeline_claim(killed.pk)
    assert new and new != old
    assert engine.pipeline_claim(remote_gone.pk)
    assert not engine.pipeline_claim(live.pk)
    assert not engine.pipeline_claim(remote_live.pk)


def test_a_lease_waiting_in_the_queue_is_no_dead_workers(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A step finished and handed on: the next message is in the queue, so the worker that
    # ran the step may die without taking the student's chain with it.
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    dead = f"{HOST}/{_dead_pid()}/gone"
    token = _held_by(monkeypatch, enrolment.pk, dead)
    monkeypatch.setitem(workers._identity, "holder", dead)
    engine.pipeline_handed_on(enrolment.pk, token)
    monkeypatch.setitem(workers._identity, "holder", "")

    assert not engine.pipeline_claim(enrolment.pk)


def test_a_next_message_the_dying_worker_had_taken_already_keeps_its_lease_with_it(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's consumer took the chain's next message before the step that queued it
    # finished: the finished step must not clear the holder of the message now held.
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    dead = f"{HOST}/{_dead_pid()}/gone"
    token = engine.pipeline_claim(enrolment.pk)
    monkeypatch.setitem(workers._identity, "holder", dead)
    engine.pipeline_renew(enrolment.pk, token=token, message="step-1")
    engine.pipeline_renew(enrolment.pk, token=token, message="step-2")  # taken by the consumer
    engine.pipeline_handed_on(enrolment.pk, token, "step-1")
    monkeypatch.setitem(workers._identity, "holder", "")

    assert engine.pipeline_claim(enrolment.pk)


def test_a_superseded_chains_step_stops_and_leaves_the_new_chains_lease(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    old = _held_by(monkeypatch, enrolment.pk, f"{HOST}/{_dead_pid()}/gone")
    new = engine.pipeline_claim(enrolment.pk)
    assert new

    # The killed worker's message, redelivered: it finds another token and does nothing.
    step_tasks.STEP_TASKS[StepName.REPOSITORY].apply(
        args=(enrolment.pk, None), kwargs={"lease": old}
    )
    step_tasks.pipeline_done.apply(args=(enrolment.pk,), kwargs={"lease": old})

    assert not StudentRepository.objects.filter(enrolment=enrolment, created_at__isnull=False)
    lease = engine.pipeline_lease(enrolment.pk)
    assert lease is not None and lease.token == new


def test_a_dead_worker_is_swept_once_and_its_students_reconciled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = f"{HOST}/{_dead_pid()}/gone"
    alive = f"{HOST}/{os.getpid()}/here"
    cache.set(f"hubcourse:worker-alive:{alive}", 1, timeout=60)
    cache.set("hubcourse:workers", [gone, alive], timeout=None)
    heard: list[list[str]] = []

    def listener(sender: object, holders: list[str], **kwargs: Any) -> None:
        heard.append(holders)

    workers.workers_died.connect(listener)
    try:
        assert workers.sweep() == [gone]
        assert workers.sweep() == []
    finally:
        workers.workers_died.disconnect(listener)
    assert heard == [[gone]]
    assert cache.get("hubcourse:workers") == [alive]


def test_a_repository_whose_create_answer_was_lost_is_read_back_as_ours(
    sandbox: Any, hub_course: Course
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository = repository_row(enrolment)
    # A worker recorded its intent, sent the create and was killed before the answer.
    assert managed.record_intent(hub_course, managed.Kind.REPOSITORY, repository.full_name)
    dockerhub_client_for(hub_course).create_repository(repository.namespace, repository.name)

    repository_ensure(enrolment_id=enrolment.pk)

    repository.refresh_from_db()
    assert repository.created_at is not None
    assert managed.owned(hub_course, managed.Kind.REPOSITORY, repository.full_name)


def test_a_repository_someone_else_made_is_still_left_alone(
    sandbox: Any, hub_course: Course
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository = repository_row(enrolment)
    dockerhub_client_for(hub_course).create_repository(repository.namespace, repository.name)

    with pytest.raises(managed.NotOurs):
        repository_ensure(enrolment_id=enrolment.pk)

    origins = set(
        ManagedResource.objects.filter(
            course=hub_course, kind=ManagedResource.Kind.REPOSITORY
        ).values_list("origin", flat=True)
    )
    assert ManagedResource.Origin.CREATED not in origins
    assert managed.found(hub_course, managed.Kind.REPOSITORY, repository.full_name)
