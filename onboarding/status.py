"""What the student's pages show, read from the database only (never Docker Hub or GitHub).

``handout_steps`` turns the observed rows into the handout's five steps, each one done,
being done by hubcourse, waiting for the student, failed (named by the step registry's
label), or not started yet, and the one thing the student should do now. It is the one
place a student's progress is worked out for people: the student's page, the staff's view
of it, the class board's ticks and both APIs read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum

from django.conf import settings
from django.urls import reverse

from accounts.models import Course, Enrolment, GitHubAppRegistration, InviteState, PreflightState
from accounts.steps import StepName
from builds import moving
from builds.backends import StudentTask
from builds.models import Build, BuildState, StudentBadge
from builds.moving import StudentMove
from hubcourse.conditional import rows_digest
from onboarding.github_access import public_check_minutes
from onboarding.state import HANDOUT_STEPS
from onboarding.steps import STEPS, step_for, step_label
from repositories.models import StudentRepository


class StepStatus(Enum):
    DONE = "done"
    WORKING = "working"  # hubcourse, Docker Hub or GitHub is on it: a spinner
    TODO = "todo"  # the student must do something
    ERROR = "error"  # it failed and stopped
    WAITING = "waiting"  # an earlier step must finish first

    @property
    def label(self) -> str:
        return {
            "done": "Done",
            "working": "In progress",
            "todo": "Your turn",
            "error": "Problem",
            "waiting": "Not started",
        }[self.value]


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    status: StepStatus
    detail: str = ""
    action_url: str = ""
    action_label: str = ""
    part: str = ""  # the registry label of the part that failed ("Team permission")
    # Whether the step was ever completed, when that differs from its status now: the first
    # image was built even while a newer build runs or has failed. The board ticks on it.
    completed: bool | None = None

    @property
    def done(self) -> bool:
        return self.status is StepStatus.DONE if self.completed is None else self.completed

    @property
    def needs_student(self) -> bool:
        return self.status in (StepStatus.TODO, StepStatus.ERROR)


def error_handout_step(error_step: str) -> int:
    """The handout step (1-5) a failed step belongs to, from the registry; 0 for none."""
    step = step_for(error_step) if error_step else None
    return step.handout_step if step is not None else 0


@dataclass
class StatusView:
    enrolment: Enrolment
    repository: StudentRepository | None
    steps: list[Step]
    now: Step | None  # the step asking something of the student, if any
    latest: Build | None
    builds: list[Build] = field(default_factory=list)
    image_url: str = ""
    preflight_problems: list[dict[str, str]] = field(default_factory=list)
    # The student asked for the checks again and they have not answered yet: the last
    # report's "Fix: ..." lines may already be fixed, so they are not shown meanwhile.
    rechecking: bool = False
    # A stopping error that belongs to none of the five steps, shown on its own.
    other_error: str = ""
    # What the build backend asks of the student or tells them (values to enter, a commit
    # hubcourse made in their repository).
    build_task: StudentTask | None = None
    # How the image is built now ("GitHub Actions"), and the build's move to the course's
    # backend while there is one, with its first build when recorded.
    build_way: str = ""
    move: StudentMove | None = None
    move_build: Build | None = None

    @property
    def all_done(self) -> bool:
        return all(step.status is StepStatus.DONE for step in self.steps)

    @property
    def in_progress(self) -> bool:
        return self.rechecking or any(step.status is StepStatus.WORKING for step in self.steps)


def permission_done(course: Course, repository: StudentRepository | None) -> bool:
    if repository is None or repository.permission_granted_at is None:
        return False
    if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
        return repository.student_team_at is not None
    return True


def image_url(repository: StudentRepository | None, *, pushed: bool) -> str:
    """The image's page on Docker Hub, once something was pushed to it."""
    if repository is None or repository.created_at is None or not pushed:
        return ""
    base = str(settings.DOCKERHUB_WEB_URL).rstrip("/")
    return f"{base}/r/{repository.namespace}/{repository.name}"


