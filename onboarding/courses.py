"""What the staff pages change: courses, the roster, corrections, retries and plan runs.

Pages never call Docker Hub or GitHub: whatever needs them (checking a connection, checking
a roster's Docker IDs, onboarding students) is enqueued here, after the transaction commits,
and the page follows the rows the workers write.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import identifiers, organisations
from accounts import roster_parsing as roster
from accounts.course_rules import course_validate
from accounts.credentials import dockerhub_client_for, github_client_for
from accounts.models import (
    Course,
    CourseRole,
    Enrolment,
    InviteState,
    OnboardingState,
    PreflightState,
    RoleInvitation,
    User,
)
from accounts.role_invitations import role_invite
from accounts.services import (
    TEAM_SETTINGS,
    enrolment_resend_invite,
    enrolment_reset_for_retry,
    old_teams_after,
)
from accounts.tokens import revoke_access
from builds import moving
from builds.backends import NEW_COURSE_BACKEND, backend_for
from builds.rebuild import RebuildAnswer, rebuild_many
from hubcourse import jobs
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import (
    ExternalServiceError,
    NotFound,
    RateLimited,
    ValidationError,
    ValidationErrors,
)
from hubcourse.models import JobStatus
from hubcourse.tasks import enqueue_on_commit
from onboarding import doctor, engine
from onboarding.doctor import Connection
from onboarding.models import ApplyRun, ConnectionCheck, RosterCheck, RosterImport
from onboarding.state import enrolment_refresh_state
from repositories.models import StudentRepository

# The service name in the audit log for changes made inside hubcourse itself.
HUBCOURSE = "hubcourse"

SECRET_FIELDS = ("dockerhub_token", "github_token")

# The staff pages' background work, queued by name (onboarding.tasks.checks registers them).
CONNECTION_CHECK_TASK = "onboarding.connection_check"
ROSTER_CHECK_TASK = "onboarding.roster_check"
INVITES_RESEND_TASK = "onboarding.invites_resend"


class ActionRefused(Exception):
    """A staff action that cannot be done as asked; ``str()`` says why, for a person."""


# -- courses -------------------------------------------------------------------------------------


def course_create(*, actor: User, values: dict[str, Any]) -> Course:
    """A new course with the actor as its first instructor.

    Raises ``hubcourse.errors.ValidationError`` (one per broken rule) when a setting breaks
    a course rule (``accounts.course_rules``)."""
    # Not the column's default (what courses made before had): Docker retires automated
    # builds on 1 April 2027, so a new course builds with GitHub Actions unless told.
    values = {"build_backend": NEW_COURSE_BACKEND, **values}
    values = {**values, **course_validate(values, course=None, actor=actor)}
    with transaction.atomic():
        course = Course(**_without_secrets(values))
        _set_secrets(course, values)
        course.full_clean()
        course.save()
        CourseRole.objects.create(course=course, user=actor, role=CourseRole.Role.INSTRUCTOR)
        audit_record(
            service=HUBCOURSE,
            action="course.create",
            target=course.slug,
            outcome=Outcome.OK,
            course=course,
            actor=actor,
        )
    return course


def course_update(*, course: Course, actor: User, values: dict[str, Any]) -> list[str]:
    """Save the course's settings; returns the names of what changed (never a secret's value).

    Raises ``hubcourse.errors.ValidationError`` as ``course_create`` does."""
    values = {**values, **course_validate(values, course=course, actor=actor)}
    changed: list[str] = []
    with transaction.atomic():
        locked = Course.objects.select_for_update().get(pk=course.pk)
        # The names the teams' stored ids stand for: a rename leaves those teams behind.
        applied = {
            setting: getattr(locked, setting)
            for setting, id_field in TEAM_SETTINGS
            if getattr(locked, id_field) is not None
        }
        for name, value in _without_secrets(values).items():
            if getattr(locked, name) != value:
                setattr(locked, name, value)
                changed.append(name)
        changed += _set_secrets(locked, values)
        if not changed:
            return []
        _forget_renamed_teams(locked, applied)
        locked.full_clean()
        locked.save()
        audit_record(
            service=HUBCOURSE,
            action="course.settings",
            target=locked.slug,
            outcome=Outcome.OK,
            course=locked,
            actor=actor,
            message="changed " + ", ".join(changed),
        )
    course.refresh_from_db()
    return changed


def _forget_renamed_teams(course: Course, applied: dict[str, str]) -> None:
    """A renamed team is another team: its stored id goes (the plan creates the new one and
    moves everyone to it) and the old name is kept until the old team can be deleted."""
    course.old_teams = old_teams_after(course, applied)
    for setting, id_field in TEAM_SETTINGS:
        name = applied.get(setting)
        if name is not None and name.lower() != str(getattr(course, setting)).lower():
            setattr(course, id_field, None)


def _without_secrets(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in values.items() if k not in SECRET_FIELDS and not k.startswith("clear_")
    }


def _set_secrets(course: Course, values: dict[str, Any]) -> list[str]:
    """Write-only fields: a new value replaces the stored one, an empty one keeps it."""
    changed = []
    now = timezone.now()
    for name in SECRET_FIELDS:
        new = values.get(name) or ""
        if new:
            setattr(course, name, new)
            setattr(course, f"{name}_set_at", now)
            changed.append(name)
        elif values.get(f"clear_{name}") and getattr(course, name):
            setattr(course, name, "")
            setattr(course, f"{name}_set_at", None)
            changed.append(name)
    return changed


def connection_check_start(*, course: Course, actor: User) -> ConnectionCheck:
    """Queue the doctor's checks for the course's credentials; the page follows the row."""
    check = ConnectionCheck.objects.create(course=course, created_by=actor)
    enqueue_on_commit(CONNECTION_CHECK_TASK, check.pk)
    return check


def connection_check_run(*, check_id: int) -> ConnectionCheck | None:
    """Run the doctor (reads only) and store its answers on the row."""

    check = jobs.take_lease(ConnectionCheck, check_id)
    if check is None:
        # Finished, gone, or being run by another worker.
        return ConnectionCheck.objects.filter(pk=check_id).first()
    jobs.mark_running(ConnectionCheck, check)
    course = check.course
    try:
        results = doctor.run_checks(Connection.for_course(course))
    except organisations.OrganisationNotUsable as error:
        results = [doctor.CheckResult("Docker Hub credentials", False, str(error))]
    check.results = [
        {"name": r.name, "ok": r.ok, "message": r.message, "hint": r.hint} for r in results
    ]
    for result in check.results:
        # The doctor is also a command for sites without courses; here the course's teams
        # are hubcourse's to make, so a missing one is expected before the first apply.
        if (
            result["name"] == "Docker Hub team"
            and not result["ok"]
            and "has no team" in str(result["message"])
        ):
            result.update(
                ok=True,
                message=f"The team {course.team} does not exist in {course.organisation} yet: "
                "hubcourse creates it when you apply the plan.",
                hint="",
            )
    now = timezone.now()
    jobs.release(
        ConnectionCheck,
        check.pk,
        results=check.results,
        status=JobStatus.DONE,
        total=len(check.results),
        done=len(check.results),
        finished_at=now,
    )
    check.refresh_from_db()
    return check


# -- roles ---------------------------------------------------------------------------------------


def role_grant(
    *, course: Course, actor: User, email: str, role: str
) -> CourseRole | RoleInvitation:
    """Offer a person a role: a signed, expiring invitation to their address (accounts.
    role_invitations). Only someone who already holds a role here has it changed at once.

    ``hubcourse.errors.ValidationError`` (key ``email`` or ``role``) when either is not valid.
    """
    problems: list[ValidationError] = []
    if not email.strip():
        problems.append(ValidationError("Give the person's email address.", key="email"))
    else:
        try:
            email = identifiers.email(email).value.lower()
        except ValidationError as error:
            problems.append(error.keyed("email"))
    if role not in CourseRole.Role.values:
        choices = " or ".join(str(v) for v in CourseRole.Role.values)
        problems.append(ValidationError(f"Choose {choices} as the role.", key="role"))
    ValidationErrors.raise_any(problems)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is not None and Enrolment.objects.filter(course=course, user=user).exists():
            raise ActionRefused(f"{email} is a student on this course and cannot also be staff.")
        existing = CourseRole.objects.filter(course=course, user=user).first() if user else None
        if existing is None:
            return role_invite(course=course, actor=actor, email=email, role=role)
        existing.role = role
        existing.save(update_fields=["role"])
        audit_record(
            service=HUBCOURSE,
            action="role.grant",
            target=email,
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=existing.get_role_display() + " (role changed)",
        )
    return existing


def role_revoke(*, course: Course, actor: User, role_id: int) -> None:
    with transaction.atomic():
        target = CourseRole.objects.select_related("user").filter(course=course, pk=role_id).first()
        if target is None:
            raise ActionRefused("That person has no role on this course any more.")
        if target.role == CourseRole.Role.INSTRUCTOR and (
            course.roles.filter(role=CourseRole.Role.INSTRUCTOR).count() == 1
        ):
            raise ActionRefused(
                "A course keeps at least one instructor: add another before removing this one."
            )
        target.delete()
        # Whatever the account could reach through the role ends with it.
        revoke_access(user=target.user, reason=f"role removed on {course.name}", actor=actor)
        audit_record(
            service=HUBCOURSE,
            action="role.revoke",
            target=target.user.email,
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=target.get_role_display(),
        )


# -- roster import -------------------------------------------------------------------------------

# One run of the outside checks works this long, then saves its progress and queues the next
# run (the task's soft time limit is above it), so a roster of thousands is checked in batches
# within the services' budgets and the preview shows how far it came.
CHECK_BATCH_SECONDS = 60.0
# After this the checks stop and the rows left are marked "not checked" (still importable).
CHECK_DEADLINE = dt.timedelta(minutes=30)


def _existing(course: Course) -> list[roster.Existing]:
    return [
        roster.Existing(*values)
        for values in course.enrolments.values_list(
            "pk", "identifier", "name", "email", "docker_id", "github_repo"
        )
    ]


def roster_input_check(
    *, text: str, upload_size: int | None, classroom_repo_template: str = ""
) -> str:
    """The rules for what a person hands in as a roster (a file or pasted lines, and the
    GitHub Classroom repository); returns the repository template in the domain's spelling.
    ``hubcourse.errors.ValidationError`` names the input at fault."""
    problems: list[ValidationError] = []
    template = classroom_repo_template.strip()
    if template and "{github_username}" not in template:
        problems.append(
            ValidationError(
                "Include {github_username} in the repository.", key="classroom_repo_template"
            )
        )
    if upload_size is not None and upload_size > roster.MAX_BYTES:
        problems.append(
            ValidationError(
                f"The file is {upload_size / 1024 / 1024:.1f} MB; rosters {roster.LIMITS} "
                "are accepted. Split it into smaller files.",
                key="file",
            )
        )
    elif upload_size is None and not text.strip():
        problems.append(ValidationError("Choose a CSV file or paste at least one line."))
    ValidationErrors.raise_any(problems)
    return template


def roster_preview(
    *,
    course: Course,
    actor: User,
    data: bytes | str,
    source: str,
    classroom_repo_template: str = "",
) -> RosterImport:
    """Parse and classify a roster without saving a student; outside checks are queued.

    ``roster.RosterError`` when the file as a whole cannot be used.
    """
    parsed = roster.parse_roster(data, classroom_repo_template=classroom_repo_template)
    rows = roster.classify(parsed.rows, _existing(course))
    for row in rows:
        if _checkable(row):
            row.check = roster.Check.PENDING
    total = sum(1 for row in rows if row.check == roster.Check.PENDING)
    preview = RosterImport.objects.create(
        course=course,
        created_by=actor,
        source=source[:255],
        format=parsed.format,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        notices=parsed.notices,
        rows=[row.as_dict() for row in rows],
        check_deadline=timezone.now() + CHECK_DEADLINE if total else None,
        status=RosterImport.Status.CHECKING if total else RosterImport.Status.READY,
    )
    if total:
        # The checks are a job like any other: one lease, one progress shape.
        RosterCheck.objects.create(roster_import=preview, created_by=actor, total=total)
        enqueue_on_commit(ROSTER_CHECK_TASK, preview.pk)
    return preview


def _checkable(row: roster.Row) -> bool:
    """Rows whose new Docker ID or repository is worth asking Docker Hub or GitHub about."""
    if not row.imported:
        return False
    if row.action == roster.Action.NEW:
        return bool(row.docker_id or row.github_repo)
    return "docker_id" in row.updates or "github_repo" in row.updates


def _needs(row: roster.Row, check: str) -> bool:
    return (
        row.check == roster.Check.PENDING
        and bool(getattr(row, check))
        and check not in row.checks_done
        and (check != "docker_id" or row.action == roster.Action.NEW or check in row.updates)
        and (check != "github_repo" or row.action == roster.Action.NEW or check in row.updates)
    )


def _mark_done(row: roster.Row, check: str) -> None:
    if check not in row.checks_done:
        row.checks_done.append(check)
    if not any(_needs(row, other) for other in ("docker_id", "github_repo")):
        row.check = roster.Check.DONE
        roster.settle(row)


def roster_check(
    *, import_id: int, budget_seconds: float = CHECK_BATCH_SECONDS
) -> RosterImport | None:
    """One batch of the outside checks: Docker IDs through Docker Hub's dry-run bulk invite
    (1000 a request), then GitHub repositories one read each, paced by the governor, until
    ``budget_seconds`` are spent or GitHub asks to wait; progress is saved and the next batch
    queued. Past the deadline, the rows left are marked "not checked" and the preview is ready.
    """
    preview = RosterImport.objects.select_related("course").filter(pk=import_id).first()
    if preview is None or preview.status != RosterImport.Status.CHECKING:
        return preview
    check = jobs.take_lease(RosterCheck, import_id)
    if check is None:
        # Another worker holds this batch, or the checks are over.
        return preview
    jobs.mark_running(RosterCheck, check)
    if preview.check_deadline is not None and timezone.now() >= preview.check_deadline:
        return roster_checks_finish(
            preview=preview,
            why="the checks ran out of time",
        )
    course = preview.course
    rows = [roster.Row.from_dict(data) for data in preview.rows]
    notes = [preview.check_error] if preview.check_error else []
    started = time.monotonic()
    again_in: float | None = None

    docker_rows = [row for row in rows if _needs(row, "docker_id")]
    if docker_rows:
        docker_ids = sorted({row.docker_id for row in docker_rows})
        try:
            # No team: it may not exist yet, and only the Docker IDs are being checked.
            answers = dockerhub_client_for(course).bulk_invite(
                course.organisation, docker_ids, dry_run=True
            )
        except ExternalServiceError as error:
            notes.append(f"The Docker IDs could not be checked: {error}.")
            for row in docker_rows:
                row.check_warnings.append(f"Docker ID not checked: {error}")
                _mark_done(row, "docker_id")
        else:
            unknown = {
                a.invitee.lower() for a in answers if a.status == "invalid_email_or_docker_id"
            }
            for row in docker_rows:
                if row.docker_id in unknown:
                    row.docker_id_unknown = True
                    row.check_warnings.append(
                        f"Docker Hub has no user {row.docker_id}: imported without the Docker "
                        "ID (kept beside the student, marked not found on Docker Hub); the "
                        "student gives theirs when they join, or you correct it"
                    )
                _mark_done(row, "docker_id")

    repo_rows: dict[str, list[roster.Row]] = {}
    for row in rows:
        if _needs(row, "github_repo"):
            repo_rows.setdefault(row.github_repo, []).append(row)
    if repo_rows:
        try:
            github = github_client_for(course)
        except ValueError:
            notes.append("The GitHub repositories were not checked: no GitHub token is set.")
            for group in repo_rows.values():
                for row in group:
                    row.check = roster.Check.NOT_CHECKED
                    row.check_warnings.append("GitHub repository not checked: no GitHub token")
                    roster.settle(row)
            repo_rows = {}
        for index, (full_name, group) in enumerate(repo_rows.items()):
            # At least one read per batch, so every batch makes progress.
            if index and time.monotonic() - started >= budget_seconds:
                again_in = 0.0
                break
            owner, name = full_name.split("/", 1)
            problem = ""
            try:
                github.get_repository(owner, name)
            except NotFound:
                problem = (
                    f"GitHub has no repository {full_name}, or the course's token cannot see "
                    "it: imported; the pre-flight check reports it until it exists"
                )
            except RateLimited as error:
                again_in = max(1.0, error.seconds_to_wait())
                break
            except ExternalServiceError as error:
                if not error.permanent:
                    again_in = 30.0
                    break
                problem = f"GitHub repository unreachable: {error}"
            for row in group:
                if problem:
                    row.check_warnings.append(problem)
                _mark_done(row, "github_repo")

    pending = sum(1 for row in rows if row.check == roster.Check.PENDING)
    done = check.total - pending
    values: dict[str, Any] = {
        "rows": [row.as_dict() for row in rows],
        "check_error": " ".join(dict.fromkeys(n for n in notes if n)),
    }
    if not pending:
        values["status"] = RosterImport.Status.READY
    RosterImport.objects.filter(pk=import_id, status=RosterImport.Status.CHECKING).update(**values)
    jobs.release(
        RosterCheck,
        import_id,
        done=done,
        error=values["check_error"][:2000],
        **({} if pending else {"status": JobStatus.DONE, "finished_at": timezone.now()}),
    )
    if pending:
        delay = again_in or 0.0
        enqueue_on_commit(ROSTER_CHECK_TASK, import_id, countdown=delay)
    preview.refresh_from_db()
    return preview


def _check_total(preview: RosterImport, left: int) -> int:
    check = RosterCheck.objects.filter(pk=preview.pk).first()
    return check.total if check is not None else left


def roster_checks_finish(*, preview: RosterImport, why: str) -> RosterImport:
    """Stop the outside checks: the rows not reached are marked "not checked" (still
    importable) and the preview is ready. For a deadline, a time limit, or a person's Stop."""
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().filter(pk=preview.pk).first()
        if locked is None or locked.status != RosterImport.Status.CHECKING:
            preview.refresh_from_db()
            return preview
        rows = [roster.Row.from_dict(data) for data in locked.rows]
        left = 0
        for row in rows:
            if row.check == roster.Check.PENDING:
                left += 1
                row.check = roster.Check.NOT_CHECKED
                row.check_warnings.append(f"not checked: {why}")
                roster.settle(row)
        note = (
            f"{left} of {_check_total(locked, left)} row(s) were not checked ({why}); they can be "
            "imported, and the pre-flight check looks at them before onboarding."
            if left
            else ""
        )
        locked.rows = [row.as_dict() for row in rows]
        locked.check_error = " ".join(n for n in (locked.check_error, note) if n)
        locked.status = RosterImport.Status.READY
        locked.save(update_fields=["rows", "check_error", "status"])
        RosterCheck.objects.filter(pk=locked.pk).update(
            status=JobStatus.DONE, lease_until=None, finished_at=timezone.now()
        )
    preview.refresh_from_db()
    return preview


