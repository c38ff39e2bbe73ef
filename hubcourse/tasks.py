from __future__ import annotations

from celery import shared_task
from celery.signals import beat_init, before_task_publish
from django.conf import settings
from django.utils import timezone

from hubcourse.models import Heartbeat

HEARTBEAT_TASK = "hubcourse.tasks.heartbeat"


def run_tag() -> str:
    """How a heartbeat names the run that started its process (``make run`` sets one)."""
    return f"run={settings.HUBCOURSE_RUN_ID}" if settings.HUBCOURSE_RUN_ID else ""


def record_heartbeat(name: str, detail: str = "") -> None:
    # The run tag first, so the 200-character cut never loses it.
    detail = " ".join(part for part in (run_tag(), detail) if part)
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now(), "detail": detail[:200]}
    )


@shared_task(
    name=HEARTBEAT_TASK, acks_late=False, soft_time_limit=20, time_limit=30, ignore_result=True
)
def heartbeat() -> None:
    """Proves a worker is consuming tasks; beat sends it every few seconds."""
    record_heartbeat("worker")


@beat_init.connect
def _beat_started(sender: object, **kwargs: object) -> None:
    record_heartbeat("beat", "started")


@before_task_publish.connect
def _beat_published(sender: str | None = None, **kwargs: object) -> None:
    # Runs in whichever process publishes; only beat publishes the heartbeat task, so a
    # fresh "beat" row means beat is alive even while no worker runs.
    if sender == HEARTBEAT_TASK:
        record_heartbeat("beat")
