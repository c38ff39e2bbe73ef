"""Courses still building with a backend the build service retires, for the pages that tell
staff to move them (the organisation page; the course list reads each course's backend)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Course
from builds.backends import BACKENDS, moving_note, retiring_backends


@dataclass(frozen=True)
class Retiring:
    """The active courses on one retiring backend, and what moving them involves."""

    backend: str
    label: str
    note: str
    courses: list[Course]


def courses_to_move() -> list[Retiring]:
    """Every active course on a retiring backend, by backend, in one query."""
    by_backend: dict[str, list[Course]] = {}
    names = retiring_backends()
    for course in Course.objects.filter(archived_at__isnull=True, build_backend__in=names).order_by(
        "name", "pk"
    ):
        by_backend.setdefault(course.build_backend, []).append(course)
    return [
        Retiring(name, BACKENDS[name].label, moving_note(name), by_backend[name])
        for name in names
        if name in by_backend
    ]