def roster_settle_overdue(preview: RosterImport) -> RosterImport:
    """A preview still checking after its deadline (a worker died, the queue was lost) is
    finished when it is looked at: it never stays "checking" for ever."""
    if (
        preview.status == RosterImport.Status.CHECKING
        and preview.check_deadline is not None
        and timezone.now() >= preview.check_deadline
    ):
        return roster_checks_finish(preview=preview, why="the checks ran out of time")
    return preview


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    skipped: int
    apply: ApplyRun | None


def roster_confirm(*, preview: RosterImport, actor: User, apply: bool = True) -> ImportResult:
    """Save the previewed roster in one transaction, then apply the course's plan (unless
    ``apply`` is False: the instructor reviews the plan and applies it later).

    The rows are classified again against the roster as it is now (someone may have
    changed it since the preview); the outside checks' findings are kept. Any failure
    leaves the roster exactly as it was.
    """
    course = preview.course
    roster_settle_overdue(preview)
    try:
        with transaction.atomic():
            locked = RosterImport.objects.select_for_update().get(pk=preview.pk)
            if locked.status != RosterImport.Status.READY:
                raise ActionRefused(
                    "This import was already confirmed or discarded."
                    if locked.status != RosterImport.Status.CHECKING
                    else "The checks are still running: wait for the preview to be ready, or "
                    "stop the checks and import the rows not checked as they are."
                )
            stored = [roster.Row.from_dict(data) for data in locked.rows]
            rows = roster.classify(stored, _existing(course))
            created = updated = 0
            for row in rows:
                if not row.imported:
                    continue
                docker_id = "" if row.docker_id_unknown else row.docker_id
                not_found = row.docker_id if row.docker_id_unknown else ""
                if row.enrolment_id is None:
                    enrolment = Enrolment(
                        course=course,
                        identifier=row.identifier,
                        name=row.name,
                        email=row.email,
                        docker_id=docker_id,
                        github_repo=row.github_repo,
                    )
                    # The parser checked every value against its column; this is the last
                    # guard, turned into words below rather than a database error.
                    enrolment.full_clean(validate_unique=False, validate_constraints=False)
                    Enrolment.objects.create(
                        course=course,
                        identifier=row.identifier,
                        name=row.name,
                        email=row.email,
                        docker_id=docker_id,
                        docker_id_not_found=not_found,
                        github_repo=row.github_repo,
                    )
                    created += 1
                else:
                    enrolment = Enrolment.objects.get(pk=row.enrolment_id, course=course)
                    changes = {k: new for k, (_, new) in row.updates.items()}
                    if not_found and not enrolment.docker_id:
                        changes["docker_id_not_found"] = not_found
                    _apply_changes(enrolment, changes)
                    updated += 1
            skipped = sum(1 for row in rows if not row.imported)
            locked.rows = [row.as_dict() for row in rows]
            locked.status = RosterImport.Status.APPLIED
            locked.applied_at = timezone.now()
            locked.summary = {"created": created, "updated": updated, "skipped": skipped}
            locked.save(update_fields=["rows", "status", "applied_at", "summary"])
            audit_record(
                service=HUBCOURSE,
                action="roster.import",
                target=preview.source,
                outcome=Outcome.OK,
                course=course,
                actor=actor,
                message=f"{created} added, {updated} updated, {skipped} skipped",
            )
            run = (
                course_apply(course=course, actor=actor) if apply and (created or updated) else None
            )
    except IntegrityError:
        raise ActionRefused(
            "The roster changed while you were reviewing it (a Docker ID or identifier is now "
            "taken). Nothing was imported: upload the file again to see a fresh preview."
        ) from None
    except DjangoValidationError as error:
        raise ActionRefused(
            f"A row cannot be stored ({'; '.join(error.messages)}). Nothing was imported: "
            "fix the file and import it again."
        ) from None
    return ImportResult(created, updated, skipped, run)


