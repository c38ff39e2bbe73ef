"""Offboarding a course at the end of term: free the seats, keep the record.

The wizard first shows a preview built from the database alone (what hubcourse knows of
the students, their repositories and the organisation's last read), and starts only when
the course name is typed. The course is archived at once, so the engine stops onboarding its
students. Then, student by student and step by step, in this order:

1. snapshot the last image digest (read from Docker Hub), commit and build state;
2. set every student-facing team's permission on the repository to ``read``;
3. remove the build configuration through the course's build backend;
4. remove the student from the course team (and their own team);
5. remove them from the organisation (or cancel their pending invite);
6. archive or delete the repository.

Never removed from the organisation: an owner, the account hubcourse signs in with, a
student of another active course in the same organisation (checked again, live, when the
step runs), or anyone this course did not invite (it removes only the members it added).
Only the repositories this course created, or a site admin let it adopt, are archived or
deleted; any other is listed in the preview as kept and left untouched. Each (student, step) records its completion, so a failure stops the job with a
sentence, and resuming carries on from the first thing not done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import managed
from accounts.credentials import dockerhub_client_for, dockerhub_credentials_for
from accounts.models import Course, Enrolment, InviteState, OrgMember, User
from builds import moving
from builds.backends import backend_for
from builds.models import Build
from hubcourse import jobs
from hubcourse.audit import Outcome as AuditOutcome
from hubcourse.audit import audit_record
from hubcourse.errors import NotFound, ValidationError
from hubcourse.models import JobStatus
from hubcourse.tasks import enqueue_on_commit
from integrations.dockerhub.client import SERVICE, DockerHubClient
from onboarding.models import STEP_ORDER, Offboarding, OffboardingItem
from repositories.models import StudentRepository

# Students per chunk: each needs one to three calls per step.
OFFBOARDING_TASK = "onboarding.offboarding"  # queued by name (onboarding.tasks registers it)
CHUNK = 25
# What a step notes on a student's record when it changed something (the report counts them).
NOTE_TEAM = "removed from team"
NOTE_ORGANISATION = "removed from the organisation"
NOTE_INVITE = "pending invite cancelled"
REASON_OWNER = "an owner of the organisation"
REASON_SERVICE = "the account hubcourse signs in with"
REASON_NOT_OURS = "not invited or added by this course"
REPOSITORY_NOT_OURS = "not created or adopted by this course: left untouched"
# Reasons that leave an account exactly as it is, in its teams too.
UNTOUCHED = (REASON_OWNER, REASON_SERVICE, REASON_NOT_OURS)


class ConfirmationError(ValueError):
    """The typed confirmation does not match, or the course is being offboarded already."""


# -- safeguards --------------------------------------------------------------------------------


def service_accounts(course: Course) -> set[str]:
    """The accounts hubcourse signs in with for this course (never removed)."""
    names = {dockerhub_credentials_for(course)[0], str(settings.DOCKERHUB_USERNAME)}
    return {name.lower() for name in names if name}


def other_active_courses(course: Course, docker_ids: Iterable[str]) -> dict[str, list[Course]]:
    """Docker ID (lower case) -> the other active courses in the same organisation enrolling it."""
    wanted = {d.lower() for d in docker_ids if d}
    found: dict[str, list[Course]] = defaultdict(list)
    if not wanted:
        return found
    rows = (
        Enrolment.objects.annotate(docker_lower=Lower("docker_id"))
        .filter(docker_lower__in=wanted, course__archived_at__isnull=True)
        .filter(course__organisation__iexact=course.organisation)
        .exclude(course=course)
        .select_related("course")
    )
    for enrolment in rows:
        found[enrolment.docker_id.lower()].append(enrolment.course)
    return found


def _keep_reasons(
    course: Course, docker_ids: Iterable[str], owners: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(keep in team, keep in organisation): Docker ID (lower) -> the reason, for those kept."""
    docker_ids = [d.lower() for d in docker_ids if d]
    others = other_active_courses(course, docker_ids)
    accounts = service_accounts(course)
    invited = managed.owned_names(course, managed.Kind.INVITATION, docker_ids)
    team, organisation = {}, {}
    for docker_id in docker_ids:
        courses = others.get(docker_id, [])
        if docker_id in owners:
            organisation[docker_id] = team[docker_id] = REASON_OWNER
            continue
        if docker_id in accounts:
            organisation[docker_id] = team[docker_id] = REASON_SERVICE
            continue
        if docker_id not in invited:
            organisation[docker_id] = team[docker_id] = REASON_NOT_OURS
            continue
        if courses:
            names = ", ".join(sorted(c.name for c in courses))
            organisation[docker_id] = f"a student of another active course ({names})"
        sharing = [c for c in courses if c.team.lower() == course.team.lower()]
        if sharing:
            names = ", ".join(sorted(c.name for c in sharing))
            team[docker_id] = f"team {course.team} is also the team of {names}"
    return team, organisation


