from __future__ import annotations

from django import template

from builds.models import Build

register = template.Library()


@register.filter
def build_duration(build: Build) -> str:
    """How long a finished build took; from its creation when the backend gave no start."""
    if build.finished_at is None:
        return ""
    seconds = int((build.finished_at - (build.started_at or build.created_at)).total_seconds())
    if seconds < 0:
        return ""
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
