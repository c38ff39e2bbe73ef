from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hubcourse.models import Heartbeat
from hubcourse.tasks import heartbeat, record_heartbeat

pytestmark = pytest.mark.django_db


def _beat(name: str, age_seconds: int) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now() - timedelta(seconds=age_seconds)}
    )


def test_it_is_healthy_when_everything_reports(client):
    _beat("worker", 5)
    _beat("beat", 5)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert 5 <= body["worker"]["age_seconds"] <= 7  # a loaded machine may take a second


def test_it_answers_503_when_no_worker_has_reported(client):
    _beat("beat", 5)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "no worker has reported yet"}


def test_it_answers_503_when_beat_is_stale(client):
    _beat("worker", 5)
    _beat("beat", 600)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "last heartbeat 600 s ago" in response.json()["beat"]["error"]


def test_it_answers_503_when_the_broker_is_unreachable(client, settings):
    _beat("worker", 1)
    _beat("beat", 1)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_the_heartbeat_task_records_the_worker():
    heartbeat.apply()
    assert Heartbeat.objects.get(name="worker").at > timezone.now() - timedelta(seconds=5)


def test_after_a_restart_only_heartbeats_of_this_run_count(client, settings):
    # make run gives its processes a run id; the last run's fresh-looking rows are not proof.
    settings.HUBCOURSE_RUN_ID = "earlier"
    record_heartbeat("worker")
    record_heartbeat("beat", "started")
    settings.HUBCOURSE_RUN_ID = "now"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["worker"] == {
        "ok": False,
        "error": "no worker of this run has reported yet",
    }

    record_heartbeat("worker")
    record_heartbeat("beat")
    assert client.get("/healthz").status_code == 200
    assert Heartbeat.objects.get(name="worker").detail == "run=now"
