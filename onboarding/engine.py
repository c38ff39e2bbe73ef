"""The reconciler: what the course wants (the database) against what is there (observed).

``observe_course`` refreshes the observed rows from Docker Hub in bulk: a handful of
paginated list calls per course (members, pending invites, teams, the course team's
members, the organisation's repositories, the teams' repository permissions), never one
call per student. ``plan_course`` then compares the rows with the desired state and lists
the steps, each ``create``/``change``/``delete``/``no-op`` with a target and a reason, for a
course or one student; it reads only the database. ``apply_plan`` enqueues the work: the
course-level steps (teams, then one bulk invite) and, per student, a Celery chain of the
steps in handout order, students in parallel.

Nothing here remembers what is in flight except a short lease per student (in the shared
cache) that stops a second pass from enqueueing a chain that is already queued. Every step
renews it as it starts (and for as long as a retry waits), a chain that fails releases it.
The lease names the worker that holds the chain's current message: when that worker dies
(SIGKILL, a lost machine) the lease dies with it, and the reconcile that a restarted worker
(or beat's sweep, hubcourse/workers.py) queues finds the same work again from the database
in seconds. A chain that dies unseen otherwise (a lost message) lets its lease run out within
``PIPELINE_LEASE_SECONDS``. Each chain carries its lease's token, so a step of a superseded
chain (the killed worker's message, redelivered hours later) stops rather than run beside
the new one.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

from celery import chain, current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts import managed
from accounts.credentials import dockerhub_client_for
from accounts.models import Course, Enrolment, InviteState, ManagedResource, PreflightState
from accounts.seats import record_seat_usage
from accounts.services import applied_team_names, course_record_old_teams
from accounts.steps import StepName
from builds import moving
from builds.backends import backend_for
from builds.desired import build_changes
from builds.models import Build
from hubcourse import workers
from hubcourse.errors import NotFound
from hubcourse.tasks import enqueue_on_commit
from integrations.dockerhub.client import DockerHubClient, Invite, Team, TeamRepository
from integrations.dockerhub.client import Repository as HubRepository
from onboarding.state import enrolment_refresh_state
from onboarding.steps import PIPELINE, STEPS
from repositories.models import StudentRepository
from repositories.services import (
    grant_changes,
    old_course_team_replaced,
    old_course_team_stays,
)

log = logging.getLogger(__name__)

# "adopt": it exists on Docker Hub but this course did not make it. Never applied: it waits
# for a site admin's adoption (accounts.managed), and nothing that depends on it is planned.
Kind = Literal["create", "change", "delete", "no-op", "adopt"]
# Who a step that hubcourse cannot do waits on: the student (their handout step), or a
# person of the course (a step stopped until someone fixes the cause and retries).
WaitsOn = Literal["", "student", "instructor"]

INVITE_TTL = dt.timedelta(days=14)
# How long a queued chain keeps other passes from queueing the same student again, counted
# from its last sign of life (each step renews it). It covers one step's wait in a long queue
# (a class of hundreds queues hundreds of steps at once); a dead chain's lease runs out this
# soon after its last step started (settings.HUBCOURSE_PIPELINE_LEASE overrides it).
PIPELINE_LEASE_SECONDS = 5 * 60
# After pre-flight checks are queued, look again this much later so the students who
# passed are invited together in one bulk call.
FOLLOW_UP_SECONDS = 20
# The engine queues its tasks by name (onboarding.tasks registers them and imports this module):
# the course tasks, and each step's task name from the step registry.
ENSURE_TEAMS_TASK = "onboarding.course.ensure_teams"
INVITE_TASK = "onboarding.course.invite"
RECONCILE_COURSE_TASK = "onboarding.course.reconcile"
RECONCILE_STUDENT_TASK = "onboarding.enrolment.reconcile"
PIPELINE_DONE_TASK = "onboarding.step.done"
# The priority of a chain's last task (each step's own is in the registry, steps.py).
DONE_PRIORITY = 3
# How many students of one course have a chain queued or running at once
# (settings.HUBCOURSE_CHAINS_PER_COURSE overrides it; 0: no limit). The broker serves a
# priority in the order it was queued, so a course that queued all its chains first would
# hold the shared Docker Hub budget until its last student is done while the courses
# applied a moment later wait (a term's start: bench/term_start.py). With a window, each
# course has at most this many in the queue and the courses' chains take turns; the end of a
# chain queues the course's next students (``REFILL_TASK``). It is larger than the chains one
# budget keeps busy (about one student a second at 600 calls a minute, a chain's life of
# tens of seconds when the class waits on GitHub's writes a second apart).
CHAINS_PER_COURSE = 50
REFILL_TASK = "onboarding.course.refill"
# Chains ending within this many seconds share one refill pass.
REFILL_DELAY_SECONDS = 2


@dataclass(frozen=True)
class PlanStep:
    enrolment_id: int | None
    step: str
    kind: Kind
    target: str
    reason: str
    waits_on: WaitsOn = ""
    # A course setting this step moves for the student, as "setting before -> after"
    # ("tag", "latest", "week1"); blank for steps that only create or wait.
    setting: str = ""
    before: str = ""
    after: str = ""

    @property
    def change(self) -> str:
        """The setting's move in words ("tag latest -> week1"), or ""."""
        return f"{self.setting} {self.before} -> {self.after}" if self.setting else ""

    @property
    def actionable(self) -> bool:
        return self.kind not in ("no-op", "adopt")


