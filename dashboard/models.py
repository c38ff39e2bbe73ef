"""What the staff pages keep between two requests: a roster import waiting for its
confirmation, a connection check, and an applied plan whose progress the page follows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Course


class RosterImport(models.Model):
    """A parsed roster, classified row by row, saved only when the instructor confirms."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking Docker IDs and repositories"
        READY = "ready", "Ready to confirm"
        APPLIED = "applied", "Imported"
        DISCARDED = "discarded", "Discarded"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="roster_imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=255)  # the file's name, or "pasted text"
    format = models.CharField(max_length=20)  # accounts.roster_parsing.Format
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=10)
    # One dict per record of the file: see accounts.roster_parsing.Row.as_dict.
    rows = models.JSONField(default=list)
    # What reading the file noticed as a whole (an encoding guessed, unreadable bytes).
    notices = models.JSONField(default=list, blank=True)
    # The outside checks' progress: rows to check, rows checked, and when they give up (the
    # rows left are then marked "not checked" and the preview is ready all the same).
    check_total = models.PositiveIntegerField(default=0)
    check_done = models.PositiveIntegerField(default=0)
    check_deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    # Why the outside checks could not run (the import can still be confirmed).
    check_error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"roster import {self.pk} for {self.course}"


class ConnectionCheck(models.Model):
    """One press of "Check connection": the doctor's results, run by a worker."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="connection_checks")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # [{"name", "ok", "message", "hint"}]
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"connection check {self.pk} for {self.course}"

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and all(r.get("ok") for r in self.results)


class ApplyRun(models.Model):
    """An instructor's "Apply": how many steps the plan had, so the page can show progress."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="apply_runs")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    total_steps = models.PositiveIntegerField()
    students = models.PositiveIntegerField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"apply {self.pk} on {self.course}"
