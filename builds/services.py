"""Build services: configure a student's build, start the first one, and keep build rows fresh.

Status arrives three ways and ends up here: webhooks (``builds.webhooks``) mark a repository
as worth a look or hand over a signed run, adaptive polling (:func:`builds_claim_due`) looks
only at what can still change, and the periodic reconcile re-enqueues anything left behind.
Every path writes ``Build`` rows through :func:`build_record`, so a webhook and a poll that
race never make two rows or move a finished build backwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.db.models.functions import Least
from django.utils import timezone

from accounts.credentials import dockerhub_client_for
from accounts.models import Enrolment, GitHubAccess, PreflightState
from accounts.services import (
    enrolment_clear_error,
    enrolment_is_blocked,
)
from accounts.signals import note_observed
from accounts.steps import StepName
from builds import moving
from builds.backends import (
    BuildInfo,
    BuildNotReady,
    ConfigureResult,
    backend_for,
    get_backend,
)
from builds.desired import record_applied
from builds.models import FINAL_STATES, Build, BuildState
from builds.notifications import notify_build_outcome
from hubcourse.errors import ExternalServiceError
from repositories.models import StudentRepository

logger = logging.getLogger(__name__)


# Adaptive polling: a build that just started is looked at every poll_interval() (the
# BUILD_POLL_INTERVAL setting), an old one less often (a quarter of its age), never less often
# than POLL_MAX while it is unfinished.
# The task that re-reads one student's builds, queued by name (builds.tasks imports this module).
REFRESH_BUILDS_TASK = "builds.refresh_builds"
POLL_MAX = dt.timedelta(minutes=2)
# After a push, a build should appear; look for it this often, for this long.
PUSH_POLL = dt.timedelta(seconds=30)
RECENT_PUSH = dt.timedelta(minutes=10)
# A repository with nothing in flight is read again this rarely: it catches what no webhook
# reports (a failed automated build pushes no tag, so Docker Hub sends nothing).
IDLE_POLL = dt.timedelta(hours=6)
# A push announced a commit (the GitHub App's push event or the branch-head watcher): its
# build is looked for every expect_poll_interval() until it has finished, for at most this long.
EXPECT_FOR = dt.timedelta(minutes=30)
# How long a claimed poll waits for its task before the next tick may claim it again.
POLL_LEASE = dt.timedelta(minutes=2)
# A build unfinished this long after it was created is flagged as stuck.
STUCK_AFTER = dt.timedelta(hours=1)
# A first build claimed this long ago with nothing to show is started again.
TRIGGER_GRACE = dt.timedelta(minutes=10)
# Read back this far before the newest known build, for clocks that disagree a little.
SINCE_MARGIN = dt.timedelta(minutes=5)
LOG_EXCERPT_LINES = 40
# A finished build whose log is still missing is read again for this long after it ended.
DETAILS_RETRY = dt.timedelta(minutes=10)
# What a push prints with the pushed digest: docker push's "<tag>: digest: sha256:… size: …"
# (automated builds) and BuildKit's "pushing manifest for <image>:<tag>@sha256:… done"
# (docker/build-push-action).
_DIGEST = r"(sha256:[0-9a-f]{64})"

_UNFINISHED = (BuildState.QUEUED, BuildState.RUNNING)


def poll_interval() -> dt.timedelta:
    """How often a build in flight is read while it is young."""
    return dt.timedelta(seconds=settings.BUILD_POLL_INTERVAL)


def expect_poll_interval() -> dt.timedelta:
    """How often a student's builds are read while the build of a pushed commit is awaited."""
    return dt.timedelta(seconds=settings.BUILD_EXPECT_POLL_INTERVAL)


def poll_soon(enrolment_id: int, at: dt.datetime) -> None:
    """Bring the next read of the student's builds forward to ``at``; never pushes it back."""
    StudentRepository.objects.filter(enrolment_id=enrolment_id).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__gt=at)
    ).update(next_poll_at=at)


