from __future__ import annotations

from django import template

from builds.models import Build
from hubcourse.text import duration

register = template.Library()


@register.filter
def build_duration(build: Build) -> str:
    """How long a finished build took; from its creation when the backend gave no start."""
    if build.finished_at is None:
        return ""
    return duration(build.finished_at - (build.started_at or build.created_at))