def roster_discard(*, preview: RosterImport) -> None:
    RosterImport.objects.filter(
        pk=preview.pk, status__in=(RosterImport.Status.READY, RosterImport.Status.CHECKING)
    ).update(status=RosterImport.Status.DISCARDED)


# -- corrections ---------------------------------------------------------------------------------


def _apply_changes(enrolment: Enrolment, changes: dict[str, str]) -> None:
    """Save new values on an enrolment and forget what they invalidate.

    A new Docker ID is a different Docker Hub user: membership, invite and pre-flight start
    over, and the repository (named after the Docker ID) is made again under the new name;
    the old one stays on Docker Hub. A new GitHub repository needs pre-flight and the build
    set up again from it.
    """
    for name, value in changes.items():
        setattr(enrolment, name, value)
    # Field checks only: the database enforces uniqueness (IntegrityError, caught by callers).
    enrolment.full_clean(validate_unique=False, validate_constraints=False)
    update: dict[str, Any] = dict(changes)
    if "docker_id" in changes or "github_repo" in changes:
        update.update(
            preflight_state=PreflightState.NOT_RUN,
            preflight_report=[],
            preflight_at=None,
            error_step="",
            error_message="",
            error_permanent=False,
            error_at=None,
            next_retry_at=None,
            attempts=0,
        )
    if "docker_id" in changes:
        update.update(
            # A Docker ID is given: the unknown one the roster had is no longer the question.
            docker_id_not_found="",
            docker_id_verified_at=None,
            invite_state=InviteState.NONE,
            invite_id="",
            invited_at=None,
            member_at=None,
            team_at=None,
        )
        StudentRepository.objects.filter(enrolment=enrolment).delete()
    elif "github_repo" in changes:
        for repository in StudentRepository.objects.filter(enrolment=enrolment):
            backend_for(enrolment.course).forget(repository, hub_repository_gone=False)
        StudentRepository.objects.filter(enrolment=enrolment).update(
            build_configured_at=None, first_build_triggered_at=None
        )
    Enrolment.objects.filter(pk=enrolment.pk).update(**update, updated_at=timezone.now())
    enrolment_refresh_state(enrolment_id=enrolment.pk)