def planned_image_url(enrolment: Enrolment, repository: StudentRepository | None) -> str:
    """Where the student's image is (or will be) on Docker Hub; "" before a Docker ID."""
    base = str(settings.DOCKERHUB_WEB_URL).rstrip("/")
    if repository is not None:
        return f"{base}/r/{repository.namespace}/{repository.name}"
    if not enrolment.docker_id:
        return ""
    course = enrolment.course
    return f"{base}/r/{course.organisation.lower()}/{course.repository_name(enrolment.docker_id)}"


def commit_url(enrolment: Enrolment, sha: str) -> str:
    if not sha or "/" not in enrolment.github_repo:
        return ""
    return f"{str(settings.GITHUB_URL).rstrip('/')}/{enrolment.github_repo}/commit/{sha}"


# A build log's error lines: BuildKit's "ERROR: …" (after an optional "#3 " step number) and
# GitHub Actions' "##[error]…". A GitHub Actions job log starts every line with a timestamp.
_LOG_ERROR = re.compile(r"^(?:#\d+\s+)?(ERROR:.*|##\[error\].*)$")
_LOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\s?")
# A GitHub Actions step opens its group with "##[group]Run <action or command>".
_LOG_STEP = re.compile(r"^##\[group\]Run (.+)$")


def _log_lines(log: str) -> list[str]:
    return [_LOG_TIMESTAMP.sub("", line).strip() for line in log.splitlines()]


def log_failure_line(log: str) -> str:
    """The first error line of a build log, the one that says what went wrong ("#2 ERROR:
    docker.io/library/pythn:3.12-slim: not found"), or "" when the log names none."""
    for line in _log_lines(log):
        match = _LOG_ERROR.match(line)
        if match:
            return match.group(1).removeprefix("##[error]").strip()
    return ""


def log_failed_step(log: str) -> str:
    """The GitHub Actions step the first error line is in ("docker/build-push-action@v6"),
    or "" for a log without steps (Docker Hub's)."""
    step = ""
    for line in _log_lines(log):
        if opened := _LOG_STEP.match(line):
            step = opened.group(1).strip()
        elif _LOG_ERROR.match(line):
            return step
    return ""


def student_status(enrolment: Enrolment, *, recent_builds: int = 10) -> StatusView:
    """The five steps, what to do now, and the newest builds: a constant number of queries."""
    repository = StudentRepository.objects.filter(enrolment=enrolment).first()
    builds = list(
        Build.objects.filter(enrolment=enrolment).order_by("-created_at", "-pk")[:recent_builds]
    )
    latest = builds[0] if builds else None
    succeeded = any(b.state == BuildState.SUCCESS for b in builds) or (
        len(builds) == recent_builds
        and Build.objects.filter(enrolment=enrolment, state=BuildState.SUCCESS).exists()
    )
    steps = handout_steps(enrolment, repository, latest, succeeded=succeeded)
    now = next((step for step in steps if step.needs_student), None)
    task = build_task(enrolment, repository)
    problems = [
        item
        for item in enrolment.preflight_report
        if isinstance(item, dict) and item.get("level") in ("error", "warning")
    ]
    # Checking again keeps the old report until the new one replaces it.
    rechecking = enrolment.preflight_state == PreflightState.NOT_RUN and bool(problems)
    move = moving.for_student(enrolment, repository)
    move_build = next(
        (
            b
            for b in builds
            if move is not None
            and move.run_id
            and b.external_id == move.run_id
            and b.backend == enrolment.course.build_backend
        ),
        None,
    )
    return StatusView(
        enrolment=enrolment,
        repository=repository,
        steps=steps,
        now=now,
        latest=latest,
        builds=builds,
        image_url=image_url(
            repository, pushed=succeeded or bool(repository and repository.last_pushed_at)
        ),
        preflight_problems=[] if rechecking else problems,
        rechecking=rechecking,
        other_error=(
            enrolment.error_message
            if enrolment.error_step
            and enrolment.error_permanent
            and not error_handout_step(enrolment.error_step)
            else ""
        ),
        build_task=task,
        build_way=moving.build_way(enrolment.course, repository),
        move=move,
        move_build=move_build,
    )


