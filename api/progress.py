"""The one progress shape of every long job (``hubcourse.models.Progress``), for the API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from hubcourse.models import Job, JobStatus


class ProgressSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=JobStatus.choices)
    # The metaclass takes declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField(help_text="What the job is doing, in words.")  # type: ignore[assignment]
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    retry_at = serializers.DateTimeField(
        allow_null=True, help_text="When a waiting job carries on by itself."
    )


class ProgressField(ProgressSerializer):
    """A job's ``progress()`` as a field of the job's serializer."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("source", "*")
        kwargs.setdefault("help_text", "The job's progress, in the shape of every job.")
        super().__init__(**kwargs)

    def to_representation(self, instance: Any) -> Any:
        progress = instance.progress() if isinstance(instance, Job) else instance
        return super().to_representation(progress)


def progress_body(job: Job | None) -> dict[str, Any] | None:
    return dict(ProgressSerializer(job.progress()).data) if job is not None else None