def enrolment_correct(
    *, enrolment: Enrolment, actor: User, docker_id: str, github_repo: str, reason: str
) -> list[str]:
    """An instructor's correction of a wrong Docker ID or repository, in the audit log.

    Returns the labels of what changed; the student's onboarding is planned again.
    """
    changes = {
        name: value
        for name, value in (("docker_id", docker_id), ("github_repo", github_repo))
        if value != getattr(enrolment, name)
    }
    if not changes:
        return []
    before = {name: getattr(enrolment, name) for name in changes}
    try:
        with transaction.atomic():
            locked = (
                Enrolment.objects.select_for_update(of=("self",))
                .select_related("course")
                .get(pk=enrolment.pk)
            )
            _apply_changes(locked, changes)
            described = "; ".join(
                f"{roster.FIELD_LABELS[n]}: {before[n] or '(none)'} → {v or '(none)'}"
                for n, v in changes.items()
            )
            audit_record(
                service=HUBCOURSE,
                action="enrolment.correct",
                target=enrolment.identifier,
                outcome=Outcome.OK,
                enrolment=locked,
                actor=actor,
                message=described + (f". Reason: {reason}" if reason else ""),
            )
            course_apply(course=locked.course, actor=actor, enrolment_ids=[locked.pk])
    except IntegrityError:
        raise ActionRefused(
            f"Another student on this course already has the Docker ID {docker_id}."
        ) from None
    enrolment.refresh_from_db()
    return [roster.FIELD_LABELS[n] for n in changes]


