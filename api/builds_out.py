"""How a build reads in every answer that shows one."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from builds.models import Build


class BuildOutputSerializer(serializers.ModelSerializer[Build]):
    duration_seconds = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)
    # A URL when the backend gives one, else "" (not a "uri" then).
    log_url = serializers.CharField(read_only=True, help_text="The full log; empty if none.")

    class Meta:
        model = Build
        fields = (
            "id",
            "enrolment",
            "backend",
            "external_id",
            "state",
            "commit_sha",
            "branch",
            "tag",
            "digest",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "is_final",
            "stuck_at",
            "log_url",
            "log_excerpt",
        )
        read_only_fields = fields

    def get_duration_seconds(self, build: Build) -> float | None:
        duration: Any = build.duration
        return duration.total_seconds() if duration is not None else None