def _enrolment(enrolment_id: int) -> Enrolment | None:
    return Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()


def _may_run(enrolment: Enrolment | None) -> bool:
    """A student whose pipeline is stopped (failed pre-flight, permanent error) is left alone."""
    if enrolment is None or not enrolment.course.is_active:
        return False
    if enrolment.preflight_state == PreflightState.FAILED:
        return False
    return not enrolment_is_blocked(enrolment)


# -- configure and first build -----------------------------------------------------------------


def build_configure(*, enrolment_id: int) -> ConfigureResult | None:
    """Configure the student's build with the course's backend; None when not ready yet.

    Raises ``ExternalServiceError`` for the task to record and retry.
    """
    enrolment = _enrolment(enrolment_id)
    if not _may_run(enrolment):
        return None
    assert enrolment is not None
    course = enrolment.course
    known = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    if moving.pending(course, known):
        assert known is not None
        # The course moved to another backend: the student moves in stages (builds.moving),
        # keeping the build they have until the new one has built.
        moved = moving.move_step(enrolment, known)
        if moved is not None:
            StudentRepository.objects.filter(pk=known.pk).update(next_poll_at=timezone.now())
        return moved
    stale = moving.called_off(course, known)
    if stale is not None and known is not None:
        # The course went back before this student's move was done.
        return moving.call_off(enrolment, known, stale)
    try:
        result = backend_for(course).configure(enrolment)
    except BuildNotReady as why:
        logger.info("build configuration of enrolment %s waits: %s", enrolment_id, why)
        return None
    now = timezone.now()
    repository = StudentRepository.objects.get(enrolment_id=enrolment_id)
    # Look for a build at once only where one can exist; otherwise the first build's trigger,
    # next in the chain, sets when to look.
    changes: dict[str, object] = (
        {"next_poll_at": now} if backend_for(course).may_have_built(repository) else {}
    )
    if result.changed or repository.build_configured_at is None:
        changes["build_configured_at"] = now
    StudentRepository.objects.filter(pk=repository.pk).update(**changes)
    # What the build now does, for the plan to compare with the course's next change.
    record_applied(repository, course)
    enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.CONFIGURE_BUILD)
    return result


def build_push_hook(*, enrolment_id: int) -> bool:
    """hubcourse's push webhook on the student's GitHub repository, for a backend that needs
    one written apart (``needs_push_hook``: automated builds that hubcourse linked); True when
    one was added. Raises ``ExternalServiceError`` to retry."""
    enrolment = _enrolment(enrolment_id)
    if not _may_run(enrolment):
        return False
    assert enrolment is not None
    # The backend the student's build is set up with: mid-move the old one until they have
    # moved, so one kept on automated builds gets back the hook that taking back the new
    # backend's set-up removed (the two share its address).
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    backend = get_backend(moving.set_up_with(enrolment.course, repository))
    if not backend.needs_push_hook:
        return False
    try:
        return backend.ensure_push_hook(enrolment)
    except BuildNotReady:
        return False