# -- plans, retries and bulk actions -------------------------------------------------------------


def course_apply(
    *, course: Course, actor: User | None, enrolment_ids: Iterable[int] | None = None
) -> ApplyRun:
    """Enqueue the plan (for the course, or only some students) and remember its size."""

    plan = engine.plan_course(course)
    if enrolment_ids is not None:
        wanted = set(enrolment_ids)
        plan.steps = [s for s in plan.steps if s.enrolment_id is None or s.enrolment_id in wanted]
    actionable = plan.actionable
    now = timezone.now()
    run = ApplyRun.objects.create(
        course=course,
        created_by=actor,
        total=len(actionable),
        students=len({s.enrolment_id for s in actionable if s.enrolment_id is not None}),
        status=JobStatus.RUNNING if actionable else JobStatus.DONE,
        started_at=now,
        finished_at=None if actionable else now,
    )
    if actionable:
        engine.apply_plan(plan, actor_id=actor.pk if actor else None)
    return run


def course_move(*, course: Course, actor: User | None, count: int | None) -> ApplyRun:
    """Start moving students to the course's new build backend (``builds.moving``): ``count``
    not started yet (a canary), or every one not moved yet; then apply the plan, which
    takes each started move a stage on. A count below one moves nobody."""

    if count is not None and count < 1:
        raise ValidationError("Move at least one student.", key="count")
    admitted = moving.move_admit(course, count=count)
    audit_record(
        service=HUBCOURSE,
        action="build.move",
        target=course.slug,
        outcome=Outcome.OK if admitted else Outcome.NOOP,
        course=course,
        actor=actor,
        message=(
            f"started moving {len(admitted)} student(s) to {backend_for(course).label}"
            + (" (the first ones)" if count is not None else " (the rest)")
        ),
    )
    return course_apply(course=course, actor=actor)