@dataclass
class Plan:
    course_id: int
    course_slug: str
    steps: list[PlanStep] = field(default_factory=list)
    # enrolment id -> the roster identifier, for printing.
    labels: dict[int, str] = field(default_factory=dict)

    @property
    def actionable(self) -> list[PlanStep]:
        return [s for s in self.steps if s.actionable]

    @property
    def waiting(self) -> list[PlanStep]:
        """Steps hubcourse cannot do: someone (mostly the student) must act first."""
        return [s for s in self.steps if s.waits_on]

    @property
    def settled(self) -> bool:
        """Nothing to apply and nobody waited on: only then is the course as it says."""
        return not self.actionable and not self.waiting

    def for_enrolment(self, enrolment_id: int) -> list[PlanStep]:
        return [s for s in self.steps if s.enrolment_id == enrolment_id]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.kind] = counts.get(step.kind, 0) + 1
        return counts

    def render(self) -> str:
        """The plan as text a person reads: one line per step, grouped by student."""
        lines = [f"Plan for course {self.course_slug}:"]
        for step in self.steps:
            who = "course" if step.enrolment_id is None else self.labels[step.enrolment_id]
            lines.append(f"  {who:<32} {step.step:<12} {step.kind:<7} {step.target}: {step.reason}")
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        lines.append(f"{len(self.actionable)} step(s) to apply ({summary or 'nothing'}).")
        students = {s.enrolment_id for s in self.waiting if s.waits_on == "student"}
        stopped = {s.enrolment_id for s in self.waiting if s.waits_on == "instructor"}
        if students:
            lines.append(f"{len(students)} student(s) waited on: they must do a handout step.")
        if stopped:
            lines.append(f"{len(stopped)} student(s) stopped until a person fixes and retries.")
        return "\n".join(lines)


# -- observe ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    calls: int
    changed_rows: int


def observe_course(course: Course) -> Observation:
    """Refresh the course's observed rows from Docker Hub with a few bulk reads."""
    client = dockerhub_client_for(course)
    org = course.organisation
    calls = 0
    listed = client.list_teams(org)
    # Before the ids follow the settings: a renamed team's old name is kept for its deletion.
    course_record_old_teams(course, applied_team_names(course, listed))
    teams = {t.name.lower(): t for t in listed}
    # Invitations before members: a student who accepts between the two reads is then in
    # both lists (and a member wins), not in neither (and taken for a cancelled invitation).
    invites = {i.invitee.lower(): i for i in client.list_invites(org)}
    members = {
        m.username.lower() for m in client.list_members(org) if m.username and not m.is_invitee
    }
    # Every member and pending invitation holds a paid seat: the pages that invite read this.
    record_seat_usage(org, members=len(members), invites=len(invites))
    # By name: the default order (last updated first) moves repositories between pages while
    # the class builds, and a page boundary then skips some of them.
    repos = {r.name.lower(): r for r in client.list_repositories(org.lower(), ordering="name")}
    calls += 4
    course_team = teams.get(course.team.lower())
    instructors = teams.get(course.instructors_team.lower())
    course_team_members: set[str] = set()
    team_repos: dict[str, str] = {}
    instructor_repos: dict[str, str] = {}
    if course_team is not None:
        course_team_members = {
            m.username.lower() for m in client.list_team_members(org, course_team.name)
        }
        calls += 1
        if course.access_policy == Course.AccessPolicy.COURSE_TEAM:
            team_repos = _short_names(client.list_team_repositories(org, course_team.name))
            calls += 1
    if instructors is not None:
        instructor_repos = _short_names(client.list_team_repositories(org, instructors.name))
        calls += 1
    Course.objects.filter(pk=course.pk).update(
        team_id=course_team.id if course_team else None,
        instructors_team_id=instructors.id if instructors else None,
        last_synced_at=timezone.now(),
        last_sync_error="",
    )
    course.refresh_from_db()

    now = timezone.now()
    changed = 0
    enrolments = list(course.enrolments.exclude(docker_id="").select_related("repository"))
    calls += _confirm_missing(client, enrolments, repos)
    for enrolment in enrolments:
        docker_id = enrolment.docker_id.lower()
        updates = _observed_membership(
            enrolment, docker_id, members, invites, course_team_members, course, now
        )
        repo_updates: dict[str, object] = {}
        repository = getattr(enrolment, "repository", None)
        if repository is not None:
            repo_updates = _observed_repository(
                course, repository, repos, teams, team_repos, instructor_repos, now
            )
        else:
            name = course.repository_name(enrolment.docker_id)
            full_name = f"{org.lower()}/{name}"
            if name.lower() in repos and not managed.owned(
                course, managed.Kind.REPOSITORY, full_name
            ):
                # Someone else's repository by the name this student's would have.
                managed.record_found(course, managed.Kind.REPOSITORY, full_name)
        if repository is not None and _observe_drift(course, enrolment, repository):
            changed += 1
        if updates or repo_updates:
            changed += 1
            with transaction.atomic():
                if updates:
                    Enrolment.objects.filter(pk=enrolment.pk).update(**updates, updated_at=now)
                if repo_updates and repository is not None:
                    StudentRepository.objects.filter(pk=repository.pk).update(**repo_updates)
            enrolment_refresh_state(enrolment_id=enrolment.pk)
    return Observation(calls=calls, changed_rows=changed)