def build_trigger_first(*, enrolment_id: int) -> str | None:
    """Start the student's first build unless one exists; the started build's id, or None.

    A conditional update claims the trigger, so two workers never start two builds. A claim
    that produced nothing (the worker died after claiming) is taken over after a grace time.
    """
    enrolment = _enrolment(enrolment_id)
    if not _may_run(enrolment):
        return None
    assert enrolment is not None
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    if repository is None or repository.build_configured_at is None:
        return None
    # Mid-move, the backend the student is on (builds.moving), not the course's.
    backend = moving.backend_of(enrolment, repository)
    now = timezone.now()
    if not Build.objects.filter(enrolment_id=enrolment_id).exists() and (
        repository.first_build_triggered_at is not None or backend.may_have_built(repository)
    ):
        # Only when a build can exist that this trigger would repeat (a push, an earlier
        # claim): a build source made a moment ago by hubcourse has none, and reading its
        # empty list would be one more call per student.
        try:
            for info in backend.builds_since(enrolment, None):
                build, just_finished = build_record(enrolment, info, backend=backend.name)
                if just_finished:
                    # A quick build may end before this first look: read its log now, as
                    # builds_refresh would have.
                    _finish_details(enrolment, build, info.log)
        except BuildNotReady:
            return None
    if Build.objects.filter(enrolment_id=enrolment_id).exists():
        # A push (or an earlier trigger) already built: nothing to start.
        StudentRepository.objects.filter(
            pk=repository.pk, first_build_triggered_at__isnull=True
        ).update(first_build_triggered_at=now)
        enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.TRIGGER_FIRST_BUILD)
        return None
    claimed = StudentRepository.objects.filter(
        Q(first_build_triggered_at__isnull=True)
        | Q(first_build_triggered_at__lt=now - TRIGGER_GRACE),
        pk=repository.pk,
    ).update(first_build_triggered_at=now, next_poll_at=now + poll_interval())
    if not claimed:
        return None
    try:
        external_id = backend.trigger(enrolment)
    except BaseException:
        # Give the claim back so the retry (or another worker) may start it.
        StudentRepository.objects.filter(pk=repository.pk, first_build_triggered_at=now).update(
            first_build_triggered_at=None
        )
        raise
    if external_id:
        build_record(
            enrolment,
            BuildInfo(external_id=external_id, state=BuildState.QUEUED),
            backend=backend.name,
        )
    enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.TRIGGER_FIRST_BUILD)
    return external_id


# -- recording builds --------------------------------------------------------------------------


def build_record(
    enrolment: Enrolment, info: BuildInfo, *, backend: str | None = None
) -> tuple[Build, bool]:
    """Create or update the build row from the report of ``backend`` (the one that built it;
    by default the one the student builds with now, which mid-move is not always the
    course's); (build, just finished).

    A finished build never goes back to running (a stale read after a webhook), and a new
    row is made once even when a webhook and a poll report it at the same moment.
    """
    backend = backend or moving.backend_of(enrolment).name
    tag = info.tag or enrolment.course.build_tag
    for _attempt in (1, 2):
        try:
            with transaction.atomic():
                build = (
                    Build.objects.select_for_update()
                    .filter(enrolment=enrolment, backend=backend, external_id=info.external_id)
                    .first()
                )
                if build is None:
                    created = Build.objects.create(
                        enrolment=enrolment,
                        backend=backend,
                        external_id=info.external_id,
                        state=info.state,
                        commit_sha=info.commit_sha,
                        branch=info.branch,
                        tag=tag,
                        created_at=info.created_at or timezone.now(),
                        started_at=info.started_at,
                        finished_at=info.finished_at,
                        log_url=info.log_url,
                    )
                    if not created.is_final:
                        # A refresh that read no build a moment ago may have set the idle
                        # interval: the new build in flight is looked at soon regardless.
                        poll_soon(enrolment.pk, timezone.now() + poll_interval())
                    recorded, just_finished = created, info.is_final
                else:
                    recorded, just_finished = build, _update(build, info, tag)
        except IntegrityError:
            continue  # the other reporter created it first: update that row
        if just_finished:
            # A move waiting for this build goes on (builds.moving).
            moving.note_finished(enrolment, info.external_id)
        return recorded, just_finished
    raise RuntimeError(f"could not record build {info.external_id}")  # pragma: no cover


def _update(build: Build, info: BuildInfo, tag: str) -> bool:
    was_final = build.state in FINAL_STATES
    if was_final and not info.is_final:
        return False
    changed: list[str] = []
    values = {
        "state": info.state,
        "commit_sha": info.commit_sha or build.commit_sha,
        "branch": info.branch or build.branch,
        "tag": tag if not build.tag else build.tag,
        "started_at": info.started_at or build.started_at,
        "finished_at": info.finished_at or build.finished_at,
        "log_url": info.log_url or build.log_url,
    }
    if info.is_final:
        # "Stuck" describes a build that is still unfinished.
        values["stuck_at"] = None
    for field, value in values.items():
        if getattr(build, field) != value:
            setattr(build, field, value)
            changed.append(field)
    if changed:
        build.save(update_fields=[*changed, "updated_at"])
    return info.is_final and not was_final