BULK_ACTIONS = {
    "retry": "Retry failed steps",
    "invite": "Re-send invitations",
    "preflight": "Re-run pre-flight checks",
    "rebuild": "Rebuild the latest commit",
}


def bulk_selection_check(*, ids: list[int] | None, everyone: bool) -> None:
    """A bulk action names its students, or asks for everyone matching the list's filters."""
    if not everyone and not ids:
        raise ValidationError("Select at least one student, or choose all matching.", key="ids")


def enrolments_act(*, course: Course, actor: User, action: str, enrolment_ids: list[int]) -> int:
    """One of the board's ``BULK_ACTIONS`` for these students (the page's buttons and the
    API's alike); returns how many it applied to."""
    if action == "retry":
        return enrolments_retry(course=course, actor=actor, enrolment_ids=enrolment_ids)
    if action == "invite":
        return enrolments_resend_invites(course=course, actor=actor, enrolment_ids=enrolment_ids)
    if action == "preflight":
        return enrolments_rerun_preflight(course=course, actor=actor, enrolment_ids=enrolment_ids)
    if action == "rebuild":
        answers = enrolments_rebuild(course=course, actor=actor, enrolment_ids=enrolment_ids)
        return sum(1 for answer in answers if answer.accepted)
    raise ValidationError(f"Choose one of: {', '.join(BULK_ACTIONS)}.", key="action", value=action)


