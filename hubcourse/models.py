from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of a background process (a Celery worker, Celery beat)."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