def digest_in_log(log: str, tag: str) -> str:
    """The digest a build's push printed for ``tag``, or "".

    The last one: the push comes after every build step, whose output the student's
    Dockerfile controls.
    """
    wanted = re.escape(tag)
    pattern = re.compile(rf"(?:^|\s){wanted}: digest: {_DIGEST}|:{wanted}@{_DIGEST}", re.MULTILINE)
    found = ""
    for match in pattern.finditer(log):
        found = match.group(1) or match.group(2)
    return found


def _finish_details(enrolment: Enrolment, build: Build, listed_log: str = "") -> None:
    """The log's tail and, for a success, the pushed digest: read once, when a build ends.

    A log the build listing carried already (automated builds list theirs) costs no call,
    and the digest the push printed in it spares the tag read.
    """
    log = listed_log if listed_log.strip() else _read_log(enrolment, build)
    fields: dict[str, str] = {}
    if log.strip():
        fields["log_excerpt"] = "\n".join(log.strip().splitlines()[-LOG_EXCERPT_LINES:])
    if build.state == BuildState.SUCCESS and not build.digest:
        tag = build.tag or enrolment.course.build_tag
        digest = digest_in_log(log, tag) or _read_digest(enrolment, build, tag)
        if digest:
            fields["digest"] = digest
    if fields:
        Build.objects.filter(pk=build.pk).update(**fields)


def _read_log(enrolment: Enrolment, build: Build) -> str:
    try:
        # The backend that ran the build: mid-move, not always the course's.
        return get_backend(build.backend).build_log(enrolment, build.external_id)
    except (ExternalServiceError, BuildNotReady, ValueError) as error:
        logger.info("no log for build %s: %s", build.pk, error)
        return ""


def _read_digest(enrolment: Enrolment, build: Build, tag: str) -> str:
    repository = StudentRepository.objects.filter(enrolment=enrolment).first()
    if repository is None:
        return ""
    try:
        pushed = dockerhub_client_for(enrolment.course).get_tag(
            repository.namespace, repository.name, tag
        )
    except ExternalServiceError as error:
        logger.info("no digest for build %s: %s", build.pk, error)
        return ""
    return pushed.digest or ""


def builds_refresh(*, enrolment_id: int) -> list[Build]:
    """Re-read the student's recent builds from the backend and record them.

    Returns the builds that changed to a final state. Sets when to look again.
    """
    enrolment = _enrolment(enrolment_id)
    if enrolment is None:
        return []
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    if repository is None or repository.build_configured_at is None:
        return []
    known = Build.objects.filter(enrolment_id=enrolment_id)
    oldest_open = known.filter(state__in=_UNFINISHED).aggregate(at=Min("created_at"))["at"]
    newest = known.order_by("-created_at").values_list("created_at", flat=True).first()
    anchor = oldest_open or newest
    since = anchor - SINCE_MARGIN if anchor else None
    backend = moving.backend_of(enrolment, repository)
    try:
        infos = backend.builds_since(enrolment, since)
    except BuildNotReady:
        return []
    finished: list[Build] = []
    to_detail: list[tuple[Build, str]] = []
    for info in infos:
        build, just_finished = build_record(enrolment, info, backend=backend.name)
        if just_finished:
            finished.append(build)
        if just_finished or _details_missing(build):
            to_detail.append((build, info.log))
    for build, log in to_detail:
        _finish_details(enrolment, build, log)
    now = timezone.now()
    expectation_met(repository)
    StudentRepository.objects.filter(pk=repository.pk).update(
        last_polled_at=now, next_poll_at=next_poll_at(enrolment_id, repository.last_pushed_at, now)
    )
    # A build recorded by another worker after the read above (the first build's trigger, a
    # webhook) was not counted in that value: work it out again and keep the sooner one.
    StudentRepository.objects.filter(pk=repository.pk).update(
        next_poll_at=Least(
            "next_poll_at", next_poll_at(enrolment_id, repository.last_pushed_at, now)
        )
    )
    if finished or infos:
        note_observed(enrolment_id)
        # Emails the student when the outcome changed (broken or fixed); idempotent.
        notify_build_outcome(enrolment_id=enrolment_id)
    return finished


