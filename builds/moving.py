"""Moving a course's students from one build backend to another, in stages, as a plan.

A change of ``Course.build_backend`` is desired state (``builds.desired``), but a student is
moved only once an instructor lets them (:func:`move_admit`: a few first, a canary, then the
rest), and never left without a working build on the way:

1. *admitted*: the new backend is set up beside the old one (nothing of the old is removed)
   and its first build of the course's branch is started;
2. *waiting*: when that build is green, the old backend's build is taken away and the
   student's build is recorded as the new backend's (*moved*); when it fails, or the new
   backend cannot be set up for the student (no GitHub App installation, ...), what was set
   up beside is taken back and the student *kept* on the old backend, with the reason in
   words (their enrolment shows it as an error of the build set-up).

A move off a retiring backend waits for that first green build; a move back onto one (while
it still exists) does not: its rule is made again from the link that stayed, and then the
new backend's workflow is removed. Each stage is kept in the student's :class:`Move` (a part
of ``build_data``), so applying again continues where each student is and does nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, cast

from django.dispatch import Signal
from django.utils import timezone

from accounts.models import Course, Enrolment
from accounts.services import enrolment_clear_error, enrolment_record_error
from accounts.steps import StepName
from builds.backends import BuildBackend, BuildInfo, BuildNotReady, data, get_backend, retires_on
from builds.backends.base import ConfigureResult
from builds.backends.data import AppliedBuild, BackendData
from builds.desired import record_applied
from builds.models import BuildState
from repositories.models import StudentRepository

logger = logging.getLogger(__name__)

# Sent (with enrolment_id=) when the first build a student's move waits for has finished:
# the engine takes the move on at once rather than at the next periodic reconcile.
first_build_finished = Signal()

ADMITTED = "admitted"
WAITING = "waiting"
MOVED = "moved"
KEPT = "kept"


class Move(BackendData):
    """Where the student's move from ``origin`` to ``target`` is (blank stage: not started)."""

    key: ClassVar[str] = "move"
    origin: str = ""
    target: str = ""
    stage: str = ""
    # The new backend's first build, awaited while ``waiting``.
    run_id: str = ""
    # Why the student was kept on ``origin``, in words.
    reason: str = ""
    changed_at: dt.datetime | None = None


def label(name: str) -> str:
    try:
        return get_backend(name).label
    except ValueError:
        return name


def pending(course: Course, repository: StudentRepository | None) -> bool:
    """The student's configured build is another backend's than the course's."""
    if repository is None or repository.build_configured_at is None:
        return False
    applied = data.read(repository, AppliedBuild)
    return bool(applied.backend) and not applied.verify and applied.backend != course.build_backend


def move_of(course: Course, repository: StudentRepository) -> Move:
    """The student's move to the course's backend (a new, unstarted one when what is kept
    belongs to another move); a finished move stays readable as ``moved``."""
    kept = data.read(repository, Move)
    applied = data.read(repository, AppliedBuild)
    if kept.target == course.build_backend and (
        kept.origin == applied.backend or kept.stage == MOVED
    ):
        return kept
    return Move(origin=applied.backend, target=course.build_backend)


def waits_for_green(move: Move) -> bool:
    """A move off a retiring backend keeps it until the new backend's first build is green."""
    return retires_on(move.origin) is not None


def _save(repository: StudentRepository, move: Move, **changes: object) -> Move:
    values = {**move.model_dump(), **changes, "changed_at": timezone.now()}
    return data.update(repository, Move, **values)


def move_admit(course: Course, *, count: int | None = None) -> list[int]:
    """Let students start moving to the course's backend: ``count`` of those not started
    yet (in roster order), or, without ``count``, every one not moved yet (those kept on the
    old backend try again). Their enrolment ids; applying the plan then moves them."""
    admitted: list[int] = []
    repositories = StudentRepository.objects.filter(
        enrolment__course=course, build_configured_at__isnull=False
    ).order_by("enrolment__identifier", "pk")
    for repository in repositories:
        if count is not None and len(admitted) >= count:
            break
        if not pending(course, repository):
            continue
        move = move_of(course, repository)
        if move.stage in (ADMITTED, WAITING) or (move.stage == KEPT and count is not None):
            continue
        _save(repository, move, stage=ADMITTED, run_id="", reason="")
        admitted.append(repository.enrolment_id)
    return admitted