def _observe_drift(course: Course, enrolment: Enrolment, repository: StudentRepository) -> bool:
    """Whether what the backend manages for the student was changed outside (its own reads,
    see ``observe_drift``). Not while the course's build settings have moved: configuring
    the build again rewrites it anyway, and it would differ for that reason alone."""
    if repository.build_configured_at is None or build_changes(course, repository):
        return False
    return backend_for(course).observe_drift(enrolment, repository)


def _confirm_missing(
    client: DockerHubClient, enrolments: list[Enrolment], repos: dict[str, HubRepository]
) -> int:
    """Read back each repository the rows say exists but the listing lacks; the calls made.

    A listing taken while repositories come and go may still miss one, and a repository
    believed deleted has its whole pipeline redone. Only a confirmed absence counts; in a
    quiet class this costs nothing.
    """
    calls = 0
    for enrolment in enrolments:
        repository: StudentRepository | None = getattr(enrolment, "repository", None)
        if repository is None or repository.created_at is None:
            continue
        if repository.name.lower() in repos:
            continue
        calls += 1
        try:
            repos[repository.name.lower()] = client.get_repository(
                repository.namespace, repository.name
            )
        except NotFound:
            continue
    return calls


def _short_names(rows: Iterable[TeamRepository]) -> dict[str, str]:
    # Team repository rows name "namespace/name" (or only "name"): key by the name.
    result: dict[str, str] = {}
    for row in rows:
        result[row.repository.rsplit("/", 1)[-1].lower()] = row.permission
    return result


def _observed_membership(
    enrolment: Enrolment,
    docker_id: str,
    members: set[str],
    invites: dict[str, Invite],
    course_team_members: set[str],
    course: Course,
    now: dt.datetime,
) -> dict[str, object]:
    updates: dict[str, object] = {}
    if docker_id in members:
        if enrolment.member_at is None:
            updates["member_at"] = now
        if enrolment.invite_state != InviteState.ACCEPTED:
            updates["invite_state"] = InviteState.ACCEPTED
        if enrolment.docker_id_verified_at is None:
            updates["docker_id_verified_at"] = now
        if course.access_policy == Course.AccessPolicy.COURSE_TEAM:
            in_team = docker_id in course_team_members
            if in_team and enrolment.team_at is None:
                updates["team_at"] = now
            elif not in_team and enrolment.team_at is not None:
                updates["team_at"] = None
        return updates
    if enrolment.member_at is not None:
        # Removed from the organisation by hand: membership (and team) must be redone.
        updates.update(member_at=None, team_at=None, invite_state=InviteState.NONE, invite_id="")
    invite = invites.get(docker_id)
    if invite is not None:
        invite_id = invite.id
        if enrolment.invite_state != InviteState.PENDING or enrolment.invite_id != invite_id:
            updates.update(invite_state=InviteState.PENDING, invite_id=invite_id)
            if enrolment.invited_at is None:
                updates["invited_at"] = invite.created_at or now
    elif enrolment.invite_state == InviteState.PENDING:
        # No longer pending and not a member: it ran out (14 days) or someone cancelled it.
        expired = enrolment.invited_at is None or enrolment.invited_at + INVITE_TTL <= now
        updates["invite_state"] = InviteState.EXPIRED if expired else InviteState.CANCELLED
    return updates


def _observed_repository(
    course: Course,
    repository: StudentRepository,
    repos: dict[str, HubRepository],
    teams: dict[str, Team],
    team_repos: dict[str, str],
    instructor_repos: dict[str, str],
    now: dt.datetime,
) -> dict[str, object]:
    updates: dict[str, object] = {}
    hub = repos.get(repository.name.lower())
    if hub is None:
        if repository.created_at is not None:
            # Deleted on Docker Hub: it, its permissions (and whatever of the build hung on
            # it, the backend says) are gone.
            updates.update(created_at=None, permission_granted_at=None)
            updates["instructors_permission_at"] = None
            if backend_for(course).forget(repository, hub_repository_gone=True):
                updates["build_configured_at"] = None
        return updates
    if repository.created_at is None:
        if not managed.owned(course, managed.Kind.REPOSITORY, repository.full_name):
            # There, but not made by this course: the plan offers it for adoption and
            # nothing here treats it as the student's until a site admin agrees.
            managed.record_found(course, managed.Kind.REPOSITORY, repository.full_name)
            return updates
        updates["created_at"] = hub.date_registered or now
    is_private = hub.is_private
    if repository.is_private != is_private:
        updates["is_private"] = is_private
    if course.access_policy == Course.AccessPolicy.COURSE_TEAM:
        granted = team_repos.get(repository.name.lower()) == "read"
        if granted and repository.permission_granted_at is None:
            updates["permission_granted_at"] = now
        elif not granted and repository.permission_granted_at is not None:
            updates["permission_granted_at"] = None
    elif repository.student_team:
        team = teams.get(repository.student_team.lower())
        if team is None and repository.student_team_id is not None:
            updates.update(student_team_id=None, student_team_at=None, permission_granted_at=None)
    admin = instructor_repos.get(repository.name.lower()) == "admin"
    if admin and repository.instructors_permission_at is None:
        updates["instructors_permission_at"] = now
    elif not admin and repository.instructors_permission_at is not None:
        updates["instructors_permission_at"] = None
    return updates


