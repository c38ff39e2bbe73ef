from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from accounts.models import Enrolment, new_token


class BuildState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINAL_STATES = frozenset({BuildState.SUCCESS, BuildState.FAILED, BuildState.CANCELED})


class Build(models.Model):
    """One build of a student's image, as the build backend reports it."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="builds")
    backend = models.CharField(max_length=30)
    # The backend's own id: an autobuild action uuid, or a GitHub Actions run id.
    external_id = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=BuildState.choices, default=BuildState.QUEUED)
    commit_sha = models.CharField(max_length=64, blank=True)
    branch = models.CharField(max_length=255, blank=True)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log_excerpt = models.TextField(blank=True)
    log_url = models.URLField(max_length=500, blank=True)
    # Set when a build stays unfinished past the stuck limit.
    stuck_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "backend", "external_id"], name="one_row_per_backend_build"
            )
        ]
        indexes = [
            # The student page and the board's "latest build" per student, in the order both
            # read (newest first, the id breaking ties): a top-1 read with no sort per student.
            models.Index(fields=["enrolment", "-created_at", "-id"], name="build_enrolment_latest"),
            # Polling and the stuck-build sweep look only at unfinished builds.
            models.Index(
                fields=["state"],
                name="build_unfinished",
                condition=models.Q(state__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend} build {self.external_id} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class WebhookDelivery(models.Model):
    """A webhook we received, kept to drop repeats (GitHub re-sends the same delivery id)."""

    service = models.CharField(max_length=20)
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    received_at = models.DateTimeField(default=timezone.now)
    # SHA-256 of the signed body: a captured delivery replayed under a new delivery id is
    # the same body, recognised and dropped.
    body_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "delivery_id"], name="one_row_per_delivery"),
            models.UniqueConstraint(
                fields=["service", "body_digest"],
                condition=~models.Q(body_digest=""),
                name="one_row_per_signed_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.event} {self.delivery_id}"


class StudentBadge(models.Model):
    """The unguessable token of a student's public build badge."""

    enrolment = models.OneToOneField(Enrolment, on_delete=models.CASCADE, related_name="badge")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"badge of {self.enrolment}"


class BuildNotice(models.Model):
    """The last build outcome the student was told about: emails go out on changes only."""

    enrolment = models.OneToOneField(
        Enrolment, on_delete=models.CASCADE, related_name="build_notice"
    )
    # "success" or "failed": the outcome of ``build``.
    outcome = models.CharField(max_length=10, blank=True)
    # The newest finished build already looked at, so a repeated call sends nothing.
    build = models.ForeignKey(
        "builds.Build", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.enrolment}: last told {self.outcome or 'nothing'}"
