"""Build backends behind one interface, in one registry; the course's ``build_backend`` names one.

Adding a backend: write a module (or package) under ``builds/backends/`` with a class that
follows :class:`builds.backends.base.BuildBackend`, and register an instance below. The course
form, the API filter, the reconciler, webhooks, templates and the doctor find it here; nothing
outside ``builds/`` names a backend.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from builds.backends.autobuild import DockerHubAutobuild
from builds.backends.base import (
    BuildBackend,
    BuildInfo,
    BuildNotReady,
    ConfigureResult,
    StudentTask,
    WaitsOnStudent,
)
from builds.backends.github_actions import GitHubActions

if TYPE_CHECKING:
    from accounts.models import Course

# name -> backend, in the order the course form offers them.
BACKENDS: dict[str, BuildBackend] = {}
# What a new course builds with unless told otherwise: Docker retires automated builds on
# 1 April 2027, so a course started now would have to move before its term ends.
NEW_COURSE_BACKEND = "github-actions"


def register(backend: BuildBackend) -> BuildBackend:
    """Make ``backend`` available to courses under its ``name``."""
    if backend.name in BACKENDS and BACKENDS[backend.name] is not backend:
        raise ValueError(f"a build backend named {backend.name!r} is registered already")
    if len(backend.name) > 30:
        raise ValueError(f"build backend name {backend.name!r} is longer than the column")
    BACKENDS[backend.name] = backend
    return backend


def choices() -> list[tuple[str, str]]:
    """(name, label) of every registered backend, for forms and filters."""
    return [(name, backend.label) for name, backend in BACKENDS.items()]


def retires_on(name: str) -> dt.date | None:
    """The day the build service stops the backend, or None when none is announced."""
    day = getattr(BACKENDS.get(name), "retires_on", None)
    return day if isinstance(day, dt.date) else None


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def retirement_note(name: str) -> str:
    """A sentence for people choosing the backend, or "" when it is not retiring."""
    day = retires_on(name)
    if day is None:
        return ""
    return (
        f"Docker retires automated builds on {_day(day)}: a course whose term runs "
        f"past {_day(day - dt.timedelta(days=1))} cannot finish on them, and its students' "
        "images stop being built on push. Choose GitHub Actions for a new course; a course on "
        "automated builds must move before then."
    )


def moving_note(name: str) -> str:
    """What moving a course off a retiring backend involves, or "" when it is not retiring:
    the course list and the organisation page say it beside every course still on it."""
    day = retires_on(name)
    if day is None:
        return ""
    return (
        f"Still on automated builds, which Docker retires on {_day(day)}. To move, choose "
        f"“{BACKENDS[NEW_COURSE_BACKEND].label}” under “How images are built” in the course's "
        "settings; students install the hubcourse GitHub App on their repository; on the "
        "course's plan, move a few students first, then the rest: each student's "
        "automated-build rule is removed only once their first GitHub Actions build is green."
    )


def retiring_backends() -> list[str]:
    """The names of the backends with an announced retirement day."""
    return [name for name in BACKENDS if retires_on(name) is not None]


def get_backend(name: str) -> BuildBackend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown build backend {name!r}") from None


def backend_for(course: Course) -> BuildBackend:
    return get_backend(course.build_backend)


register(DockerHubAutobuild())
register(GitHubActions())

__all__ = [
    "BACKENDS",
    "NEW_COURSE_BACKEND",
    "BuildBackend",
    "BuildInfo",
    "BuildNotReady",
    "ConfigureResult",
    "StudentTask",
    "WaitsOnStudent",
    "backend_for",
    "choices",
    "get_backend",
    "moving_note",
    "register",
    "retirement_note",
    "retires_on",
    "retiring_backends",
]