# -- plan ---------------------------------------------------------------------------------------


def plan_course(
    course: Course, *, enrolment: Enrolment | None = None, observe: bool = False
) -> Plan:
    """The steps that would bring the course (or one student) to its desired state."""
    if observe:
        observe_course(course)
        course.refresh_from_db()
    plan = Plan(course_id=course.pk, course_slug=course.slug)
    if enrolment is None:
        org = course.organisation
        if course.team_id is None or course.instructors_team_id is None:
            missing = [
                name
                for name, team_id in (
                    (course.team, course.team_id),
                    (course.instructors_team, course.instructors_team_id),
                )
                if team_id is None
            ]
            # "the teams students and instructors are not there yet", not "missing team(s): ..."
            names = " and ".join(missing)
            why = (
                f"the team {names} is not there yet"
                if len(missing) == 1
                else f"the teams {names} are not there yet"
            )
            plan.steps.append(PlanStep(None, StepName.TEAMS, "create", org, why))
        else:
            foreign_teams = [
                name
                for name in (course.team, course.instructors_team)
                if managed.found(course, managed.Kind.TEAM, f"{org}/{name}")
            ]
            if foreign_teams:
                plan.steps.append(
                    PlanStep(
                        None,
                        StepName.TEAMS,
                        "adopt",
                        org,
                        f"team(s) {', '.join(foreign_teams)} existed before this course: "
                        "a site admin must adopt them",
                    )
                )
            else:
                plan.steps.append(PlanStep(None, StepName.TEAMS, "no-op", org, "both teams exist"))
        plan.steps.extend(_old_course_team_steps(course))
    enrolments = (
        [enrolment]
        if enrolment is not None
        else list(course.enrolments.order_by("identifier").select_related("repository"))
    )
    started = set(
        Build.objects.filter(enrolment__in=enrolments).values_list("enrolment_id", flat=True)
    )
    foreign = set(
        ManagedResource.objects.filter(
            course=course, kind=ManagedResource.Kind.REPOSITORY, origin=ManagedResource.Origin.FOUND
        ).values_list("name", flat=True)
    )
    for item in enrolments:
        plan.labels[item.pk] = item.identifier
        plan.steps.extend(
            _student_steps(course, item, has_builds=item.pk in started, foreign=foreign)
        )
    return plan