def _details_missing(build: Build) -> bool:
    """A build final for a short while without its log: recorded from a webhook's payload
    (GitHub's ``workflow_run``), or its details' read was cut short. Bounded in time, so a
    log that cannot be read is not asked for on every poll."""
    return (
        build.is_final
        and not build.log_excerpt
        and build.updated_at >= timezone.now() - DETAILS_RETRY
    )


def _results_by_event(enrolment_id: int) -> bool:
    """The student's build results arrive as signed events: the course's backend sends them
    (GitHub Actions' workflow_run) and the GitHub App, installed on the repository, relays
    them."""
    enrolment = (
        Enrolment.objects.select_related("course")
        .only("github_access", "course__build_backend")
        .filter(pk=enrolment_id)
        .first()
    )
    return (
        enrolment is not None
        and enrolment.github_access == GitHubAccess.APP
        and backend_for(enrolment.course).results_by_event
    )


def next_poll_at(
    enrolment_id: int, last_pushed_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """When to read this student's builds again: soon while something can change, else rarely."""
    row = (
        StudentRepository.objects.filter(enrolment_id=enrolment_id)
        .values("expected_at", "first_build_triggered_at")
        .first()
    )
    expected_at = row["expected_at"] if row else None
    # Awaiting a pushed commit's build: it may appear and end any moment.
    awaiting = expected_at is not None and now - expected_at < EXPECT_FOR
    soonest = now + expect_poll_interval() if awaiting else now + IDLE_POLL
    open_since: dt.datetime | None = Build.objects.filter(
        enrolment_id=enrolment_id, state__in=_UNFINISHED
    ).aggregate(at=Min("created_at"))["at"]
    if open_since is not None:
        age = max(now - open_since, dt.timedelta(0))
        interval = poll_interval()
        if _results_by_event(enrolment_id):
            # The run's own workflow_run events bring its result: reading the run list is
            # only the net for a lost event, so every PUSH_POLL is soon enough.
            interval = max(interval, PUSH_POLL)
        return min(soonest, now + min(max(age / 4, interval), max(POLL_MAX, interval)))
    if awaiting:
        return soonest
    if last_pushed_at is not None and now - last_pushed_at < RECENT_PUSH:
        seen_after_push = Build.objects.filter(
            enrolment_id=enrolment_id, created_at__gte=last_pushed_at - SINCE_MARGIN
        ).exists()
        if not seen_after_push:
            return now + PUSH_POLL
    triggered = row["first_build_triggered_at"] if row else None
    if (
        triggered is not None
        and now - triggered < RECENT_PUSH
        and not Build.objects.filter(enrolment_id=enrolment_id).exists()
    ):
        # The first build was started but is not listed yet: look for it, not idle.
        return now + PUSH_POLL
    return now + IDLE_POLL


def build_expected(*, enrolment_id: int, sha: str, pushed_at: dt.datetime) -> bool:
    """A push of ``sha`` to the student's build branch: expect its build and read the
    student's builds often until it has finished. False for an older push than the one
    already expected (events may arrive out of order)."""
    now = timezone.now()
    updated = (
        StudentRepository.objects.filter(enrolment_id=enrolment_id)
        .filter(Q(expected_at__isnull=True) | Q(expected_at__lte=pushed_at))
        .exclude(expected_sha=sha, expected_at__isnull=False)
        .update(
            expected_sha=sha,
            expected_at=pushed_at,
            last_pushed_at=pushed_at,
            next_poll_at=now,
        )
    )
    return bool(updated)


def _same_commit(a: str, b: str) -> bool:
    # Docker Hub may list an abbreviated commit.
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def expectation_met(repository: StudentRepository) -> bool:
    """Stop awaiting the pushed commit once its build has finished (or after EXPECT_FOR)."""
    if repository.expected_at is None:
        return False
    fresh = StudentRepository.objects.filter(pk=repository.pk).values(
        "expected_sha", "expected_at"
    )[0]
    expected_sha, expected_at = fresh["expected_sha"], fresh["expected_at"]
    if expected_at is None:
        return False
    done = timezone.now() - expected_at >= EXPECT_FOR
    if not done:
        finished = Build.objects.filter(
            enrolment_id=repository.enrolment_id,
            state__in=FINAL_STATES,
            created_at__gte=expected_at - SINCE_MARGIN,
        ).values_list("commit_sha", "created_at")
        # Without a commit to match (a rebuild of the branch head, a build that names none),
        # any build started after the expectation counts.
        done = any(
            _same_commit(sha, expected_sha) if sha and expected_sha else created_at >= expected_at
            for sha, created_at in finished
        )
    if not done:
        return False
    # Conditional on the expectation read: a newer push meanwhile stays expected.
    StudentRepository.objects.filter(
        pk=repository.pk, expected_sha=expected_sha, expected_at=expected_at
    ).update(expected_sha="", expected_at=None)
    return True


# -- polling, pushes and stuck builds ------------------------------------------------------------


def builds_claim_due(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Enrolment ids whose builds are due a look, each claimed for ``POLL_LEASE``.

    The claim (a conditional update of ``next_poll_at``) keeps the next tick, or a second
    beat, from enqueueing the same repository again while its task waits in the queue.
    """
    now = now or timezone.now()
    due = list(
        StudentRepository.objects.filter(
            next_poll_at__lte=now,
            build_configured_at__isnull=False,
            enrolment__course__archived_at__isnull=True,
        )
        .order_by("next_poll_at")
        .values_list("pk", "enrolment_id", "next_poll_at")[:limit]
    )
    claimed: list[int] = []
    for pk, enrolment_id, was in due:
        if StudentRepository.objects.filter(pk=pk, next_poll_at=was).update(
            next_poll_at=now + POLL_LEASE
        ):
            claimed.append(enrolment_id)
    return claimed


def repositories_note_push(
    *, course_id: int, github_repo: str, at: dt.datetime | None = None
) -> list[int]:
    """A push to a student's GitHub repository: look at their builds now; their enrolment ids."""
    at = at or timezone.now()
    ids = list(
        Enrolment.objects.filter(course_id=course_id, github_repo__iexact=github_repo).values_list(
            "pk", flat=True
        )
    )
    StudentRepository.objects.filter(enrolment_id__in=ids).update(
        last_pushed_at=at, next_poll_at=at
    )
    return ids


def repositories_note_image_push(
    *, course_id: int, namespace: str, name: str, at: dt.datetime | None = None
) -> list[int]:
    """Docker Hub says a tag was pushed to ``namespace/name``: the caller queues a read of
    that student's builds now. Until that read sets the next look, the row is held as a
    poll's claim is (``POLL_LEASE``), so the sweep does not queue a second read of the same
    push, and looks again if the queued one is lost."""
    at = at or timezone.now()
    rows = StudentRepository.objects.filter(
        enrolment__course_id=course_id, namespace__iexact=namespace, name__iexact=name
    )
    ids = list(rows.values_list("enrolment_id", flat=True))
    rows.update(next_poll_at=at + POLL_LEASE)
    return ids


def builds_flag_stuck(*, now: dt.datetime | None = None, after: dt.timedelta = STUCK_AFTER) -> int:
    """Flag builds still unfinished ``after`` their creation; how many were newly flagged."""
    now = now or timezone.now()
    return Build.objects.filter(
        state__in=_UNFINISHED, stuck_at__isnull=True, created_at__lt=now - after
    ).update(stuck_at=now)