def build_task(enrolment: Enrolment, repository: StudentRepository | None) -> StudentTask | None:
    """The build backend's word to the student (read from rows only): mid-move, the one
    their builds come from now (the new one once its first build is awaited)."""
    if repository is None:
        return None
    return moving.backend_of(enrolment, repository).student_task(enrolment, repository)


@dataclass(frozen=True)
class _Observed:
    """What the five handout steps are worked out from: the student's observed rows."""

    enrolment: Enrolment
    repository: StudentRepository | None
    latest: Build | None
    succeeded: bool

    @property
    def course(self) -> Course:
        return self.enrolment.course

    @property
    def docker_ok(self) -> bool:
        return bool(self.enrolment.docker_id and self.enrolment.docker_id_verified_at)

    @property
    def checks_failed(self) -> bool:
        return self.enrolment.preflight_state == PreflightState.FAILED

    @property
    def link_url(self) -> str:
        return reverse("student:link", args=[self.enrolment.pk])

    def step(
        self,
        number: int,
        status: StepStatus,
        detail: str,
        action_url: str = "",
        action_label: str = "",
        *,
        completed: bool | None = None,
    ) -> Step:
        title = HANDOUT_STEPS[number - 1][0]
        return Step(number, title, status, detail, action_url, action_label, completed=completed)

    def failed(self, number: int) -> Step | None:
        """The step's state while a step of the registry that belongs to it has failed."""
        enrolment = self.enrolment
        if error_handout_step(enrolment.error_step) != number:
            return None
        text = enrolment.error_message
        part = step_label(enrolment.error_step)
        title = HANDOUT_STEPS[number - 1][0]
        if enrolment.error_permanent:
            return Step(
                number,
                title,
                StepStatus.ERROR,
                f"{text} Fix this, or ask your instructor to retry if it is not about "
                "your Docker ID or repository.",
                part=part,
            )
        # A transient error is retried by hubcourse: work in progress, with its reason.
        if enrolment.next_retry_at:
            text = f"{text} hubcourse tries again at {enrolment.next_retry_at:%H:%M} UTC."
        return Step(number, title, StepStatus.WORKING, text, part=part)


def _docker_id_step(o: _Observed) -> Step:
    if o.docker_ok:
        return o.step(1, StepStatus.DONE, f"Your Docker ID is {o.enrolment.docker_id}.")
    return o.step(
        1,
        StepStatus.TODO,
        "Sign up for a free Docker ID on Docker Hub (if you have none yet), then enter it here.",
        o.link_url,
        "Enter your Docker ID",
    )


def _organisation_step(o: _Observed) -> Step:
    enrolment, org = o.enrolment, o.course.organisation
    if enrolment.team_at is not None:
        return o.step(2, StepStatus.DONE, f"You are in the {org} organisation.")
    if (failed := o.failed(2)) is not None:
        return failed
    if not o.docker_ok:
        return o.step(2, StepStatus.WAITING, "Starts once your Docker ID is in.")
    if enrolment.invite_state == InviteState.PENDING and enrolment.member_at is None:
        return o.step(
            2,
            StepStatus.TODO,
            f"Accept the invitation to the {org} organisation that Docker Hub sent to the "
            f"email address of your Docker ID {enrolment.docker_id}. This step ticks by "
            "itself shortly after you accept.",
        )
    if enrolment.member_at is not None:
        return o.step(2, StepStatus.WORKING, f"Adding you to the team {o.course.team}.")
    if o.checks_failed:
        return o.step(2, StepStatus.WAITING, "Starts once the checks below pass.")
    if enrolment.invite_state == InviteState.EXPIRED:
        return o.step(2, StepStatus.WORKING, "Your invitation expired; a new one is on its way.")
    return o.step(2, StepStatus.WORKING, f"Inviting {enrolment.docker_id} to {org}.")


