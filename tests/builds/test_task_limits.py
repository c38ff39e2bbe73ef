"""Every registered task can be sent: Celery refuses a task whose soft time limit is above its
hard one, and beat then never sends it (polling silently stopped that way once)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from django.conf import settings

from hubcourse.celery import app


def _loaded_app() -> Celery:
    # Autodiscovery is lazy: import every app's tasks module as a worker does at start.
    app.loader.import_default_modules()
    return app


def inconsistent_limits(celery: Celery) -> dict[str, tuple[Any, Any]]:
    """Tasks (ours, not Celery's own) whose effective limits Celery would refuse to send."""
    bad: dict[str, tuple[Any, Any]] = {}
    for name, task in celery.tasks.items():
        if name.startswith("celery."):
            continue
        # Reading the attributes binds the task: unset limits take the settings' defaults,
        # exactly what apply_async compares.
        soft, hard = task.soft_time_limit, task.time_limit
        if soft and hard and soft > hard:
            bad[name] = (soft, hard)
    return bad


def test_every_registered_task_has_a_soft_limit_at_most_its_hard_limit() -> None:
    celery = _loaded_app()
    ours = [name for name in celery.tasks if not name.startswith("celery.")]

    assert "builds.poll_builds" in ours  # the modules were really loaded
    assert inconsistent_limits(celery) == {}


def test_the_check_finds_a_task_whose_hard_limit_is_under_the_default_soft_limit() -> None:
    scratch = Celery("scratch", set_as_current=False)
    scratch.conf.task_soft_time_limit = 120

    @scratch.task(name="scratch.too_short", time_limit=60)
    def too_short() -> None:
        """A hard limit under the default soft one: what B1 found on the poll sweep."""

    @scratch.task(name="scratch.fine", time_limit=60, soft_time_limit=50)
    def fine() -> None:
        """Both limits set, soft under hard."""

    assert inconsistent_limits(scratch) == {"scratch.too_short": (120, 60)}
    with pytest.raises(ValueError, match="soft_time_limit"):
        too_short.apply_async()


def test_every_beat_entry_names_a_registered_task() -> None:
    celery = _loaded_app()

    missing = {
        entry: spec["task"]
        for entry, spec in settings.CELERY_BEAT_SCHEDULE.items()
        if spec["task"] not in celery.tasks
    }

    assert missing == {}