def _known_owners(course: Course) -> set[str]:
    return {
        name.lower()
        for name in OrgMember.objects.filter(
            organisation__iexact=course.organisation, role__iexact="owner"
        ).values_list("username", flat=True)
    }


# -- the preview -------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    identifier: str
    name: str
    docker_id: str
    repository: str
    build_configured: bool
    keep_in_team: str
    keep_in_organisation: str
    invite_pending: bool
    # Why the student's repository is left as it is ("" when offboarding archives or deletes it).
    keep_repository: str = ""


@dataclass
class Preview:
    course: Course
    rows: list[PreviewRow]
    owners_known: bool
    backend: str
    counts: dict[str, int] = field(default_factory=dict)
    # What removing the builds also removes, in the backend's words ("" for nothing more).
    removal_note: str = ""


def offboarding_preview(course: Course) -> Preview:
    """Exactly what offboarding will do, from the database (no call to Docker Hub)."""
    enrolments = list(
        Enrolment.objects.filter(course=course).select_related("repository").order_by("identifier")
    )
    owners = _known_owners(course)
    keep_team, keep_org = _keep_reasons(course, [e.docker_id for e in enrolments], owners)
    ours = managed.owned_names(course, managed.Kind.REPOSITORY)
    rows = []
    for enrolment in enrolments:
        repository = _repository(enrolment)
        key = enrolment.docker_id.lower()
        keep_repository = ""
        if (
            repository is not None
            and repository.created_at
            and repository.full_name.lower() not in ours
        ):
            keep_repository = f"{repository.full_name}: {REPOSITORY_NOT_OURS}"
        rows.append(
            PreviewRow(
                identifier=enrolment.identifier,
                name=enrolment.name,
                docker_id=enrolment.docker_id,
                repository=repository.full_name
                if repository and repository.created_at and not keep_repository
                else "",
                build_configured=bool(repository and _has_build(repository, course)),
                keep_in_team=keep_team.get(key, ""),
                keep_in_organisation=keep_org.get(key, ""),
                invite_pending=enrolment.invite_state == InviteState.PENDING
                and enrolment.member_at is None,
                keep_repository=keep_repository,
            )
        )
    with_id = [r for r in rows if r.docker_id]
    # A member or a pending invitation holds a paid seat; removing it from the organisation
    # (or cancelling the invitation) frees the seat.
    holding = {
        e.docker_id.lower()
        for e in enrolments
        if e.docker_id and (e.member_at is not None or e.invite_state == InviteState.PENDING)
    }
    counts = {
        "students": len(rows),
        "repositories": sum(1 for r in rows if r.repository),
        "builds": sum(1 for r in rows if r.build_configured),
        "team": sum(1 for r in with_id if not r.keep_in_team),
        "organisation": sum(1 for r in with_id if not r.keep_in_organisation),
        "kept": sum(1 for r in with_id if r.keep_in_organisation),
        "repositories_kept": sum(1 for r in rows if r.keep_repository),
        "seats": sum(
            1 for r in with_id if not r.keep_in_organisation and r.docker_id.lower() in holding
        ),
    }
    backend = backend_for(course)
    return Preview(course, rows, bool(owners), backend.label, counts, backend.removal_note)