def _repository_step(o: _Observed) -> Step:
    repository = o.repository
    if repository is not None and repository.created_at and permission_done(o.course, repository):
        return o.step(3, StepStatus.DONE, f"Your repository is {repository.full_name}.")
    if (failed := o.failed(3)) is not None:
        return failed
    if not o.docker_ok or o.checks_failed:
        return o.step(3, StepStatus.WAITING, "Starts once the steps above are in order.")
    name = repository.full_name if repository else o.course.repository_name(o.enrolment.docker_id)
    return o.step(3, StepStatus.WORKING, f"Creating {name} on Docker Hub.")


def _github_step(o: _Observed) -> Step:
    enrolment = o.enrolment
    if o.repository is not None and o.repository.build_configured_at:
        return o.step(4, StepStatus.DONE, f"Linked to GitHub {enrolment.github_repo}.")
    if not enrolment.github_repo:
        return o.step(
            4,
            StepStatus.TODO,
            "Pick your GitHub repository (or type it).",
            o.link_url,
            "Link your repository",
        )
    if o.checks_failed:
        return o.step(
            4,
            StepStatus.TODO,
            "The checks found problems in your Docker ID or repository (listed below). Fix "
            "them, push to GitHub, then check again.",
        )
    if (failed := o.failed(4)) is not None:
        return failed
    task = build_task(enrolment, o.repository)
    link = STEPS[StepName.LINK_BUILD]
    if task is not None and task.waiting:
        return o.step(
            4,
            StepStatus.TODO if link.waits_on_student else StepStatus.WORKING,
            task.text
            + (" It differs: " + "; ".join(task.differences) + "." if task.differences else ""),
            task.link_url,
            task.link_label,
        )
    if enrolment.preflight_state == PreflightState.NOT_RUN:
        return o.step(4, StepStatus.WORKING, f"Checking {enrolment.github_repo}.")
    if not o.docker_ok:
        return o.step(4, StepStatus.WAITING, "Starts once your Docker ID is in.")
    return o.step(
        4,
        StepStatus.WORKING,
        f"Setting up the build from {enrolment.github_repo}, branch {o.course.build_branch}.",
    )


def _builds_step(o: _Observed) -> Step:
    latest, branch = o.latest, o.course.build_branch
    if latest is not None and latest.state in (BuildState.QUEUED, BuildState.RUNNING):
        sha = f" of commit {latest.commit_sha[:7]}" if latest.commit_sha else ""
        return o.step(
            5,
            StepStatus.WORKING,
            f"A build{sha} is {latest.get_state_display().lower()}.",
            completed=o.succeeded,
        )
    if latest is not None and latest.state == BuildState.FAILED:
        return o.step(
            5,
            StepStatus.TODO,
            f"Your last build failed. Its log says why: fix the problem, then commit and "
            f"push to {branch}: a new build starts by itself.",
            reverse("student:build_log", args=[o.enrolment.pk, latest.pk]),
            "Open the log of the failed build",
            completed=o.succeeded,
        )
    if o.succeeded:
        return o.step(5, StepStatus.DONE, f"Every push to {branch} builds a new image.")
    if (failed := o.failed(5)) is not None:
        return failed
    if o.repository is not None and o.repository.build_configured_at:
        if o.repository.first_build_triggered_at:
            return o.step(5, StepStatus.WORKING, "Your first build is starting.")
        return o.step(
            5, StepStatus.TODO, f"Push a commit to {branch} on GitHub to start your first build."
        )
    return o.step(5, StepStatus.WAITING, "Starts once your repository is linked.")


# One function per handout step, in the handout's order.
_HANDOUT_STEP_STATUS = (
    _docker_id_step,
    _organisation_step,
    _repository_step,
    _github_step,
    _builds_step,
)


def handout_steps(
    enrolment: Enrolment,
    repository: StudentRepository | None,
    latest: Build | None,
    *,
    succeeded: bool,
) -> list[Step]:
    """Each of the handout's five steps for the student, from the observed rows: done, in
    progress, waiting, the student's turn, or failed, with what to do."""
    observed = _Observed(enrolment, repository, latest, succeeded)
    steps: list[Step] = []
    for status in _HANDOUT_STEP_STATUS:
        steps.append(_after_its_dependencies(status(observed), steps))
    return steps


