from __future__ import annotations

from celery import shared_task
from celery.signals import beat_init, before_task_publish
from django.utils import timezone

from hubcourse.models import Heartbeat

HEARTBEAT_TASK = "hubcourse.tasks.heartbeat"


def record_heartbeat(name: str, detail: str = "") -> None:
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


# GitHub lets a delivery be redelivered for three days; a week of receipts drops every replay
# GitHub can send, and the table stays small.
WEBHOOK_RECEIPT_DAYS = 7


@shared_task(
    name="hubcourse.prune_webhook_receipts", soft_time_limit=60, time_limit=90, ignore_result=True
)
def prune_webhook_receipts() -> int:
    """Forget webhook receipts older than the redelivery window."""
    from datetime import timedelta

    from hubcourse.models import WebhookReceipt

    cutoff = timezone.now() - timedelta(days=WEBHOOK_RECEIPT_DAYS)
    deleted, _ = WebhookReceipt.objects.filter(received_at__lt=cutoff).delete()
    return deleted