def enrolments_rebuild(
    *, course: Course, actor: User, enrolment_ids: list[int]
) -> list[RebuildAnswer]:
    """Rebuild these students' latest commits; each answer says whether, and why not."""
    return rebuild_many(course=course, enrolment_ids=enrolment_ids, actor=actor)


def enrolments_retry(*, course: Course, actor: User, enrolment_ids: list[int]) -> int:
    """Clear the students' errors (a failed pre-flight included) and run their steps again."""
    stuck = list(
        course.enrolments.filter(pk__in=enrolment_ids)
        .filter(Q(error_step__gt="") | Q(preflight_state=PreflightState.FAILED))
        .values_list("pk", flat=True)
    )
    for enrolment_id in stuck:
        enrolment_reset_for_retry(enrolment_id=enrolment_id)
        _release(enrolment_id)
    _audit_bulk(course, actor, "enrolment.retry", len(stuck))
    course_apply(course=course, actor=actor, enrolment_ids=enrolment_ids)
    return len(stuck)


def enrolments_rerun_preflight(*, course: Course, actor: User, enrolment_ids: list[int]) -> int:
    """Forget the pre-flight results so the next pass checks the repositories again."""
    ids = list(course.enrolments.filter(pk__in=enrolment_ids).values_list("pk", flat=True))
    Enrolment.objects.filter(pk__in=ids).update(
        preflight_state=PreflightState.NOT_RUN, preflight_at=None, updated_at=timezone.now()
    )
    for enrolment_id in ids:
        enrolment_reset_for_retry(enrolment_id=enrolment_id)
        _release(enrolment_id)
    _audit_bulk(course, actor, "preflight.rerun", len(ids))
    course_apply(course=course, actor=actor, enrolment_ids=ids)
    return len(ids)