def _student_steps(
    course: Course, enrolment: Enrolment, *, has_builds: bool, foreign: Collection[str] = ()
) -> list[PlanStep]:
    e = enrolment.pk
    if not enrolment.docker_id:
        return [
            PlanStep(
                e,
                StepName.DOCKER_ID,
                "no-op",
                enrolment.identifier,
                "no Docker ID yet: sign up for one on Docker Hub and enter it on the course page",
                "student",
            )
        ]
    if enrolment.error_permanent and enrolment.error_step:
        return [
            PlanStep(
                e,
                enrolment.error_step,
                "no-op",
                enrolment.docker_id,
                f"stopped until a person retries: {enrolment.error_message}",
                "instructor",
            )
        ]
    steps: list[PlanStep] = []
    if enrolment.preflight_state == PreflightState.NOT_RUN:
        steps.append(
            PlanStep(e, StepName.PREFLIGHT, "create", enrolment.github_repo, "not checked yet")
        )
    elif enrolment.preflight_state == PreflightState.FAILED:
        return [
            PlanStep(
                e,
                StepName.PREFLIGHT,
                "no-op",
                enrolment.github_repo,
                _preflight_reason(enrolment),
                "student",
            )
        ]
    steps.append(_invite_step(course, enrolment))
    repository: StudentRepository | None = getattr(enrolment, "repository", None)
    steps.append(_team_step(course, enrolment, repository))
    steps.extend(_old_team_steps(course, enrolment, repository))
    repo_target = (
        repository.full_name
        if repository is not None
        else f"{course.organisation.lower()}/{course.repository_name(enrolment.docker_id)}"
    )
    if (repository is None or repository.created_at is None) and repo_target.lower() in foreign:
        steps.append(
            PlanStep(
                e,
                StepName.REPOSITORY,
                "adopt",
                repo_target,
                "exists on Docker Hub but this course did not create it: a site admin must "
                "adopt it before hubcourse changes it",
            )
        )
        return steps
    if repository is None or repository.created_at is None:
        steps.append(PlanStep(e, StepName.REPOSITORY, "create", repo_target, "not on Docker Hub"))
    elif repository.is_private is not None and repository.is_private != course.repo_private:
        steps.append(
            _change(
                e,
                StepName.REPOSITORY,
                repo_target,
                "privacy",
                _privacy(repository.is_private),
                _privacy(course.repo_private),
            )
        )
    else:
        steps.append(PlanStep(e, StepName.REPOSITORY, "no-op", repo_target, "exists"))
    granted = (
        repository is not None
        and repository.permission_granted_at is not None
        and repository.instructors_permission_at is not None
        and (
            course.access_policy == Course.AccessPolicy.COURSE_TEAM
            or repository.student_team_id is not None
        )
    )
    backend = backend_for(course)
    access_before, access_after = (
        grant_changes(course, repository, enrolment.docker_id, backend.student_team_permission)
        if repository is not None and repository.created_at is not None
        else ("", "")
    )
    if access_before:
        steps.append(
            _change(e, StepName.PERMISSIONS, repo_target, "access", access_before, access_after)
        )
    else:
        steps.append(
            PlanStep(
                e,
                StepName.PERMISSIONS,
                "no-op" if granted else "create",
                repo_target,
                "teams hold their permissions" if granted else _permission_reason(course),
            )
        )
    configured = repository is not None and repository.build_configured_at is not None
    task = (
        backend_for(course).student_task(enrolment, repository)
        if repository is not None and not configured
        else None
    )
    if task is not None and task.waiting:
        # The student's move (STEPS[LINK_BUILD].waits_on_student); the set-up below reads
        # their link back on each pass.
        steps.append(
            PlanStep(
                e,
                StepName.LINK_BUILD,
                "no-op",
                enrolment.github_repo,
                "waits on the student: "
                + task.title.lower()
                + (" (" + "; ".join(task.differences) + ")" if task.differences else "")
                + (f"; first {task.needs}" if task.needs else ""),
                "student",
            )
        )
    build_target = f"{backend.label}: {enrolment.github_repo}"
    moves = build_changes(course, repository) if repository is not None and configured else []
    drift = backend.drift(repository) if repository is not None and configured else ()
    for move in moves:
        if repository is not None and moving.pending(course, repository):
            # A change of backend (the only change listed then) is a staged move.
            steps.append(_move_step(course, e, repository, build_target, move.before, move.after))
            continue
        steps.append(
            _change(
                e, StepName.CONFIGURE_BUILD, build_target, move.setting, move.before, move.after
            )
        )
    for words in drift if not moves else ():
        steps.append(
            PlanStep(
                e,
                StepName.CONFIGURE_BUILD,
                "change",
                build_target,
                f"{words}: hubcourse writes it again",
            )
        )
    stale = moving.called_off(course, repository) if not moves else None
    if stale is not None:
        steps.append(
            PlanStep(
                e,
                StepName.CONFIGURE_BUILD,
                "change",
                build_target,
                f"the move to {moving.label(stale.target)} was called off: what it set up "
                "beside the build is removed",
            )
        )
    elif not moves and not drift:
        done = "configured"
        if repository is not None and configured:
            finished = moving.move_of(course, repository)
            if finished.stage == moving.MOVED:
                done = moving.describe(course, finished)
        steps.append(
            PlanStep(
                e,
                StepName.CONFIGURE_BUILD,
                "no-op" if configured else "create",
                build_target,
                done if configured else f"build on push to {course.build_branch}",
            )
        )
    triggered = has_builds or (
        repository is not None and repository.first_build_triggered_at is not None
    )
    steps.append(
        PlanStep(
            e,
            StepName.TRIGGER_FIRST_BUILD,
            "no-op" if triggered else "create",
            repo_target,
            "a build exists" if triggered else "no build yet",
        )
    )
    return steps


def _move_step(
    course: Course,
    enrolment_id: int,
    repository: StudentRepository,
    target: str,
    before: str,
    after: str,
) -> PlanStep:
    """The student's move to the course's new build backend (``builds.moving``): to apply
    once an instructor has started it for them and until it is done; waiting on a person
    before that, and when the student was kept on the old backend."""
    move = moving.move_of(course, repository)
    words = moving.describe(course, move)
    reason = f"build {before} -> {after}: {words}"
    started = move.stage in (moving.ADMITTED, moving.WAITING)
    return PlanStep(
        enrolment_id,
        StepName.CONFIGURE_BUILD,
        "change" if started else "no-op",
        target,
        reason,
        "" if started else "instructor",
        setting="build",
        before=before,
        after=after,
    )


def _preflight_reason(enrolment: Enrolment) -> str:
    errors = [
        str(item.get("message", "")).strip()
        for item in enrolment.preflight_report
        if isinstance(item, dict) and item.get("level") == "error"
    ]
    found = " ".join(m for m in errors if m)
    return "pre-flight failed: fix what it found, push, and check again" + (
        f" ({found})" if found else ""
    )


def _change(
    enrolment_id: int,
    step: str,
    target: str,
    setting: str,
    before: str,
    after: str,
    *,
    note: str = "",
) -> PlanStep:
    """A step that moves one of the course's settings for the student: before -> after."""
    return PlanStep(
        enrolment_id,
        step,
        "change",
        target,
        f"{setting} {before} -> {after}{note}",
        setting=setting,
        before=before,
        after=after,
    )


def _privacy(is_private: bool) -> str:
    return "private" if is_private else "public"


def _permission_reason(course: Course) -> str:
    if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
        return "student's team read, instructors admin"
    return f"{course.team} read, {course.instructors_team} admin"