def _repository(enrolment: Enrolment) -> StudentRepository | None:
    try:
        return enrolment.repository
    except StudentRepository.DoesNotExist:
        return None


def _has_build(repository: StudentRepository, course: Course) -> bool:
    return bool(repository.build_configured_at) or any(
        backend.has_configuration(repository) for backend in moving.holding(course, repository)
    )


# -- starting and resuming ---------------------------------------------------------------------


def confirmation_check(*, course_name: str, confirmation: str) -> None:
    """Offboarding is confirmed by typing the course's name exactly."""
    if confirmation.strip() != course_name:
        raise ValidationError(
            f"This does not match the course name. Type {course_name} exactly. "
            "Nothing has been changed.",
            key="confirmation",
            value=confirmation,
        )


def offboarding_start(
    *, course: Course, repository_action: str, confirmation: str, actor: User | None
) -> Offboarding:
    """Archive the course and queue its offboarding; the typed name must match exactly
    (``hubcourse.errors.ValidationError`` when it does not, or the repository action is not
    one of the choices; ``ConfirmationError`` when the course is being offboarded already)."""
    confirmation_check(course_name=course.name, confirmation=confirmation)
    if repository_action not in Offboarding.RepositoryAction.values:
        raise ValidationError(
            "Choose whether to archive or delete the repositories.",
            key="repository_action",
            value=repository_action,
        )
    preview = offboarding_preview(course)
    with transaction.atomic():
        course = Course.objects.select_for_update().get(pk=course.pk)
        if Offboarding.objects.filter(course=course).exclude(status=JobStatus.DONE).exists():
            raise ConfirmationError(
                "This course is being offboarded already: follow or resume that job."
            )
        now = timezone.now()
        job = Offboarding.objects.create(
            course=course,
            repository_action=repository_action,
            created_by=actor,
            total=len(preview.rows) * len(STEP_ORDER),
        )
        enrolments = {
            e.identifier: e
            for e in Enrolment.objects.filter(course=course).select_related("repository")
        }
        OffboardingItem.objects.bulk_create(
            [
                OffboardingItem(
                    offboarding=job,
                    enrolment=enrolments.get(row.identifier),
                    identifier=row.identifier,
                    name=row.name,
                    docker_id=row.docker_id,
                    repository=row.repository,
                    keep_in_team=row.keep_in_team,
                    keep_in_organisation=row.keep_in_organisation,
                )
                for row in preview.rows
            ],
            batch_size=500,
        )
        if course.archived_at is None:
            # The engine reconciles active courses only: without this it would invite the
            # students straight back.
            Course.objects.filter(pk=course.pk).update(archived_at=now)
        audit_record(
            service="hubcourse",
            action="course.offboard",
            target=course.slug,
            outcome=AuditOutcome.OK,
            course=course,
            actor=actor,
            message=(
                f"offboarding of {len(preview.rows)} student(s) started; repositories: "
                f"{repository_action}; the course is archived"
            ),
        )
    enqueue(job)
    return job


def enqueue(job: Offboarding) -> None:
    enqueue_on_commit(OFFBOARDING_TASK, job.pk)


def offboarding_resume(*, job_id: int, actor: User | None) -> bool:
    if not jobs.mark_resumed(Offboarding, job_id):
        return False
    job = Offboarding.objects.select_related("course").get(pk=job_id)
    OffboardingItem.objects.filter(offboarding=job).exclude(error="").update(error="")
    audit_record(
        service="hubcourse",
        action="course.offboard_resume",
        target=job.course.slug,
        outcome=AuditOutcome.OK,
        course=job.course,
        actor=actor,
        message=f"resumed at step: {job.get_step_display()}",
    )
    enqueue(job)
    return True


# -- the work ----------------------------------------------------------------------------------


def _step_field(step: str) -> str:
    return f"{step}_at"