def enrolments_resend_invites(*, course: Course, actor: User, enrolment_ids: list[int]) -> int:
    """Send the invite again to students who are not members yet.

    A pending invite is re-sent as it is (Docker Hub mails it again, by a worker); an
    expired, cancelled or missing one is made afresh by the next bulk invite.
    """
    waiting = course.enrolments.filter(pk__in=enrolment_ids, member_at__isnull=True).exclude(
        docker_id=""
    )
    pending = list(
        waiting.filter(invite_state=InviteState.PENDING)
        .exclude(invite_id="")
        .values_list("pk", flat=True)
    )
    others = list(waiting.exclude(pk__in=pending).values_list("pk", flat=True))
    Enrolment.objects.filter(pk__in=others).exclude(invite_state=InviteState.NONE).update(
        invite_state=InviteState.EXPIRED
    )
    for enrolment_id in others:
        enrolment_reset_for_retry(enrolment_id=enrolment_id)
    if pending:
        enqueue_on_commit(INVITES_RESEND_TASK, course.pk, pending, actor.pk)
    if others:
        course_apply(course=course, actor=actor, enrolment_ids=others)
    _audit_bulk(course, actor, "invite.resend", len(pending) + len(others))
    return len(pending) + len(others)


def invites_resend(*, course_id: int, enrolment_ids: list[int], actor_id: int | None) -> int:
    """Worker side of re-sending pending invites: one ``PATCH .../resend`` each."""

    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        return 0
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    client = dockerhub_client_for(course)
    sent = 0
    for enrolment in course.enrolments.filter(
        pk__in=enrolment_ids, invite_state=InviteState.PENDING
    ).exclude(invite_id=""):
        try:
            resent = enrolment_resend_invite(
                client=client, course=course, enrolment=enrolment, actor=actor
            )
        except ExternalServiceError as error:
            audit_record(
                service="Docker Hub",
                action="invite.resend",
                target=enrolment.docker_id,
                outcome=Outcome.ERROR,
                course=course,
                enrolment=enrolment,
                actor=actor,
                message=error,
            )
            if not error.permanent:
                raise
            continue
        sent += resent
    return sent


def _release(enrolment_id: int) -> None:
    # A person asked for it now: a chain from an earlier pass must not hold the student back.

    engine.pipeline_release(enrolment_id)


def _audit_bulk(course: Course, actor: User, action: str, count: int) -> None:
    audit_record(
        service=HUBCOURSE,
        action=action,
        target=course.slug,
        outcome=Outcome.OK,
        course=course,
        actor=actor,
        message=f"asked for {count} student(s)",
    )


def apply_run_progress(
    course: Course, run: ApplyRun, *, plan: engine.Plan | None = None
) -> dict[str, Any]:
    """How far an applied plan has come: steps still to do, from a fresh plan of the rows
    (``plan``, when the caller has just made one)."""

    if plan is None:
        plan = engine.plan_course(course)
    remaining = len(plan.actionable)
    done = min(max(run.total - remaining, 0), run.total)
    # A failed step, or a failed first build (state "needs attention"), as the board counts them.
    errors = course.enrolments.filter(~Q(error_step="") | Q(state=OnboardingState.ERROR)).count()
    waiting = course.enrolments.filter(invite_state="pending", member_at__isnull=True).count()
    finished = remaining == 0 or run.finished_at is not None
    # The row keeps the count, so lists and the API show the same progress as this page.
    changes: dict[str, Any] = {"done": done} if done > run.done and not run.finished_at else {}
    if remaining == 0 and run.finished_at is None:
        changes.update(status=JobStatus.DONE, done=run.total, finished_at=timezone.now())
    if changes:
        ApplyRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(**changes)
        run.refresh_from_db()
    return {
        "run": run,
        "progress": run.progress(),
        "remaining": remaining,
        "done": done,
        "percent": 100 if finished else run.percent,
        "errors": errors,
        "waiting": waiting,
        "finished": finished,
    }