def _invite_step(course: Course, enrolment: Enrolment) -> PlanStep:
    e, target = enrolment.pk, f"{course.organisation}: {enrolment.docker_id}"
    if enrolment.member_at is not None:
        return PlanStep(e, StepName.INVITE, "no-op", target, "member")
    if enrolment.invite_state == InviteState.PENDING:
        return PlanStep(
            e,
            StepName.INVITE,
            "no-op",
            target,
            "invited, waiting for the student to accept the email from Docker Hub",
            "student",
        )
    if enrolment.invite_state == InviteState.EXPIRED:
        return PlanStep(e, StepName.INVITE, "change", target, "the invite expired: send it again")
    return PlanStep(e, StepName.INVITE, "create", target, "not invited (bulk, with the class)")


def _team_step(
    course: Course, enrolment: Enrolment, repository: StudentRepository | None
) -> PlanStep:
    e = enrolment.pk
    if course.access_policy == Course.AccessPolicy.COURSE_TEAM:
        target = f"{course.organisation}/{course.team}"
        if enrolment.team_at is not None:
            return PlanStep(e, StepName.TEAM, "no-op", target, "in the course team")
        if enrolment.member_at is not None:
            # No invitation brings a member in: hubcourse adds them (the team-members route).
            return PlanStep(
                e, StepName.TEAM, "change", target, "in the organisation: add to the team directly"
            )
        return PlanStep(e, StepName.TEAM, "no-op", target, "joins the team on accepting the invite")
    name = course.student_team_name(enrolment.docker_id)
    target = f"{course.organisation}/{name}"
    if (
        repository is not None
        and repository.student_team
        and repository.student_team.lower() != name.lower()
    ):
        return _change(e, StepName.TEAM, target, "team", repository.student_team, name)
    if repository is None or repository.student_team_id is None:
        return PlanStep(e, StepName.TEAM, "create", target, "the student's own team")
    if enrolment.team_at is None and enrolment.member_at is not None:
        return PlanStep(e, StepName.TEAM, "change", target, "add the student (accepted)")
    if enrolment.team_at is None:
        return PlanStep(e, StepName.TEAM, "no-op", target, "added once the invite is accepted")
    return PlanStep(e, StepName.TEAM, "no-op", target, "in their team")


def _old_course_team_steps(course: Course) -> list[PlanStep]:
    """The course team or instructors' team from before a rename: deleted once the new team
    holds everyone and every permission it gave; one that stays, with the reason."""
    steps: list[PlanStep] = []
    for old, setting in (course.old_teams or {}).items():
        target = f"{course.organisation}/{old}"
        new = str(getattr(course, setting))
        stays = old_course_team_stays(course, old)
        if stays:
            steps.append(PlanStep(None, StepName.TEAMS, "no-op", target, stays))
            continue
        who = "instructor" if setting == "instructors_team" else "student"
        steps.append(
            PlanStep(
                None,
                StepName.TEAMS,
                "delete",
                target,
                f"delete old team {old} (renamed to {new}) once {new} holds every {who} and "
                "permission it gave",
            )
        )
    return steps


def _old_team_steps(
    course: Course, enrolment: Enrolment, repository: StudentRepository | None
) -> list[PlanStep]:
    """The student's teams from before the course renamed them: each is removed, if the
    course made it, once the new team holds the student and the permission; one the course
    did not make stays, and the plan says so."""
    if course.access_policy != Course.AccessPolicy.TEAM_PER_STUDENT or repository is None:
        return []
    name = course.student_team_name(enrolment.docker_id)
    old = list(repository.old_teams or [])
    if repository.student_team and repository.student_team.lower() != name.lower():
        old.append(repository.student_team)  # renamed on the next apply
    steps: list[PlanStep] = []
    for team in dict.fromkeys(old):
        target = f"{course.organisation}/{team}"
        if team.lower() == name.lower():
            continue
        if managed.owned(course, managed.Kind.TEAM, target):
            steps.append(
                PlanStep(
                    enrolment.pk,
                    StepName.TEAM,
                    "delete",
                    target,
                    f"remove the old team {team} once {name} holds the student and the permission",
                )
            )
        else:
            steps.append(
                PlanStep(
                    enrolment.pk,
                    StepName.TEAM,
                    "no-op",
                    target,
                    f"the old team {team} stays: this course did not create it",
                )
            )
    return steps


# -- apply --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    course_tasks: list[str]
    chains: int
    skipped_in_flight: int
    # Students left for a later pass: their course has its window of chains queued already.
    held_back: int = 0


def _lease_key(enrolment_id: int) -> str:
    return f"hubcourse:pipeline:{enrolment_id}"


def chains_per_course() -> int:
    return int(getattr(settings, "HUBCOURSE_CHAINS_PER_COURSE", CHAINS_PER_COURSE))


def _held_back_key(course_id: int) -> str:
    return f"hubcourse:held-back:{course_id}"


def _refill_key(course_id: int) -> str:
    return f"hubcourse:refill:{course_id}"


def _again_key(enrolment_id: int) -> str:
    return f"hubcourse:again:{enrolment_id}"


def pipeline_again(enrolment_id: int) -> bool:
    """Plan the student again once the chain that holds them ends: something changed that its
    steps planned without (the first build a move waits for finished). True when no chain
    holds them any more, so the caller plans now.

    The chain's end asks for the new pass (:func:`pipeline_ended`); nothing polls meanwhile.
    A poll at the broker's default priority would be served before the chain's own steps
    and keep them, and itself, waiting.
    """
    cache.set(_again_key(enrolment_id), 1, timeout=pipeline_lease_seconds() * 2)
    # The chain may have ended between the caller's look and the note: one of the two takes it.
    return pipeline_lease(enrolment_id) is None and _take_again(enrolment_id)


