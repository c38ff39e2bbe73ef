"""A task really runs through the configured broker (Redis in CI) in a real worker."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from hubcourse.celery import app
from hubcourse.models import Heartbeat
from hubcourse.tasks import heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_task_runs_through_the_broker_in_a_real_worker(monkeypatch):
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        heartbeat.delay()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Heartbeat.objects.filter(name="worker").exists():
            time.sleep(0.2)
    assert Heartbeat.objects.filter(name="worker").exists(), (
        f"the task never ran through {settings.CELERY_BROKER_URL.split('://')[0]}://"
    )


def test_the_celery_settings_do_not_lose_work():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit
    if settings.CELERY_BROKER_URL.startswith("redis"):
        visibility = conf.broker_transport_options["visibility_timeout"]
        assert visibility > settings.CELERY_MAX_COUNTDOWN
