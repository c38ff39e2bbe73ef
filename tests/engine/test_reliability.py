"""Reliability: a real worker killed mid-apply, sandbox faults and a low rate limit; the class
still converges and nothing is created twice (the sandbox's own statistics prove it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import Course, OnboardingState
from hubcourse.celery import app
from tests.engine.support import created, make_class
from tests.engine.test_converge import converge

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str | None:
    """A URL a second process can open for the test database, or None (in-memory SQLite)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{db['NAME']}"
    name = str(db.get("NAME") or "")
    if connection.vendor == "sqlite" and name and "memory" not in name:
        return f"sqlite:///{name}"
    return None


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hubcourse",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: SIGKILL reaches every child
    )


def _kill(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


# After the restart the killed chains' students are queued again within seconds (their leases
# died with the worker), not after the 5-minute lease; this bound leaves room for a loaded
# 2-core machine while failing if recovery falls back to the lease.
RECOVERY_BOUND_SECONDS = 150


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_apply_converges_after_restart_with_no_duplicates(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    url = _database_url()
    if url is None:
        pytest.skip("the test database is in memory: a worker process cannot open it")
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    # The default lease (5 minutes): only a lease that dies with its worker converges in time.
    sandbox.world.config.update({"latency_ms": 40})
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    size = 10
    make_class(sandbox, course, size)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hubcourse.settings_test",
        "DATABASE_URL": url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DOCKERHUB_ORG": settings.DOCKERHUB_ORG,
        "DOCKERHUB_USERNAME": settings.DOCKERHUB_USERNAME,
        "DOCKERHUB_TOKEN": settings.DOCKERHUB_TOKEN,
        "GITHUB_TOKEN": settings.GITHUB_TOKEN,
        "HUBCOURSE_ENV": "test",
    }
    log = tmp_path / "worker.log"
    from onboarding.engine import apply_plan, pipeline_lease, plan_course

    worker = _start_worker(env, log)
    try:
        apply_plan(plan_course(course, observe=True))
        # Kill it once some (not all) repositories exist: mid-apply.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and created(sandbox).get("dockerhub.repository", 0) < 2:
            time.sleep(0.05)
        assert created(sandbox).get("dockerhub.repository", 0) < size, "too late to kill"
        _kill(worker)
        worker = _start_worker(env, log)
        _converge_with_worker(sandbox, course, bound=RECOVERY_BOUND_SECONDS)
    finally:
        if worker.poll() is None:
            _kill(worker)

    states = set(course.enrolments.values_list("state", flat=True))
    errors = list(
        course.enrolments.exclude(error_step="").values_list(
            "docker_id", "state", "error_step", "error_message"
        )
    )
    leases = {pk: pipeline_lease(pk) for pk in course.enrolments.values_list("pk", flat=True)}
    assert states == {OnboardingState.FIRST_BUILD_SUCCEEDED}, (
        errors,
        leases,
        log.read_text()[-3000:],
    )
    made = created(sandbox)
    assert made["dockerhub.repository"] == size
    assert made["dockerhub.invite"] == size
    assert made["dockerhub.build_source"] == size


def _converge_with_worker(sandbox: Any, course: Course, *, bound: float) -> None:
    """Periodic passes (as beat would send them) until the class is done, within ``bound``
    seconds."""
    from builds.services import builds_refresh
    from onboarding.engine import apply_plan, plan_course
    from tests.engine.support import accept_all_invites

    # Bounded by time rather than by passes: on a loaded 2-core machine a pass takes longer
    # (and a deadlock victim's step waits for its retry), which is not what this test is about.
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        states = set(course.enrolments.values_list("state", flat=True))
        if states == {OnboardingState.FIRST_BUILD_SUCCEEDED}:
            return
        apply_plan(plan_course(course, observe=True), follow_up=False)
        time.sleep(1.5)
        accept_all_invites(sandbox, course.organisation)
        sandbox.world.wait_idle(timeout=10)
        for enrolment_id in course.enrolments.values_list("pk", flat=True):
            builds_refresh(enrolment_id=enrolment_id)


def test_faults_and_a_low_rate_limit_still_converge(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:

    # 10% of requests fail with a 5xx; Docker Hub allows 120 a minute.
    sandbox.world.config.update({"fault_rate": 0.1, "rate_limit": 120})
    # Retries in eager mode run at once; no test should sleep through a real backoff.
    monkeypatch.setattr("hubcourse.tasks.BACKOFF_BASE", 0)
    # As in a worker: a retry or a failure ends that task, not the caller and the rest of
    # the class (eager mode would otherwise raise them out of apply_plan).
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    size = 8
    make_class(sandbox, course, size)

    converge(sandbox, course, rounds=20)

    assert set(course.enrolments.values_list("state", flat=True)) == {
        OnboardingState.FIRST_BUILD_SUCCEEDED
    }
    made = created(sandbox)
    assert made["dockerhub.repository"] == size
    assert made["dockerhub.invite"] == size
    assert made["dockerhub.build_source"] == size
    with sandbox.world.lock:
        assert sum(sandbox.world.stats["faults"].values()) > 0  # faults really happened
