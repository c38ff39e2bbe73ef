"""The one retry policy of every product task (hubcourse.tasks.PolicyTask)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from hubcourse import tasks as policy
from hubcourse.celery import app
from hubcourse.errors import ServiceUnavailable, Throttled
from hubcourse.tasks import PolicyTask

calls: list[str] = []
released: list[tuple[Any, ...]] = []


class LeasedTask(PolicyTask):
    def release_lease(self, args: Any, kwargs: Any) -> None:
        released.append(tuple(args))


@app.task(base=PolicyTask, bind=True, name="tests.policy.flaky")
def flaky(self: PolicyTask, failure: str, times: int) -> str:
    """Fails ``times`` times with ``failure``, then succeeds."""
    calls.append(failure)
    if len(calls) <= times:
        if failure == "database":
            raise OperationalError("deadlock detected")
        if failure == "transient":
            try:
                raise ServiceUnavailable("Docker Hub", "list the team", 503, "busy")
            except ServiceUnavailable as error:
                raise self.retry_after(error) from error
        if failure == "throttled":
            limited = Throttled(
                "Docker Hub", "invite", retry_at=timezone.now() + dt.timedelta(seconds=30)
            )
            raise self.retry_after(limited) from limited
    return "done"


@app.task(base=LeasedTask, bind=True, name="tests.policy.broken")
def broken(self: PolicyTask, job_id: int) -> None:
    raise RuntimeError("a bug")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    calls.clear()
    released.clear()
    # No jitter, so the numbers are exact.
    monkeypatch.setattr(random, "uniform", lambda a, b: 0)
    monkeypatch.setattr(random, "randint", lambda a, b: 0)


@pytest.fixture
def as_in_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Eager retries run at once and a failure ends the task, not the caller.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(policy, "BACKOFF_BASE", 0)


def test_the_transient_backoff_doubles_and_is_capped(settings: Any) -> None:
    settings.CELERY_MAX_COUNTDOWN = 600
    assert [policy.backoff(n) for n in range(5)] == [10, 20, 40, 80, 160]
    assert policy.backoff(6) == 600
    assert policy.backoff(40) == 600


def test_a_transient_failure_retries_after_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with pytest.raises(Retry) as retry:
        flaky.delay("transient", 1)
    assert retry.value.when == policy.BACKOFF_BASE


def test_a_rate_limit_waits_as_long_as_the_service_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with pytest.raises(Retry) as retry:
        flaky.delay("throttled", 1)
    assert retry.value.when == 30


def test_a_rate_limit_wait_is_capped_by_the_broker_limit(settings: Any) -> None:
    settings.CELERY_MAX_COUNTDOWN = 100
    error = Throttled("GitHub", "read", retry_at=timezone.now() + dt.timedelta(hours=2))
    assert policy.rate_limit_wait(error) == 100


def test_a_rate_limit_is_waited_out_more_often_than_a_transient_failure() -> None:
    task = flaky
    task.push_request(retries=policy.MAX_TRANSIENT_RETRIES)
    try:
        limited = Throttled("Docker Hub", "invite", retry_at=timezone.now())
        assert task.gives_up(ServiceUnavailable("Docker Hub", "invite", 502, "bad gateway"))
        assert task.gives_up(OperationalError("gone"))
        assert not task.gives_up(limited)
    finally:
        task.pop_request()


@pytest.mark.django_db
def test_a_database_hiccup_is_retried_and_the_task_then_succeeds(as_in_a_worker: None) -> None:
    result = flaky.delay("database", 1)
    assert calls == ["database", "database"]
    assert result.get() == "done"


@pytest.mark.django_db
def test_a_database_that_keeps_refusing_fails_the_task_after_the_transient_budget(
    as_in_a_worker: None,
) -> None:
    result = flaky.delay("database", 100)
    assert len(calls) == policy.MAX_TRANSIENT_RETRIES + 1
    assert isinstance(result.result, OperationalError)


def test_a_task_failing_for_good_releases_its_lease(as_in_a_worker: None) -> None:
    broken.delay(7)
    assert released == [(7,)]


@pytest.mark.django_db
def test_a_job_task_failing_for_good_releases_the_jobs_lease() -> None:
    from accounts.models import BulkInvite
    from accounts.tasks import bulk_invite_task

    job = BulkInvite.objects.create(
        organisation="org", team="students", lease_until=timezone.now() + dt.timedelta(minutes=5)
    )
    bulk_invite_task.on_failure(RuntimeError("time limit"), "task-id", (job.pk,), {}, None)
    job.refresh_from_db()
    assert job.lease_until is None


def test_every_product_task_uses_the_policy() -> None:
    app.loader.import_default_modules()
    product = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert len(product) > 20  # the autodiscovered tasks really are there
    without = sorted(name for name, task in product.items() if not isinstance(task, PolicyTask))
    assert without == []