@dataclass(frozen=True)
class MoveOverview:
    """Where the course's students are in the move to its backend (rows only): what the
    plan page's move buttons would start, and how far it has come."""

    target_label: str
    not_started: frozenset[int]  # enrolment ids
    kept: frozenset[int]
    in_flight: int
    moved: int

    @property
    def any(self) -> bool:
        return bool(self.not_started or self.kept or self.in_flight)


def move_overview(course: Course) -> MoveOverview:
    not_started: set[int] = set()
    kept: set[int] = set()
    in_flight = moved = 0
    repositories = StudentRepository.objects.filter(
        enrolment__course=course, build_configured_at__isnull=False
    )
    for repository in repositories:
        move = move_of(course, repository)
        if not pending(course, repository):
            moved += move.stage == MOVED
            continue
        if move.stage == "":
            not_started.add(repository.enrolment_id)
        elif move.stage == KEPT:
            kept.add(repository.enrolment_id)
        else:
            in_flight += 1
    return MoveOverview(
        label(course.build_backend), frozenset(not_started), frozenset(kept), in_flight, moved
    )


def describe(course: Course, move: Move) -> str:
    """Where the student's move is, in words, for the plan and the board."""
    old, new = label(move.origin), label(move.target)
    if move.stage == "":
        return (
            f"waits until an instructor starts the move to {new} (a few students first, or "
            "the rest)"
        )
    if move.stage == ADMITTED:
        if waits_for_green(move):
            return (
                f"{new} is set up beside {old}, which stays until the first {new} build of "
                f"{course.build_branch} is green"
            )
        return f"{new} is set up again, then {old} is removed"
    if move.stage == WAITING:
        run = f" (run {move.run_id})" if move.run_id else ""
        return f"waiting for the first {new} build{run}: {old} stays until it is green"
    if move.stage == KEPT:
        return f"kept on {old}: {move.reason}"
    return f"moved to {new}"


# -- the student's own page ------------------------------------------------------------------


def plain_label(name: str) -> str:
    """The backend's label without its aside, for students: "GitHub Actions"."""
    return label(name).split(" (", 1)[0]


def set_up_with(course: Course, repository: StudentRepository | None) -> str:
    """The backend the student's build is set up with (mid-move the old one until they have
    moved); the course's when nothing is set up yet."""
    applied = data.read(repository, AppliedBuild).backend if repository is not None else ""
    return applied or course.build_backend


def build_way(course: Course, repository: StudentRepository | None) -> str:
    """How the student's image is built now, for their page (:func:`set_up_with`)."""
    return plain_label(set_up_with(course, repository))


@dataclass(frozen=True)
class StudentMove:
    """What the student's own page says of their build's move to the course's backend."""

    stage: str
    title: str
    text: str
    # What is theirs to do, in words ("" when nothing).
    todo: str = ""
    # The new backend's first build, awaited while moving ("" when not known yet).
    run_id: str = ""
    # True when the move waits on them (their step first), or stopped (kept).
    attention: bool = False


def for_student(enrolment: Enrolment, repository: StudentRepository | None) -> StudentMove | None:
    """The student's move in their words (rows only); None when their build is not moving,
    or has moved (their page then names the new way)."""
    course = enrolment.course
    if repository is None or not pending(course, repository):
        return None
    move = move_of(course, repository)
    old, new, branch = plain_label(move.origin), plain_label(move.target), course.build_branch
    if move.stage == "":
        # A backend that can tell from rows what the student must do before it can be set up
        # for them (the GitHub App on their repository) says it now, not at the move.
        first = cast(
            Callable[[Enrolment], str] | None,
            getattr(get_backend(move.target), "student_first", None),
        )
        step = first(enrolment) if first is not None else ""
        return StudentMove(
            stage=move.stage,
            title=f"Your build will move to {new}",
            text=(
                f"Your course is moving its builds from {old} to {new}. Your image keeps "
                f"building as now, on every push to {branch}; hubcourse moves your build to "
                f"{new} when your instructor starts it. Nothing to do unless you are asked."
            ),
            todo=(f"One step is yours before your build can move: {step}." if step else ""),
            attention=bool(step),
        )
    if move.stage in (ADMITTED, WAITING):
        if waits_for_green(move):
            # Only a move off the retiring backend waits, and that backend is automated builds.
            text = (
                f"Moving to {new}: your automated build keeps working until the first {new} "
                f"build of {branch} is green."
            )
        else:
            text = (
                f"Moving to {new}: hubcourse sets it up again, then removes {old} from your "
                "repository. Your image keeps building meanwhile."
            )
        return StudentMove(
            stage=move.stage,
            title=f"Your build is moving to {new}",
            text=text,
            run_id=move.run_id,
        )
    if move.stage == KEPT:
        return StudentMove(
            stage=move.stage,
            title=f"Your build stays on {old} for now",
            text=f"Your build was {describe(course, move).rstrip('.')}.",
            todo=(
                f"Your image keeps building with {old}, as before. If the reason is about your "
                f"repository or your Dockerfile, fix it and push to {branch}; your instructor "
                "then moves your build again. Otherwise there is nothing to do: your "
                "instructor sees the same reason."
            ),
            attention=True,
        )
    return None


