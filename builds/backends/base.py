"""The build backend interface: what hubcourse asks of whatever builds a student's image.

A backend acts on Docker Hub or GitHub and reports builds as :class:`BuildInfo` values; it
never writes ``Build`` rows or enrolment errors itself (``builds.services`` does, so every
backend is recorded the same way). What it configured for a student it keeps as it goes in
its own part of ``StudentRepository.build_data`` (a :class:`builds.backends.data.BackendData`
model under its own key), so a retry after a crash resumes instead of starting over; it
writes one audit event per outside change through ``hubcourse.audit``.

Nothing outside ``builds/`` asks which backend a course uses: the reconciler, webhooks,
templates and the doctor ask the backend object (``builds.backends.backend_for(course)``)
the questions below. A new backend is one module implementing this protocol and one
``register(...)`` line in ``builds/backends/__init__.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from builds.models import BuildState

if TYPE_CHECKING:
    from accounts.models import Course, Enrolment
    from repositories.models import StudentRepository


class BuildNotReady(Exception):
    """The student's pipeline has not reached this step yet (no repository, no GitHub repo).

    Not an outside failure: the task stops quietly and the periodic reconcile comes back.
    """


class WaitsOnStudent(BuildNotReady):
    """The next move is the student's (link the automated build, install the app): the step
    waits on them, and the periodic reconcile reads again. ``str(self)`` says what to do."""


@dataclass(frozen=True)
class StudentTask:
    """What the student's page shows about their build set-up: what to do, or what hubcourse
    did in their repository. ``values`` are (label, value) pairs to copy exactly."""

    title: str
    text: str
    values: tuple[tuple[str, str], ...] = ()
    link_url: str = ""
    link_label: str = ""
    # True while the build waits on the student (the "Build source" step is theirs).
    waiting: bool = False
    differences: tuple[str, ...] = ()
    # What the course's staff must change first, in words ("" when nothing).
    needs: str = ""


@dataclass(frozen=True)
class BuildInfo:
    """One build as the backend reports it, in hubcourse's words."""

    external_id: str
    state: BuildState
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    commit_sha: str = ""
    branch: str = ""
    tag: str = ""
    log_url: str = ""
    # The log, when the listing carries it (automated builds do): reading it costs no call.
    log: str = ""

    @property
    def is_final(self) -> bool:
        return self.state in (BuildState.SUCCESS, BuildState.FAILED, BuildState.CANCELED)


@dataclass(frozen=True)
class ConfigureResult:
    """What ``configure`` did: ``changed`` is False when everything was already in place."""

    changed: bool
    # The backend's handle on the configuration: an autobuild source uuid, a workflow commit.
    reference: str = ""


class BuildBackend(Protocol):
    """One way of building a student's image on every push to the course branch."""

    # The value stored in ``Course.build_backend`` (at most 30 characters); never renamed.
    name: str
    # What people read: the course form's choice, the class board, the offboarding preview.
    label: str
    # What offboarding removes besides the build itself, for the preview ("" for nothing).
    removal_note: str
    # Docker Hub's build calls need an Owner's own account (an organisation access token
    # cannot make them): the doctor says so before a course starts.
    needs_owner_account: bool
    # What the student's own team holds on their repository (team-per-student policy).
    student_team_permission: Literal["read", "write", "admin"]
    # Who runs the builds ("Docker Hub", "GitHub"): the audit log's service for a rebuild.
    service: str
    # The build service tells hubcourse each result by event (GitHub's workflow_run), so a
    # push needs no fast polling; otherwise a push is followed by reading until it is built.
    results_by_event: bool
    # GitHub token scopes the backend needs beyond reading repositories and adding webhooks:
    # (scope, any scope that grants it, what for).
    github_scopes: tuple[tuple[str, tuple[str, ...], str], ...]
    # hubcourse's GitHub push webhook is written by a task of its own after ``configure``
    # (``ensure_push_hook``, a second per write on the course's one token). A backend whose
    # results say nothing of a push (automated builds) needs it to know when to look; one
    # whose configure writes its own hook, or hears through the GitHub App, says False and
    # is never asked.
    needs_push_hook: bool

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        """Make the student's build exist as the course says; safe to run again."""
        ...

    def ensure_push_hook(self, enrolment: Enrolment) -> bool:
        """hubcourse's push webhook on the student's GitHub repository, asked only when
        ``needs_push_hook``; True when one was added. Safe to run again."""
        ...

    def trigger(self, enrolment: Enrolment) -> str | None:
        """Start a build now; return its external id (None if the backend only builds on push)."""
        ...

    def builds_since(self, enrolment: Enrolment, since: dt.datetime | None) -> list[BuildInfo]:
        """The student's recent builds created at or after ``since`` (all recent when None)."""
        ...

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        """One build's log as plain text (may be partial while it runs)."""
        ...

    def remove(self, enrolment: Enrolment) -> str | None:
        """Undo ``configure`` (offboarding); safe to run again. May return what was done, in
        words, when the offboarding record should say more than "removed"."""
        ...

    def forget(self, repository: StudentRepository, *, hub_repository_gone: bool) -> bool:
        """Forget what was configured once it no longer exists outside: the Docker Hub
        repository was deleted (``hub_repository_gone``) or the student changed their GitHub
        repository. True when the build must be configured again."""
        ...

    def has_configuration(self, repository: StudentRepository) -> bool:
        """Whether anything of this backend may be left for the student (offboarding)."""
        ...

    def build_from_webhook(
        self, course: Course, event: str, payload: dict[str, Any]
    ) -> BuildInfo | None:
        """A build read straight from a GitHub webhook delivery, or None when the delivery is
        only a hint to read the builds again (or not this backend's)."""
        ...

    def preflight_findings(self, enrolment: Enrolment) -> list[tuple[str, str]]:
        """(level, message) lines for the student's pre-flight report: whether hubcourse (or
        the student) will be able to set the build up, before anything is created."""
        ...

    def may_have_built(self, repository: StudentRepository) -> bool:
        """Whether a build hubcourse did not start can exist (rows only, no outside call):
        the first build's trigger reads the builds first only then. False only when nothing
        but hubcourse's own trigger can have started one yet."""
        ...

    def observe_drift(self, enrolment: Enrolment, repository: StudentRepository) -> bool:
        """Read whether what the backend manages in the student's repositories is still as it
        wrote it (the reconcile's observe pass), and keep the answer for ``drift``; True when
        the kept answer changed. A backend with nothing to read returns False at once."""
        ...

    def drift(self, repository: StudentRepository) -> tuple[str, ...]:
        """What someone changed in what the backend manages, in words, as last observed (rows
        only); configuring the build again undoes it."""
        ...

    def student_task(
        self, enrolment: Enrolment, repository: StudentRepository
    ) -> StudentTask | None:
        """What the student must do for their build, or must know hubcourse did in their
        repository; None when there is nothing to say. Reads rows only (no outside call)."""
        ...
