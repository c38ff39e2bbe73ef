from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """The last sign of life of a background process (a Celery worker, Celery beat)."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class AuditEvent(models.Model):
    """A change hubcourse made (or tried to make) outside: on Docker Hub or GitHub.

    Who asked (a person, or nobody for the engine's own work), what, on what, when, and how
    it ended. Messages are for people and never hold a secret.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "Done"
        NOOP = "noop", "Already so"
        # Not done, and not needed: hubcourse went another way, with a consequence the
        # message says ("new builds are found by polling instead").
        FALLBACK = "fallback", "Done another way"
        ERROR = "error", "Failed"

    course = models.ForeignKey(
        "accounts.Course", on_delete=models.CASCADE, null=True, blank=True, related_name="audit"
    )
    enrolment = models.ForeignKey(
        "accounts.Enrolment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit",
    )
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service = models.CharField(max_length=20)  # "Docker Hub", "GitHub"
    action = models.CharField(max_length=60)  # e.g. "repository.create"
    target = models.CharField(max_length=300)  # e.g. "revelare/docker101-ada"
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["course", "-created_at"], name="audit_course_recent"),
            models.Index(fields=["enrolment", "-created_at"], name="audit_enrolment_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target}: {self.outcome}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for Docker Hub's rate limit"
    DONE = "done", "Finished"
    FAILED = "failed", "Stopped by an error"


@dataclass(frozen=True)
class Progress:
    """How far a long job has come, in the one shape every page and the API show."""

    status: str
    label: str
    done: int
    total: int
    percent: int
    error: str
    retry_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Job(models.Model):
    """What every background job has: status, progress, the last error, and a lease.

    The lease (``lease_until``) makes sure one worker at a time works on a job: a worker
    takes it with a conditional update and gives it back after each chunk. ``lease_holder``
    names the worker that took it (hubcourse.workers), so the lease dies with that worker.
    """

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_holder = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, self.done * 100 // self.total)

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)

    def progress_label(self) -> str:
        """What the job is doing, in words (a job may say more than its status)."""
        return str(JobStatus(self.status).label)

    def progress(self) -> Progress:
        return Progress(
            status=self.status,
            label=self.progress_label(),
            done=self.done,
            total=self.total,
            percent=self.percent,
            error=self.error,
            retry_at=self.retry_at,
        )


class WebhookReceipt(models.Model):
    """A signed webhook delivery already acted on, kept to drop a replay: by its delivery id
    (GitHub re-sends on a timeout or a "Redeliver") and by the digest of its body (a captured
    body re-posted under a new delivery id is the same event)."""

    source = models.CharField(max_length=30)
    delivery_id = models.CharField(max_length=100)
    digest = models.CharField(max_length=64)
    event = models.CharField(max_length=50)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_id"], name="receipt_per_delivery"),
            models.UniqueConstraint(fields=["source", "digest"], name="receipt_per_body"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event} {self.delivery_id}"
