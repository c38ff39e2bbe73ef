from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hubcourse.models import Heartbeat
from hubcourse.tasks import heartbeat, record_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, site_admin):
    """The details are for a signed-in site admin (anyone else gets the status alone)."""
    client.force_login(site_admin)
    return client


def _beat(name: str, age_seconds: int) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now() - timedelta(seconds=age_seconds)}
    )


def test_it_is_healthy_when_everything_reports(staff):
    _beat("worker", 5)
    _beat("beat", 5)
    response = staff.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert 5 <= body["worker"]["age_seconds"] <= 7  # a loaded machine may take a second


def test_it_answers_503_when_no_worker_has_reported(staff):
    _beat("beat", 5)
    response = staff.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "no worker has reported yet"}


def test_it_answers_503_when_beat_is_stale(staff):
    _beat("worker", 5)
    _beat("beat", 600)
    response = staff.get("/healthz")
    assert response.status_code == 503
    assert "last heartbeat 600 s ago" in response.json()["beat"]["error"]


def test_it_answers_503_when_the_broker_is_unreachable(staff, settings):
    _beat("worker", 1)
    _beat("beat", 1)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = staff.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_the_heartbeat_task_records_the_worker():
    heartbeat.apply()
    assert Heartbeat.objects.get(name="worker").at > timezone.now() - timedelta(seconds=5)


def test_after_a_restart_only_heartbeats_of_this_run_count(admin_client, settings):
    client = admin_client  # the details are for a signed-in administrator
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


def test_an_anonymous_caller_gets_the_status_only(client):
    _beat("worker", 5)
    _beat("beat", 600)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}
    _beat("beat", 5)
    assert client.get("/healthz").json() == {"status": "ok"}