def _take_again(enrolment_id: int) -> bool:
    return bool(cache.delete(_again_key(enrolment_id)))


def pipeline_ended(enrolment_id: int) -> None:
    """A student's chain ended: plan them again when that was asked for meanwhile
    (:func:`pipeline_again`); when their course has students held back by the window, queue
    one refill pass for the chains ending in the next few seconds; when it has an old team
    that the new one has now replaced, its deletion."""
    if _take_again(enrolment_id):
        current_app.tasks[RECONCILE_STUDENT_TASK].delay(enrolment_id)
    row = Enrolment.objects.filter(pk=enrolment_id).values_list("course_id", "course__old_teams")
    course_id, old_teams = row.first() or (None, None)
    if course_id is None:
        return
    if old_teams:
        _retire_when_replaced(course_id)
    if not cache.get(_held_back_key(course_id)):
        return
    if cache.add(_refill_key(course_id), 1, timeout=REFILL_DELAY_SECONDS * 30):
        current_app.tasks[REFILL_TASK].apply_async((course_id,), countdown=REFILL_DELAY_SECONDS)


def _retire_when_replaced(course_id: int) -> None:
    """The chain that moved a class's last student to a renamed team ends: the course task
    deletes the old team now, not at the next reconcile (the rows say when; one task for
    the chains ending together)."""
    course = Course.objects.filter(pk=course_id).first()
    if course is None or not any(
        old_course_team_replaced(course, old, setting) and not old_course_team_stays(course, old)
        for old, setting in course.old_teams.items()
    ):
        return
    if cache.add(f"hubcourse:retire-teams:{course_id}", 1, timeout=REFILL_DELAY_SECONDS * 5):
        enqueue_on_commit(ENSURE_TEAMS_TASK, course_id, None)


def refill_started(course_id: int) -> None:
    """The refill pass runs: chains ending from now on ask for the next one."""
    cache.delete(_refill_key(course_id))


# -- one course pass at a time ------------------------------------------------------------------

# Longer than a course pass may run (its task's time limit).
COURSE_PASS_SECONDS = 240


def _pass_key(course_id: int) -> str:
    return f"hubcourse:course-pass:{course_id}"


def _pass_again_key(course_id: int) -> str:
    return f"hubcourse:course-pass-again:{course_id}"


def course_pass_claim(course_id: int) -> bool:
    """Whether this worker may run a reconcile pass of the course now (and claims it).

    One pass per course at a time: a pass still reading a large class at GitHub's pace when
    the next one is due would otherwise run beside it, and passes piled up until every worker
    ran one and the students' own chains waited behind them. A pass whose worker died
    (``hubcourse.workers``) holds nothing.
    """
    key = _pass_key(course_id)
    if cache.add(key, workers.holder(), timeout=COURSE_PASS_SECONDS):
        return True
    holder = cache.get(key)
    if not isinstance(holder, str) or workers.holder_alive(holder):
        return False
    cache.delete(key)
    return bool(cache.add(key, workers.holder(), timeout=COURSE_PASS_SECONDS))


def course_pass_again(course_id: int) -> bool:
    """A pass was asked for while one runs: that one asks for one more when it ends (one for
    any number asked meanwhile). True when it has ended already, so the caller runs now."""
    cache.set(_pass_again_key(course_id), 1, timeout=COURSE_PASS_SECONDS * 2)
    return cache.get(_pass_key(course_id)) is None and bool(
        cache.delete(_pass_again_key(course_id))
    )


def course_pass_end(course_id: int) -> bool:
    """The course's pass ended; True when another was asked for meanwhile."""
    cache.delete(_pass_key(course_id))
    return bool(cache.delete(_pass_again_key(course_id)))


def pipeline_lease_seconds() -> int:
    return int(getattr(settings, "HUBCOURSE_PIPELINE_LEASE", PIPELINE_LEASE_SECONDS))


@dataclass(frozen=True)
class PipelineLease:
    """A student's lease as the cache holds it: ``seconds|token|holder|message``.

    ``seconds`` is the claimer's lease length, so the workers that renew it keep it; ``token``
    names the chain that holds it (each of its steps carries it); ``holder`` is the worker
    that has taken the chain's current message (running it, or holding it for a retry), ""
    while the message waits in the queue; ``message`` is that message's task id.
    """

    seconds: int
    token: str = ""
    holder: str = ""
    message: str = ""

    def encode(self) -> str:
        return f"{self.seconds}|{self.token}|{self.holder}|{self.message}"

    @classmethod
    def decode(cls, value: object) -> PipelineLease | None:
        if not isinstance(value, str):
            return None
        seconds, _, rest = value.partition("|")
        token, _, rest = rest.partition("|")
        holder, _, message = rest.partition("|")
        if not seconds.isdigit():
            return None
        return cls(int(seconds), token, holder, message)


def pipeline_lease(enrolment_id: int) -> PipelineLease | None:
    return PipelineLease.decode(cache.get(_lease_key(enrolment_id)))


