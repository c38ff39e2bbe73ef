"""Reliability of a move (issue 15): a real worker moving a class from Docker Hub automated
builds to GitHub Actions is SIGKILLed mid-move and restarted; the class still converges
(every student moved, or kept on automated builds with the reason) and nothing hubcourse
makes in a repository (workflow, secret, variable, webhook, rule) is there twice."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Course
from builds import moving
from builds.backends import data
from hubcourse.celery import app
from tests.builds.test_move_class import (
    fail_next_run,
    no_duplicates_in,
    onboard_on_automated_builds,
    repositories,
    rules,
    runs,
    stages,
    switch_to_actions,
    workflow_files,
)
from tests.engine.support import created
from tests.engine.test_reliability import _database_url, _kill, _start_worker

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 20
# Generous for a loaded 2-core machine; the loop ends by itself when the class has settled.
CONVERGE_BOUND_SECONDS = 240


@pytest.mark.timeout(900)
def test_a_worker_killed_mid_move_converges_after_restart_with_no_duplicates(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    url = _database_url()
    if url is None:
        pytest.skip("the test database is in memory: a worker process cannot open it")
    # Onboarded on automated builds in this process first (eager tasks), then the worker moves.
    onboard_on_automated_builds(sandbox, course, SIZE)
    switch_to_actions(course)
    failing = repositories(course)[SIZE // 2]
    fail_next_run(sandbox, failing, "process did not complete successfully: exit code 1")
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    # Slow enough that the kill lands while the class is being set up.
    sandbox.world.config.update({"latency_ms": 40, "build_delay": 1.0})
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
    from onboarding.courses import course_move

    before = created(sandbox)

    def made(kind: str) -> int:
        return created(sandbox).get(kind, 0) - before.get(kind, 0)

    worker = _start_worker(env, log)
    try:
        course_move(course=course, actor=None, count=None)
        # Kill it once some (not all) students' Actions secrets exist: mid-move.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and made("github.secrets") < 2:
            time.sleep(0.05)
        assert 0 < made("github.secrets") < SIZE, "too late (or too early) to kill"
        _kill(worker)
        worker = _start_worker(env, log)
        _converge_with_worker(sandbox, course, bound=CONVERGE_BOUND_SECONDS)
    finally:
        if worker.poll() is None:
            _kill(worker)

    everyone = repositories(course)
    assert {moving.MOVED, moving.KEPT} >= set(stages(course)), (
        stages(course),
        log.read_text()[-3000:],
    )
    for repository in everyone:
        repository.refresh_from_db()
        move = data.read(repository, moving.Move)
        name = repository.full_name
        if repository.pk == failing.pk:
            assert move.stage == moving.KEPT, name
            assert "failed" in move.reason and "automated build stays" in move.reason, name
            assert rules(sandbox)[name] == 1, name
            assert workflow_files(sandbox, repository) == [], name
        else:
            assert move.stage == moving.MOVED, (name, move)
            assert rules(sandbox)[name] == 0, name
            assert ("completed", "success") in runs(sandbox, repository), name
        no_duplicates_in(sandbox, repository)
    assert made("dockerhub.build_setting") == 0
    assert made("dockerhub.build_source") == 0
    # Each student's secret was made once, whatever the kill cut short.
    assert made("github.secrets") == SIZE
    # Nothing ran twice: one workflow run each.
    assert [len(runs(sandbox, r)) for r in everyone] == [1] * SIZE


def _converge_with_worker(sandbox: Any, course: Course, *, bound: float) -> None:
    """Periodic passes (as beat would send them) until no student's move is under way,
    within ``bound`` seconds."""
    from builds.services import builds_refresh
    from onboarding.engine import apply_plan, plan_course

    under_way = {"", moving.ADMITTED, moving.WAITING}
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if not under_way & set(stages(course)):
            return
        apply_plan(plan_course(course, observe=True), follow_up=False)
        time.sleep(1.5)
        sandbox.world.wait_idle(timeout=10)
        for enrolment_id in course.enrolments.values_list("pk", flat=True):
            builds_refresh(enrolment_id=enrolment_id)