def offboarding_run_chunk(*, job_id: int, client: DockerHubClient | None = None) -> bool:
    """Do the next students of the current step; True while more work remains."""
    job = jobs.take_lease(Offboarding, job_id)
    if job is None:
        return False
    try:
        course = job.course
        step, items = _next_items(job)
        if step is None:
            _finish(job)
            return False
        jobs.mark_running(Offboarding, job)
        Offboarding.objects.filter(pk=job.pk).update(step=step)
        runner = _Runner(job, course, client or dockerhub_client_for(course))
        for item in items:
            try:
                runner.run(step, item)
            except Exception as error:
                item.error = f"{Offboarding.Step(step).label}: {error}"[:2000]
                item.save(update_fields=["error"])
                raise
            setattr(item, _step_field(step), timezone.now())
            item.error = ""
            item.save(update_fields=[_step_field(step), "notes", "error"])
            Offboarding.objects.filter(pk=job.pk).update(done=_done_count(job))
    except BaseException:
        jobs.release(Offboarding, job_id)
        raise
    jobs.release(Offboarding, job_id)
    job.refresh_from_db()
    if _next_items(job)[0] is None:
        _finish(job)
        return False
    return True


def _next_items(job: Offboarding) -> tuple[str | None, list[OffboardingItem]]:
    for step in STEP_ORDER:
        pending = list(
            job.items.filter(**{f"{_step_field(step)}__isnull": True})
            .select_related("enrolment")
            .order_by("identifier")[:CHUNK]
        )
        if pending:
            return step, pending
    return None, []


def _done_count(job: Offboarding) -> int:
    items = job.items.all()
    return sum(
        items.filter(**{f"{_step_field(step)}__isnull": False}).count() for step in STEP_ORDER
    )


def _finish(job: Offboarding) -> None:
    if job.status == JobStatus.DONE:
        return
    now = timezone.now()
    Offboarding.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        step=Offboarding.Step.FINISHED,
        finished_at=now,
        done=job.total,
        error="",
        retry_at=None,
        lease_until=None,
    )
    report = offboarding_report(job)
    audit_record(
        service="hubcourse",
        action="course.offboard_finish",
        target=job.course.slug,
        outcome=AuditOutcome.OK,
        course=job.course,
        actor=job.created_by,
        message=(
            f"{report['removed_from_organisation']} removed from the organisation, "
            f"{report['kept']} kept, {report['repositories']} repositories "
            f"{'deleted' if job.repository_action == 'delete' else 'archived'}"
        ),
    )


def offboarding_report(job: Offboarding) -> dict[str, int]:
    """What the job did, counted from each student's record (a course is hundreds at most)."""
    report = {
        "students": 0,
        "snapshots": 0,
        "removed_from_team": 0,
        "removed_from_organisation": 0,
        "invites_cancelled": 0,
        "kept": 0,
        "repositories": 0,
    }
    for item in job.items.only(
        "image_digest", "keep_in_organisation", "repository", "repositories_at", "notes"
    ):
        notes = " ".join(item.notes)
        report["students"] += 1
        report["snapshots"] += bool(item.image_digest)
        report["removed_from_team"] += NOTE_TEAM in notes
        report["removed_from_organisation"] += NOTE_ORGANISATION in notes
        report["invites_cancelled"] += NOTE_INVITE in notes
        report["kept"] += bool(item.keep_in_organisation)
        report["repositories"] += bool(item.repository and item.repositories_at)
    return report