# The earlier handout steps each step needs done first. Work that hubcourse starts early
# (the checks of step 4 run as soon as a GitHub repository is named) still reads as waiting
# until these are done: "In progress" on step 4 while step 1 is not done misleads. Step 5
# is left alone: a build that runs is one Docker Hub or GitHub reports, whatever else.
DEPENDS_ON: dict[int, tuple[int, ...]] = {2: (1,), 3: (1,), 4: (1,)}


def _after_its_dependencies(step: Step, earlier: list[Step]) -> Step:
    """The step as waiting while a step it depends on is not done; the student's turn and
    problems are kept (the student may name their GitHub repository before their Docker ID)."""
    if step.status is not StepStatus.WORKING:
        return step
    missing = [earlier[n - 1] for n in DEPENDS_ON.get(step.number, ()) if not earlier[n - 1].done]
    if not missing:
        return step
    first = missing[0]
    return replace(
        step,
        status=StepStatus.WAITING,
        detail=f"Starts once step {first.number} ({first.title}) is done.",
        part="",
    )


BADGE_STATES: dict[str, str] = {
    BuildState.SUCCESS.value: "passing",
    BuildState.FAILED.value: "failing",
    BuildState.QUEUED.value: "building",
    BuildState.RUNNING.value: "building",
}


def badge_state(enrolment_id: int) -> str:
    """passing, failing, building or unknown, from the newest build that says something."""
    latest = (
        Build.objects.filter(enrolment_id=enrolment_id)
        .exclude(state=BuildState.CANCELED)
        .order_by("-created_at", "-pk")
        .values_list("state", flat=True)
        .first()
    )
    return BADGE_STATES.get(str(latest), "unknown")


def status_fingerprint(enrolment: Enrolment) -> str | None:
    """What the live status partial is rendered from, in one query: a digest of the whole
    content of the student's enrolment and course rows, their repository, every build of
    theirs, their badge and the GitHub App registration (``student_status``, ``badge_state``
    and ``github_access.access_panel`` read nothing else), and the settings the page shows.
    ``None`` on a database that cannot digest rows (no validator there)."""
    tables = {
        "enrolment": Enrolment._meta.db_table,
        "course": Course._meta.db_table,
        "repository": StudentRepository._meta.db_table,
        "build": Build._meta.db_table,
        "badge": StudentBadge._meta.db_table,
        "app": GitHubAppRegistration._meta.db_table,
    }
    # Whole rows as text, so a column added later is covered without touching this.
    sql = """
        SELECT md5(concat_ws('|',
            (SELECT e::text FROM {enrolment} e WHERE e.id = %s),
            (SELECT c::text FROM {course} c WHERE c.id = %s),
            (SELECT string_agg(r::text, ',' ORDER BY r.id) FROM {repository} r
                WHERE r.enrolment_id = %s),
            (SELECT string_agg(b::text, ',' ORDER BY b.id) FROM {build} b
                WHERE b.enrolment_id = %s),
            (SELECT string_agg(s::text, ',' ORDER BY s.id) FROM {badge} s
                WHERE s.enrolment_id = %s),
            (SELECT string_agg(g::text, ',' ORDER BY g.id) FROM {app} g)
        ))
    """.format(**tables)  # noqa: S608 (table names from our models, values as parameters)
    pk = enrolment.pk
    rows = rows_digest(sql, [pk, enrolment.course_id, pk, pk, pk])
    if rows is None:
        return None
    return "|".join(
        str(part)
        for part in (
            rows,
            settings.DOCKERHUB_WEB_URL,
            settings.GITHUB_URL,
            public_check_minutes(),
            bool(settings.GITHUB_APP_ID),
            settings.GITHUB_APP_SLUG,
            bool(settings.GITHUB_APP_PRIVATE_KEY),
        )
    )