def called_off(course: Course, repository: StudentRepository | None) -> Move | None:
    """The student's move under way when the course went back to the backend they are on:
    what was set up beside is to be taken back (None when there is nothing to call off)."""
    if repository is None or repository.build_configured_at is None:
        return None
    kept = data.read(repository, Move)
    applied = data.read(repository, AppliedBuild).backend
    if (
        kept.stage in (ADMITTED, WAITING)
        and kept.origin == course.build_backend == applied
        and kept.target != course.build_backend
    ):
        return kept
    return None


def call_off(enrolment: Enrolment, repository: StudentRepository, move: Move) -> ConfigureResult:
    """Take back what the called-off move set up beside the student's build."""
    _take_back(enrolment, get_backend(move.origin), get_backend(move.target))
    StudentRepository.objects.filter(pk=repository.pk, build_configured_at__isnull=True).update(
        build_configured_at=timezone.now()
    )
    data.clear(repository, Move)
    return ConfigureResult(changed=True)


# -- one student's step ------------------------------------------------------------------------


def _retire(enrolment: Enrolment, old: BuildBackend, new: BuildBackend) -> None:
    """Take the old backend's build away once the new one builds. A backend that can keep
    what the student linked (automated builds: the link to GitHub) does; otherwise it is
    removed, and the new one configured again for what the two shared (the Docker Hub
    webhook, the GitHub hook at the same address)."""
    retire = cast(Callable[[Enrolment], object] | None, getattr(old, "retire", None))
    if retire is not None:
        retire(enrolment)
        return
    old.remove(enrolment)
    new.configure(enrolment)


def _take_back(enrolment: Enrolment, old: BuildBackend, new: BuildBackend) -> None:
    """The new backend's set-up beside the old one is taken back, and the old one configured
    again for the hooks the two shared: the student builds as before."""
    new.remove(enrolment)
    old.configure(enrolment)


def _keep(enrolment: Enrolment, repository: StudentRepository, move: Move, reason: str) -> None:
    _save(repository, move, stage=KEPT, reason=reason)
    StudentRepository.objects.filter(pk=repository.pk, build_configured_at__isnull=True).update(
        build_configured_at=timezone.now()
    )
    enrolment_record_error(
        enrolment_id=enrolment.pk,
        step=StepName.CONFIGURE_BUILD,
        error=describe(enrolment.course, data.read(repository, Move)),
        permanent=False,
    )
    logger.info("enrolment %s kept on %s: %s", enrolment.pk, move.origin, reason)


def _first_run(runs: list[BuildInfo], move: Move) -> BuildInfo | None:
    if move.run_id:
        return next((r for r in runs if r.external_id == move.run_id), None)
    started = move.changed_at
    fresh = [r for r in runs if started is None or r.created_at is None or r.created_at >= started]
    return fresh[0] if fresh else None


def _failed_reason(new: BuildBackend, run: BuildInfo) -> str:
    words = "was cancelled" if run.state == BuildState.CANCELED else "failed"
    where = f": {run.log_url}" if run.log_url else ""
    return (
        f"its first {new.label} build (run {run.external_id}) {words}{where}. The automated "
        "build stays; fix the build, then move the rest again"
    )