class _Runner:
    """One chunk's steps: what each step does for one student."""

    def __init__(self, job: Offboarding, course: Course, client: DockerHubClient) -> None:
        self.job = job
        self.course = course
        self.client = client
        self.org = course.organisation
        self._owners: set[str] | None = None

    def run(self, step: str, item: OffboardingItem) -> None:
        getattr(self, f"_{step}")(item)

    def _note(self, item: OffboardingItem, text: str) -> None:
        item.notes = [*item.notes, text]

    def _audit(
        self, item: OffboardingItem, action: str, target: str, outcome: str, message: str = ""
    ) -> None:
        audit_record(
            service=SERVICE,
            action=action,
            target=target,
            outcome=outcome,
            course=self.course,
            enrolment=item.enrolment,
            actor=self.job.created_by,
            message=message,
        )

    def _ours(self, item: OffboardingItem, action: str) -> bool:
        """Checked again as the step runs: the repository is this course's to change."""
        if managed.owned(self.course, managed.Kind.REPOSITORY, item.repository):
            return True
        self._audit(item, action, item.repository, AuditOutcome.NOOP, REPOSITORY_NOT_OURS)
        self._note(item, f"repository {REPOSITORY_NOT_OURS}")
        return False

    def _split(self, item: OffboardingItem) -> tuple[str, str]:
        namespace, name = item.repository.split("/", 1)
        return namespace, name

    # 1 ----------------------------------------------------------------------------------------
    def _snapshot(self, item: OffboardingItem) -> None:
        if item.enrolment_id is not None:
            latest = (
                Build.objects.filter(enrolment_id=item.enrolment_id).order_by("-created_at").first()
            )
            if latest is not None:
                item.commit_sha = latest.commit_sha
                item.build_state = latest.state
                item.build_finished_at = latest.finished_at
                item.image_tag = latest.tag
                if latest.digest:
                    item.image_digest = latest.digest
        if item.repository:
            namespace, name = self._split(item)
            tag_name = item.image_tag or self.course.build_tag
            try:
                tag = self.client.get_tag(namespace, name, tag_name)
            except NotFound:
                self._note(item, f"no image {tag_name} on Docker Hub")
            else:
                digest = tag.digest or next((i.digest for i in tag.images if i.digest), None)
                item.image_tag = tag.name
                item.image_digest = digest or item.image_digest
                item.image_pushed_at = tag.tag_last_pushed or tag.last_updated
        if not item.build_state:
            item.build_state = ""
        item.save(
            update_fields=[
                "commit_sha",
                "build_state",
                "build_finished_at",
                "image_tag",
                "image_digest",
                "image_pushed_at",
            ]
        )

    # 2 ----------------------------------------------------------------------------------------
    def _read_only(self, item: OffboardingItem) -> None:
        if not item.repository or not self._ours(item, "permission.change"):
            return
        namespace, name = self._split(item)
        # The teams hubcourse gave access, read one by one: the list of a repository's team
        # permissions is a route nobody has seen (notes §6). A team given access by hand on
        # Docker Hub is therefore not seen here.
        enrolment = item.enrolment
        repository = _repository(enrolment) if enrolment else None
        teams = [self.course.team_id]
        if repository is not None:
            teams.append(repository.student_team_id)
        try:
            permissions = self.client.team_permissions(
                namespace, name, [team for team in teams if team is not None]
            ).values()
        except NotFound:
            self._note(item, "the repository was already gone")
            return
        instructors = self.course.instructors_team_id
        changed = []
        for permission in permissions:
            if permission.group_id == instructors or permission.permission == "read":
                continue
            self.client.change_team_permission(namespace, name, permission.group_id, "read")
            changed.append(f"{permission.group_name} {permission.permission} -> read")
            self._audit(
                item,
                "permission.change",
                f"{item.repository}: team {permission.group_name}",
                AuditOutcome.OK,
                f"read (was {permission.permission}) for offboarding",
            )
        self._note(item, "; ".join(changed) if changed else "already read-only for students")

    # 3 ----------------------------------------------------------------------------------------
    def _builds(self, item: OffboardingItem) -> None:
        enrolment = item.enrolment
        repository = _repository(enrolment) if enrolment else None
        if enrolment is None or repository is None or not _has_build(repository, self.course):
            return
        # Mid-move, the backend the student is leaving and the one set up beside both hold
        # something (an automated-build rule, a workflow): each removes its own.
        holders = moving.holding(self.course, repository)
        for backend in holders:
            done = backend.remove(enrolment) or "build configuration removed"
            self._note(item, f"{backend.label}: {done}" if len(holders) > 1 else done)

    # 4 ----------------------------------------------------------------------------------------
    def _team(self, item: OffboardingItem) -> None:
        if not item.docker_id:
            return
        if item.keep_in_team in UNTOUCHED:
            return  # protected accounts are left exactly as they are
        teams = [] if item.keep_in_team else [self.course.team]
        repository = _repository(item.enrolment) if item.enrolment else None
        if repository is not None and repository.student_team:
            teams.append(repository.student_team)
        for team in teams:
            target = f"{self.org}/{team}: {item.docker_id}"
            try:
                self.client.remove_team_member(self.org, team, item.docker_id)
            except NotFound:
                self._audit(
                    item, "team.remove_member", target, AuditOutcome.NOOP, "was not in the team"
                )
                continue
            self._audit(item, "team.remove_member", target, AuditOutcome.OK, "offboarding")
            self._note(item, f"{NOTE_TEAM} {team}")

    # 5 ----------------------------------------------------------------------------------------
    def _organisation(self, item: OffboardingItem) -> None:
        if not item.docker_id:
            return
        docker_id = item.docker_id.lower()
        # Checked again now: who is an owner, or in another course, may have changed.
        _, keep = _keep_reasons(self.course, [docker_id], self._live_owners())
        reason = keep.get(docker_id) or item.keep_in_organisation
        if reason:
            item.keep_in_organisation = reason
            item.save(update_fields=["keep_in_organisation"])
            self._audit(
                item,
                "member.remove",
                f"{self.org}: {item.docker_id}",
                AuditOutcome.NOOP,
                f"kept: {reason}",
            )
            return
        enrolment = item.enrolment
        if enrolment is not None and enrolment.member_at is None and enrolment.invite_id:
            try:
                self.client.cancel_invite(enrolment.invite_id)
                self._audit(
                    item,
                    "invite.cancel",
                    f"{self.org}: {item.docker_id}",
                    AuditOutcome.OK,
                    "offboarding",
                )
                self._note(item, NOTE_INVITE)
            except NotFound:
                pass
        try:
            self.client.remove_member(self.org, item.docker_id)
        except NotFound:
            self._audit(
                item,
                "member.remove",
                f"{self.org}: {item.docker_id}",
                AuditOutcome.NOOP,
                "was not a member",
            )
            return
        self._audit(
            item, "member.remove", f"{self.org}: {item.docker_id}", AuditOutcome.OK, "offboarding"
        )
        self._note(item, NOTE_ORGANISATION)

    def _live_owners(self) -> set[str]:
        if self._owners is None:
            self._owners = {
                m.username.lower() for m in self.client.list_members(self.org, role="owner")
            }
        return self._owners

    # 6 ----------------------------------------------------------------------------------------
    def _repositories(self, item: OffboardingItem) -> None:
        if not item.repository or not self._ours(item, f"repository.{self.job.repository_action}"):
            return
        namespace, name = self._split(item)
        if self.job.repository_action == Offboarding.RepositoryAction.DELETE:
            try:
                self.client.delete_repository(namespace, name)
            except NotFound:
                self._audit(
                    item, "repository.delete", item.repository, AuditOutcome.NOOP, "already gone"
                )
                return
            self._audit(item, "repository.delete", item.repository, AuditOutcome.OK, "offboarding")
            self._note(item, "repository deleted")
            return
        # Docker Hub's own "Archive" switch has no API: the repository stays, read-only for
        # students (step 2), and says it is archived.
        description = f"Archived: {self.course.name}, {timezone.localdate():%d %b %Y}"[:100]
        try:
            self.client.update_repository(namespace, name, description=description)
        except NotFound:
            self._audit(
                item, "repository.archive", item.repository, AuditOutcome.NOOP, "already gone"
            )
            return
        self._audit(item, "repository.archive", item.repository, AuditOutcome.OK, description)
        self._note(item, "repository kept, marked archived")


def snapshot_rows(job: Offboarding) -> Iterable[OffboardingItem]:
    return job.items.order_by("identifier").iterator()