def pipeline_claim(enrolment_id: int) -> str:
    """The new chain's token when no live chain holds the student (and claims it), else "".

    A lease whose holder died (hubcourse.workers) dies with it: the killed worker's messages
    come back only after the broker's visibility timeout, so the student is queued again now,
    and the old chain's steps, if they ever come back, find another token and stop.
    """
    lease = pipeline_lease_seconds()
    token = secrets.token_hex(6)
    key = _lease_key(enrolment_id)
    claim = PipelineLease(lease, token).encode()
    if cache.add(key, claim, timeout=lease):
        return token
    current = pipeline_lease(enrolment_id)
    if current is None or workers.holder_alive(current.holder):
        return ""
    log.info("student %s: the lease of dead worker %s is released", enrolment_id, current.holder)
    cache.delete(key)
    return token if cache.add(key, claim, timeout=lease) else ""


def pipeline_renew(
    enrolment_id: int, *, waiting: float = 0, token: str = "", message: str = ""
) -> bool:
    """The student's chain is alive here: hold its lease for another lease time (plus
    ``waiting`` seconds when a step is about to wait that long for its retry), held by this
    worker. False, and nothing changed, when another chain holds it (``token`` is not the
    lease's): the caller's chain was superseded and must stop."""
    current = pipeline_lease(enrolment_id)
    if token and current is not None and current.token and current.token != token:
        return False
    lease = current.seconds if current is not None else pipeline_lease_seconds()
    token = token or (current.token if current is not None else "")
    cache.set(
        _lease_key(enrolment_id),
        PipelineLease(lease, token, workers.holder(), message).encode(),
        timeout=lease + int(waiting),
    )
    return True


def pipeline_handed_on(enrolment_id: int, token: str, message: str = "") -> None:
    """Step ``message`` finished and its chain's next message is in the queue: no worker
    holds the lease until one takes that message (a dead worker must not take the queued
    chain's lease with it)."""
    current = pipeline_lease(enrolment_id)
    if current is None or (token and current.token != token):
        return
    if current.holder != workers.holder() or (message and current.message != message):
        return  # a worker (this one too) has taken the next message already
    cache.set(
        _lease_key(enrolment_id),
        PipelineLease(current.seconds, current.token).encode(),
        timeout=current.seconds,
    )


def pipeline_release(enrolment_id: int, token: str = "") -> None:
    """Give the student's lease back (only if chain ``token`` holds it, when given)."""
    if token:
        current = pipeline_lease(enrolment_id)
        if current is not None and current.token and current.token != token:
            return
    cache.delete(_lease_key(enrolment_id))


def apply_plan(plan: Plan, *, actor_id: int | None = None, follow_up: bool = True) -> Applied:
    """Enqueue the plan: course steps first, then one chain per student, in parallel."""

    enqueued: list[str] = []
    actionable = plan.actionable
    kinds = {s.step for s in actionable}
    if StepName.TEAMS in kinds:
        enqueue_on_commit(ENSURE_TEAMS_TASK, plan.course_id, actor_id)
        enqueued.append(StepName.TEAMS)
    if any(s.step == StepName.INVITE for s in actionable):
        enqueue_on_commit(INVITE_TASK, plan.course_id, actor_id)
        enqueued.append(StepName.INVITE)
    chains = skipped = held = 0
    needs_follow_up = False
    by_student: dict[int, list[str]] = {}
    for step in actionable:
        if step.enrolment_id is not None and step.step in PIPELINE:
            by_student.setdefault(step.enrolment_id, []).append(step.step)
    window = chains_per_course()
    # Students whose chain is queued or running already count against the window.
    leased = set(cache.get_many([_lease_key(e) for e in by_student])) if window else set()
    room = window - len(leased)
    for enrolment_id, steps in by_student.items():
        fresh = _lease_key(enrolment_id) not in leased
        if window and fresh and room <= 0:
            held += 1
            continue
        token = pipeline_claim(enrolment_id)
        if not token:
            skipped += 1
            continue
        room -= 1 if fresh else 0
        # Each step carries the chain's token: a step of a chain that lost its lease stops.
        signatures = [
            current_app.signature(
                STEPS[name].task_name,
                args=(enrolment_id, actor_id),
                kwargs={"lease": token},
                immutable=True,
            ).set(priority=STEPS[name].priority)
            for name in PIPELINE
            if name in steps
        ]
        signatures.append(
            current_app.signature(
                PIPELINE_DONE_TASK, args=(enrolment_id,), kwargs={"lease": token}, immutable=True
            ).set(priority=DONE_PRIORITY)
        )
        transaction.on_commit(chain(*signatures).delay)
        chains += 1
        needs_follow_up = needs_follow_up or StepName.PREFLIGHT in steps
    if held:
        # Until a pass leaves nobody behind: the chains' ends ask for refills meanwhile.
        cache.set(_held_back_key(plan.course_id), held, timeout=pipeline_lease_seconds() * 3)
    elif window:
        cache.delete(_held_back_key(plan.course_id))
    if follow_up and needs_follow_up:
        # Students checked in this pass are invited together by the next one.
        current_app.tasks[RECONCILE_COURSE_TASK].apply_async(
            (plan.course_id,), {"follow_up": False}, countdown=FOLLOW_UP_SECONDS
        )
        enqueued.append("follow-up")
    return Applied(course_tasks=enqueued, chains=chains, skipped_in_flight=skipped, held_back=held)
