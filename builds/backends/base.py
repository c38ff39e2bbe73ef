"""The build backend interface: what hubcourse asks of whatever builds a student's image.

A backend acts on Docker Hub or GitHub and reports builds as :class:`BuildInfo` values; it
never writes ``Build`` rows or enrolment errors itself (``builds.services`` does, so every
backend is recorded the same way). It may record what it configured on the student's
``StudentRepository`` row as it goes, so a retry after a crash resumes instead of starting
over, and it writes one audit event per outside change through ``hubcourse.audit``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from builds.models import BuildState

if TYPE_CHECKING:
    from accounts.models import Enrolment


class BuildNotReady(Exception):
    """The student's pipeline has not reached this step yet (no repository, no GitHub repo).

    Not an outside failure: the task stops quietly and the periodic reconcile comes back.
    """


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

    name: str

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        """Make the student's build exist as the course says; safe to run again."""
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