def move_step(enrolment: Enrolment, repository: StudentRepository) -> ConfigureResult | None:
    """Take the student's move one stage on (the build set-up step runs this while the
    course's backend differs from the student's); a result once moved, else None.

    Passing failures are raised (the task retries, and the stage is unchanged, so the retry
    starts where this one stopped)."""
    course = enrolment.course
    move = move_of(course, repository)
    if move.stage not in (ADMITTED, WAITING):
        return None
    old, new = get_backend(move.origin), get_backend(move.target)
    if move.stage == ADMITTED:
        blocked = [text for level, text in new.preflight_findings(enrolment) if level == "error"]
        if blocked:
            _keep(enrolment, repository, move, " ".join(blocked))
            return None
        try:
            result = new.configure(enrolment)
        except BuildNotReady as why:
            _keep(enrolment, repository, move, str(why))
            return None
        if result.changed:
            # When it was set up, for the first build's look for the run its commit started.
            StudentRepository.objects.filter(pk=repository.pk).update(
                build_configured_at=timezone.now()
            )
        if not waits_for_green(move):
            return _finish(enrolment, repository, move, old, new)
        # Its own commit of the workflow started the run, or one is dispatched.
        run_id = new.trigger(enrolment) or ""
        move = _save(repository, move, stage=WAITING, run_id=run_id)
    try:
        runs = new.builds_since(enrolment, None)
    except BuildNotReady as why:
        _take_back(enrolment, old, new)
        _keep(enrolment, repository, move, str(why))
        return None
    run = _first_run(runs, move)
    if run is None or not run.is_final:
        if run is not None and not move.run_id:
            _save(repository, move, run_id=run.external_id)
        return None
    if run.state != BuildState.SUCCESS:
        _take_back(enrolment, old, new)
        _keep(enrolment, repository, move, _failed_reason(new, run))
        return None
    return _finish(enrolment, repository, move, old, new)


def _finish(
    enrolment: Enrolment,
    repository: StudentRepository,
    move: Move,
    old: BuildBackend,
    new: BuildBackend,
) -> ConfigureResult:
    _retire(enrolment, old, new)
    fresh = StudentRepository.objects.get(pk=repository.pk)
    StudentRepository.objects.filter(pk=fresh.pk, build_configured_at__isnull=True).update(
        build_configured_at=timezone.now()
    )
    record_applied(fresh, enrolment.course)
    _save(fresh, move, stage=MOVED, reason="")
    enrolment_clear_error(enrolment_id=enrolment.pk, step=StepName.CONFIGURE_BUILD)
    return ConfigureResult(changed=True)


def backend_now(course: Course, repository: StudentRepository) -> BuildBackend:
    """The backend whose builds of the student are read now: the old one until their move
    is done, but the new one while its first build is awaited (reading the course's new
    backend before would find nothing)."""
    if pending(course, repository) and move_of(course, repository).stage != WAITING:
        return get_backend(data.read(repository, AppliedBuild).backend)
    return get_backend(course.build_backend)


def backend_of(enrolment: Enrolment, repository: StudentRepository | None = None) -> BuildBackend:
    """The backend the student's builds come from now (:func:`backend_now`): what triggers,
    rebuilds and reads their builds, and labels them; the course's before they have a
    repository."""
    if repository is None:
        repository = StudentRepository.objects.filter(enrolment_id=enrolment.pk).first()
    if repository is None:
        return get_backend(enrolment.course.build_backend)
    return backend_now(enrolment.course, repository)


def holding(course: Course, repository: StudentRepository) -> list[BuildBackend]:
    """Every backend that may hold something of the student's build: the course's, the one
    their build was configured with, and, during a move, its origin and its target (what
    was set up beside). Offboarding removes through each (removal is idempotent)."""
    move = data.read(repository, Move)
    names = [course.build_backend, data.read(repository, AppliedBuild).backend]
    if move.stage in (ADMITTED, WAITING, KEPT):
        names += [move.target, move.origin]
    found: list[BuildBackend] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            found.append(get_backend(name))
        except ValueError:
            logger.warning("unknown build backend %r for repository %s", name, repository.pk)
    return found


def note_finished(enrolment: Enrolment, external_id: str) -> None:
    """A build of the student just finished: when it is the first build their move waits
    for, say so (``first_build_finished``)."""
    repository = StudentRepository.objects.filter(enrolment_id=enrolment.pk).first()
    if repository is None or not pending(enrolment.course, repository):
        return
    move = move_of(enrolment.course, repository)
    if move.stage == WAITING and move.run_id in ("", external_id):
        first_build_finished.send(sender=None, enrolment_id=enrolment.pk)
