"""The course's build settings as desired state: what each student's build was set up to do
(recorded by ``build_configure``) against what the course says now, in words.

The plan reads this (rows only, no outside call) and shows one row per change, ``before ->
after``; applying it runs the student's build set-up again, which converges the outside
(the automated-build rule updated in place, the managed workflow rewritten), and records
the new values. A change of build backend takes the old mechanism away and sets the new up.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Course
from builds.backends import data, get_backend
from builds.backends.data import AppliedBuild
from repositories.models import StudentRepository


@dataclass(frozen=True)
class BuildChange:
    """One setting of the student's build that differs from the course: ``setting before ->
    after``, as the plan shows it."""

    setting: str
    before: str
    after: str

    @property
    def words(self) -> str:
        return f"{self.setting} {self.before} -> {self.after}"


# (AppliedBuild field, Course field, the word people read), in the plan's order.
_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("branch", "build_branch", "branch"),
    ("dockerfile", "build_dockerfile", "Dockerfile"),
    ("context", "build_context", "context"),
    ("tag", "build_tag", "tag"),
)


def desired_build(course: Course) -> AppliedBuild:
    """The course's build settings, as a record of them would read once applied."""
    return AppliedBuild(
        backend=course.build_backend,
        branch=course.build_branch,
        dockerfile=course.build_dockerfile,
        context=course.build_context,
        tag=course.build_tag,
    )


def applied_build(repository: StudentRepository) -> AppliedBuild:
    return data.read(repository, AppliedBuild)


def record_applied(repository: StudentRepository, course: Course) -> None:
    """The student's build now does what the course says (after a successful set-up)."""
    wanted = desired_build(course)
    if applied_build(repository) != wanted:
        data.update(repository, AppliedBuild, **wanted.model_dump())


def _label(backend: str) -> str:
    try:
        return get_backend(backend).label
    except ValueError:
        return backend


def build_changes(course: Course, repository: StudentRepository) -> list[BuildChange]:
    """What the student's configured build does that the course no longer says.

    Nothing when nothing is recorded; a build set up before records were kept (marked
    ``verify`` by a migration) is checked once against every setting. A change of backend
    is one change: the new backend is set up with every current setting, so the others are
    not listed beside it.
    """
    applied = applied_build(repository)
    if repository.build_configured_at is None:
        return []
    if applied.verify:
        wanted = desired_build(course)
        return [
            BuildChange(
                "build",
                "(set up before hubcourse recorded it)",
                ", ".join(f"{word} {getattr(wanted, field)}" for field, _column, word in _SETTINGS),
            )
        ]
    if not applied.backend:
        return []
    if applied.backend != course.build_backend:
        return [BuildChange("build", _label(applied.backend), _label(course.build_backend))]
    wanted = desired_build(course)
    return [
        BuildChange(word, getattr(applied, field) or "(none)", getattr(wanted, field))
        for field, _column, word in _SETTINGS
        if getattr(applied, field) != getattr(wanted, field)
    ]


def previous_backend(course: Course, repository: StudentRepository) -> str:
    """The backend the student's build was last set up with, when the course has moved to
    another one ("" otherwise)."""
    applied = applied_build(repository)
    if applied.backend and applied.backend != course.build_backend:
        return applied.backend
    return ""
