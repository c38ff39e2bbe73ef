"""A student's Docker Hub repository and its team permissions: created once, granted as the
course says, and the student's own team under the team-per-student policy."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import managed
from accounts.credentials import dockerhub_client_for
from accounts.models import Course, Enrolment, User
from accounts.services import (
    course_ensure_teams,
    course_team_add_member,
    create_team,
    enrolment_clear_error,
)
from accounts.steps import StepName
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import Invalid, NotFound
from integrations.dockerhub.client import SERVICE as DOCKER_HUB
from integrations.dockerhub.client import DockerHubClient, Permission
from repositories.models import StudentRepository

# -- per-student Docker Hub steps ---------------------------------------------------------------


def _is_already_exists(error: Invalid) -> bool:
    # Docker Hub answers a duplicate name with 400 and prose, not 409 (notes §2).
    return error.status in (400, 409) and "already exist" in str(error).lower()


def _locked_enrolment(enrolment_id: int) -> Enrolment | None:
    """The enrolment, locked for this transaction: two workers never run one student's step
    at once (PostgreSQL row lock; SQLite serialises writers anyway).

    Only the enrolment's row: with ``select_related`` a plain ``FOR UPDATE`` locks the course
    row too, and the course's bulk invite (course row, then enrolment rows) deadlocks with it.
    """
    return (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("course")
        .filter(pk=enrolment_id)
        .first()
    )


def repository_row(enrolment: Enrolment) -> StudentRepository:
    """The student's repository row with the desired namespace and name, made when missing."""
    course = enrolment.course
    repository, _ = StudentRepository.objects.get_or_create(
        enrolment=enrolment,
        defaults={
            "namespace": course.organisation.lower(),
            "name": course.repository_name(enrolment.docker_id),
        },
    )
    return repository


def repository_ensure(*, enrolment_id: int, actor: User | None = None) -> StudentRepository | None:
    """The student's Docker Hub repository exists, with the course's privacy.

    Writes first, reads only when needed: the reconcile's bulk observation has just listed
    the organisation's repositories, so a repository the row does not know is nearly always
    missing, and the create answer says everything a read would. "Already exists" (made by
    an earlier attempt whose answer was lost, by hand, or by a concurrent creator) is
    success once read back only when this course made (or a site admin let it adopt) the
    repository; anything else is left alone, recorded as found, and the step stops in words.
    """
    existing = _existing_with_privacy(enrolment_id=enrolment_id, actor=actor)
    if existing is not None:
        enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.REPOSITORY)
        return existing
    made: list[str] = []
    intent = _record_intent(enrolment_id)
    fresh_intent = intent is not None and intent[1]
    try:
        with transaction.atomic():
            enrolment = _locked_enrolment(enrolment_id)
            if enrolment is None or not enrolment.docker_id:
                return None
            course = enrolment.course
            repository = repository_row(enrolment)
            client = dockerhub_client_for(course)
            target = repository.full_name
            try:
                hub = client.create_repository(
                    repository.namespace,
                    repository.name,
                    description=f"{course.name}: {enrolment.docker_id}"[:100],
                    is_private=course.repo_private,
                )
                outcome, message = Outcome.OK, ""
                made.append(target)
                managed.record_created(course, managed.Kind.REPOSITORY, target)
            except Invalid as error:
                if not _is_already_exists(error):
                    raise
                if fresh_intent or not managed.owned(course, managed.Kind.REPOSITORY, target):
                    # Someone else's (another course's, or made by hand): never taken over
                    # silently. Our own create whose answer was lost (a killed worker) was
                    # recorded before it was sent, so an earlier attempt's name is ours.
                    raise managed.NotOurs(DOCKER_HUB, "repository", target) from error
                hub = client.get_repository(repository.namespace, repository.name)
                outcome, message = Outcome.NOOP, "the repository already existed (ours)"
            audit_record(
                service=DOCKER_HUB,
                action="repository.create",
                target=target,
                outcome=outcome,
                enrolment=enrolment,
                actor=actor,
                message=message,
            )
            if hub.is_private != course.repo_private:
                _set_privacy(client, course, enrolment, repository, actor)
            StudentRepository.objects.filter(pk=repository.pk).update(
                created_at=repository.created_at or hub.date_registered or timezone.now(),
                is_private=course.repo_private,
            )
    except managed.NotOurs as error:
        # Recorded after the rollback, so the plan can offer it for adoption.
        if fresh_intent:
            managed.forget_intent(_course_of(enrolment_id), managed.Kind.REPOSITORY, error.name)
        managed.record_found(_course_of(enrolment_id), managed.Kind.REPOSITORY, error.name)
        raise
    except Invalid:
        # Docker Hub refused the create outright: nothing was made.
        if fresh_intent and intent is not None:
            managed.forget_intent(_course_of(enrolment_id), managed.Kind.REPOSITORY, intent[0])
        raise
    except Exception:
        # Created, then a later call failed: the rollback must not forget whose it is.
        for name in made:
            managed.record_created(_course_of(enrolment_id), managed.Kind.REPOSITORY, name)
        raise
    enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.REPOSITORY)
    repository.refresh_from_db()
    return repository


def _record_intent(enrolment_id: int) -> tuple[str, bool] | None:
    """Before the create, outside its transaction: the repository's name recorded as this
    course's (``managed.record_intent``); the name and whether this call recorded it, or
    None when there is nothing to create."""
    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None or not enrolment.docker_id or transaction.get_connection().in_atomic_block:
        return None
    repository = repository_row(enrolment)
    if repository.created_at is not None:
        return None
    target = repository.full_name
    return target, managed.record_intent(enrolment.course, managed.Kind.REPOSITORY, target)


def _existing_with_privacy(*, enrolment_id: int, actor: User | None) -> StudentRepository | None:
    """The student's repository when it exists already (as observed), its privacy made the
    course's in place (one call, and none when it matches); None when it must be created."""
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment is None or not enrolment.docker_id:
            return None
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is None or repository.created_at is None:
            return None
        course = enrolment.course
        if repository.is_private != course.repo_private:
            _set_privacy(dockerhub_client_for(course), course, enrolment, repository, actor)
            StudentRepository.objects.filter(pk=repository.pk).update(
                is_private=course.repo_private
            )
            repository.is_private = course.repo_private
    return repository


def _set_privacy(
    client: DockerHubClient,
    course: Course,
    enrolment: Enrolment,
    repository: StudentRepository,
    actor: User | None,
) -> None:
    client.set_repository_privacy(
        repository.namespace, repository.name, is_private=course.repo_private
    )
    audit_record(
        service=DOCKER_HUB,
        action="repository.privacy",
        target=repository.full_name,
        outcome=Outcome.OK,
        enrolment=enrolment,
        actor=actor,
        message="made private" if course.repo_private else "made public",
    )


def _course_of(enrolment_id: int) -> Course:
    return Course.objects.get(enrolments__pk=enrolment_id)


def desired_permissions(
    course: Course, repository: StudentRepository, student_team: Permission = "read"
) -> dict[int, Permission]:
    """Team id -> permission the repository should grant (needs the team ids observed).

    ``student_team`` is what the student's own team holds under the team-per-student policy:
    the course's build backend decides it (a student who links their own automated build must
    administer their repository), and the engine passes it down.
    """
    wanted: dict[int, Permission] = {}
    if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
        if repository.student_team_id is not None:
            wanted[repository.student_team_id] = student_team
    elif course.team_id is not None:
        wanted[course.team_id] = "read"
    if course.instructors_team_id is not None:
        wanted[course.instructors_team_id] = "admin"
    return wanted


def desired_grants(
    course: Course, docker_id: str, student_team: Permission = "read"
) -> dict[str, Permission]:
    """Team name (lower case) -> the permission the course says it holds on the student's
    repository, by name: what ``team_grants`` records once granted."""
    wanted: dict[str, Permission] = {}
    if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
        wanted[course.student_team_name(docker_id).lower()] = student_team
    else:
        wanted[course.team.lower()] = "read"
    wanted[course.instructors_team.lower()] = "admin"
    return wanted


def grant_changes(
    course: Course, repository: StudentRepository, docker_id: str, student_team: Permission
) -> tuple[str, str]:
    """(before, after) of the teams' permissions that differ from what was last granted, in
    words ("students read" -> "docker-101-alice admin"); ("", "") when none or nothing is
    recorded yet."""
    recorded: dict[str, str] = dict(repository.team_grants or {})
    if not recorded:
        return "", ""
    wanted = desired_grants(course, docker_id, student_team)
    # Before by name (stored JSON keeps no order), after in the course's order.
    gone = sorted(t for t in recorded if recorded[t] != wanted.get(t))
    new = [t for t in wanted if wanted[t] != recorded.get(t)]
    if not gone and not new:
        return "", ""
    before = ", ".join(f"{t} {recorded[t]}" for t in gone) or "none"
    after = ", ".join(f"{t} {wanted[t]}" for t in new) or "none"
    return before, after


def _revoke_stale_grants(
    client: DockerHubClient,
    course: Course,
    enrolment: Enrolment,
    repository: StudentRepository,
    wanted: dict[str, Permission],
    actor: User | None,
) -> None:
    """Take back what hubcourse granted and the course no longer grants (a renamed team,
    another access policy); a team or grant already gone counts as done."""
    for team in sorted(set(repository.team_grants or {}) - set(wanted)):
        try:
            team_id = client.get_team(course.organisation, team).id
            client.revoke_team_permission(repository.namespace, repository.name, team_id)
        except NotFound:
            outcome, message = Outcome.NOOP, "already gone"
        else:
            outcome, message = Outcome.OK, "the course no longer grants it"
        audit_record(
            service=DOCKER_HUB,
            action="permission.revoke",
            target=f"{repository.full_name}: team {team}",
            outcome=outcome,
            enrolment=enrolment,
            actor=actor,
            message=message,
        )


def _unrecorded_grants(
    course: Course, repository: StudentRepository, wanted: dict[int, Permission]
) -> list[int]:
    """The wanted teams whose grant the row does not record (observe_course keeps it true),
    or records for another team or permission (``team_grants``: a team renamed, another
    access policy or backend)."""
    per_student = course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT
    reader_id = repository.student_team_id if per_student else course.team_id
    recorded = {
        course.instructors_team_id: repository.instructors_permission_at is not None,
        reader_id: repository.permission_granted_at is not None,
    }
    names = {
        course.instructors_team_id: course.instructors_team,
        reader_id: repository.student_team if per_student else course.team,
    }
    grants: dict[str, str] = dict(repository.team_grants or {})
    return [
        team_id
        for team_id in wanted
        if not recorded.get(team_id, False)
        or (grants and grants.get(names.get(team_id, "").lower()) != wanted[team_id])
    ]


def repository_grant_permissions(
    *, enrolment_id: int, actor: User | None = None, student_team: Permission = "read"
) -> StudentRepository | None:
    """The course's teams hold the permissions the access policy asks for on the repository.

    A grant the row does not record yet is simply sent: Docker Hub's grant sets the team's
    permission whatever it was (and "already exists" is answered with a change), so reading
    the permissions of a repository created a moment ago would only cost a call. When the
    row records every grant, the step is a check asked for explicitly (the plan never queues
    it then): it reads each wanted team's permission and repairs only what differs.
    Returns None (and does nothing) while the repository or a team id is not known yet.
    """

    course_id = Enrolment.objects.filter(pk=enrolment_id).values_list("course_id", flat=True)
    missing_teams = Course.objects.filter(pk__in=course_id).filter(
        Q(team_id__isnull=True) | Q(instructors_team_id__isnull=True)
    )
    for course_pk in missing_teams.values_list("pk", flat=True):
        # Before the enrolment's lock: it writes the course row, and the bulk invite locks
        # the course row and then enrolment rows (the other order deadlocks).
        course_ensure_teams(course_id=course_pk, actor=actor)
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment is None:
            return None
        course = enrolment.course
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is None or repository.created_at is None:
            return None
        if course.team_id is None or course.instructors_team_id is None:
            return None  # the teams could not be made; the next pass tries again
        wanted = desired_permissions(course, repository, student_team)
        if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT and (
            repository.student_team_id is None
        ):
            return None
        client = dockerhub_client_for(course)
        unrecorded = _unrecorded_grants(course, repository, wanted)
        current: dict[int, str | None]
        if unrecorded:
            current = {team_id: None for team_id in unrecorded}
            wanted = {team_id: wanted[team_id] for team_id in unrecorded}
        else:
            # Read per team (the teams are ours, so their ids are known): the list of all a
            # repository's team permissions is a route nobody has seen (notes §6).
            current = {
                team_id: p.permission
                for team_id, p in client.team_permissions(
                    repository.namespace, repository.name, wanted
                ).items()
            }
        # The audit names teams as Docker Hub spells them, never "team 10001".
        team_names = {
            course.team_id: course.team,
            course.instructors_team_id: course.instructors_team,
            repository.student_team_id: repository.student_team,
        }
        for team_id, permission in wanted.items():
            have = current.get(team_id)
            if have == permission:
                continue
            if have is None:
                try:
                    client.grant_team_permission(
                        repository.namespace, repository.name, team_id, permission
                    )
                except Invalid as error:
                    if not _is_already_exists(error):
                        raise
                    client.change_team_permission(
                        repository.namespace, repository.name, team_id, permission
                    )
            else:
                client.change_team_permission(
                    repository.namespace, repository.name, team_id, permission
                )
            audit_record(
                service=DOCKER_HUB,
                action="permission.grant" if have is None else "permission.change",
                target=f"{repository.full_name}: team {team_names.get(team_id) or team_id}",
                outcome=Outcome.OK,
                enrolment=enrolment,
                actor=actor,
                message=f"{permission}" + (f" (was {have})" if have else ""),
            )
        by_name = desired_grants(course, enrolment.docker_id, student_team)
        _revoke_stale_grants(client, course, enrolment, repository, by_name, actor)
        now = timezone.now()
        changes: dict[str, object] = {
            "permission_granted_at": repository.permission_granted_at or now,
            "instructors_permission_at": repository.instructors_permission_at or now,
            "team_grants": dict(by_name),
        }
        if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
            # The student's own team holds its read permission (compute_state asks for it).
            changes["student_team_at"] = repository.student_team_at or now
        StudentRepository.objects.filter(pk=repository.pk).update(**changes)
        repository.team_grants = dict(by_name)
        retire_old_teams(client, course, enrolment, repository, actor)
    enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.PERMISSIONS)
    repository.refresh_from_db()
    return repository


def enrolment_join_student_team(*, enrolment_id: int, actor: User | None = None) -> bool:
    """The student is in their team once a member of the organisation.

    Course-team policy: an accepted invite puts them in the course team; a member the invite
    cannot bring in (already in the organisation) is added directly.

    Team-per-student policy: the student's own team exists, and holds them once a member.

    The team is created before the invite is accepted (it needs no membership), so the
    repository permission can be granted at once; adding the student waits for acceptance
    (Docker Hub refuses non-members). Returns True when the student is in their team.
    """
    with transaction.atomic():
        # The enrolment's row only (not the course's, which the bulk invite locks first).
        enrolment = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("course")
            .filter(pk=enrolment_id)
        ).first()
        if enrolment is None or not enrolment.docker_id:
            return False
        course = enrolment.course
        if course.access_policy != Course.AccessPolicy.TEAM_PER_STUDENT:
            if enrolment.team_at is not None:
                return True
            if enrolment.member_at is None:
                # The invite names the course team: accepting it is what puts them in.
                return False
            # A member outside the course team (in the organisation before the course
            # invited them, or taken out of the team by hand): no invite will bring them in.
            course_team_add_member(
                client=dockerhub_client_for(course), course=course, enrolment=enrolment, actor=actor
            )
            return True
        repository = repository_row(enrolment)
        client = dockerhub_client_for(course)
        name = course.student_team_name(enrolment.docker_id)
        if repository.student_team_id is None or repository.student_team != name:
            try:
                team = client.get_team(course.organisation, name)
            except NotFound:
                team = create_team(client, course, name, enrolment=enrolment, actor=actor)
            old = repository.student_team
            if old and old.lower() != team.name.lower():
                # The course renamed the student's team: the old one goes once the new one
                # holds the student and the permission (retire_old_teams).
                kept = [t for t in repository.old_teams or [] if t.lower() != old.lower()]
                repository.old_teams = [*kept, old]
                StudentRepository.objects.filter(pk=repository.pk).update(
                    old_teams=repository.old_teams
                )
            if enrolment.team_at is not None:
                # In another team until now (the course team before the policy changed, a
                # team renamed or deleted): the student joins this one (the permissions step
                # moves the repository's grant to it).
                Enrolment.objects.filter(pk=enrolment_id).update(team_at=None)
                enrolment.team_at = None
            StudentRepository.objects.filter(pk=repository.pk).update(
                student_team=team.name, student_team_id=team.id
            )
        if enrolment.team_at is not None or enrolment.member_at is None:
            # In their team, or not a member yet (so in no team of the course's): an old
            # team may go now (once the permissions step has moved the grant).
            retire_old_teams(client, course, enrolment, repository, actor)
            return enrolment.team_at is not None
        members = {m.username.lower() for m in client.list_team_members(course.organisation, name)}
        outcome = Outcome.NOOP
        if enrolment.docker_id.lower() not in members:
            client.add_team_member(course.organisation, name, enrolment.docker_id)
            outcome = Outcome.OK
        now = timezone.now()
        Enrolment.objects.filter(pk=enrolment_id).update(team_at=now)
        enrolment.team_at = now
        audit_record(
            service=DOCKER_HUB,
            action="team.add_member",
            target=f"{course.organisation}/{name}: {enrolment.docker_id}",
            outcome=outcome,
            enrolment=enrolment,
            actor=actor,
        )
        retire_old_teams(client, course, enrolment, repository, actor)
    enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.TEAM)
    return True


def old_team_replaced(course: Course, enrolment: Enrolment, repository: StudentRepository) -> bool:
    """Whether the student's current team has taken over from their old ones: it holds the
    student (or they are not a member yet, so no team holds them) and hubcourse's grant on
    the repository is the new team's, the old ones' taken back."""
    if course.access_policy != Course.AccessPolicy.TEAM_PER_STUDENT:
        return False
    if not repository.student_team or repository.student_team_id is None:
        return False
    if enrolment.team_at is None and enrolment.member_at is not None:
        return False
    grants: dict[str, str] = dict(repository.team_grants or {})
    if repository.student_team.lower() not in grants:
        return False
    return not any(t.lower() in grants for t in repository.old_teams or [])


def retire_old_teams(
    client: DockerHubClient,
    course: Course,
    enrolment: Enrolment,
    repository: StudentRepository,
    actor: User | None = None,
) -> list[str]:
    """Delete the student's old teams that the course made, once their replacement holds the
    student and the permission; the names deleted. A team the course did not make is left
    (the plan says so); one gone already counts as done; one another student or the course
    uses now is not the student's old team any more."""
    old = list(repository.old_teams or [])
    if not old or not old_team_replaced(course, enrolment, repository):
        return []
    in_use = {course.team.lower(), course.instructors_team.lower()} | {
        name.lower()
        for name in StudentRepository.objects.filter(enrolment__course=course)
        .exclude(pk=repository.pk)
        .values_list("student_team", flat=True)
    }
    deleted: list[str] = []
    left: list[str] = []
    for team in old:
        target = f"{course.organisation}/{team}"
        if team.lower() in in_use:
            continue
        if not managed.owned(course, managed.Kind.TEAM, target):
            left.append(team)
            continue
        try:
            client.delete_team(course.organisation, team)
        except NotFound:
            outcome, message = Outcome.NOOP, "already gone"
        else:
            outcome, message = Outcome.OK, f"replaced by {repository.student_team}"
            deleted.append(team)
        audit_record(
            service=DOCKER_HUB,
            action="team.delete",
            target=target,
            outcome=outcome,
            enrolment=enrolment,
            actor=actor,
            message=message,
        )
    repository.old_teams = left
    StudentRepository.objects.filter(pk=repository.pk).update(old_teams=left)
    return deleted


# -- the course's own teams after a rename ------------------------------------------------------

_PERMISSIONS: dict[str, Permission] = {"read": "read", "write": "write", "admin": "admin"}
_ORDER = ("read", "write", "admin")


def old_course_team_stays(course: Course, old: str) -> str:
    """Why the course's old team ``old`` is never deleted, in words, or "" when it goes once
    replaced: another active course of the organisation uses it (or still moves off it),
    or this course did not make it (and no site admin let it adopt it)."""
    for other in Course.objects.filter(
        archived_at__isnull=True, organisation__iexact=course.organisation
    ).exclude(pk=course.pk):
        if uses := _uses_team(other, old):
            return f"the old team {old} stays: the course {other.name} ({other.slug}) {uses}"
    if not managed.owned(course, managed.Kind.TEAM, f"{course.organisation}/{old}"):
        return f"the old team {old} stays: this course did not create it"
    return ""


def _uses_team(course: Course, team: str) -> str:
    """How ``course`` uses ``team``, in words ("uses it as its course team"), or ""."""
    name = team.lower()
    if course.team.lower() == name:
        return "uses it as its course team"
    if course.instructors_team.lower() == name:
        return "uses it as its instructors' team"
    for old, setting in (course.old_teams or {}).items():
        if old.lower() == name and not old_course_team_replaced(course, old, setting):
            return "still moves its people off it"
    return ""


def old_course_team_replaced(course: Course, old: str, setting: str) -> bool:
    """Whether, as the rows say, the team that replaced ``old`` has taken over: it exists,
    every student repository's grant is the new team's and none is the old one's, and under
    the course-team policy every student in the organisation is in the new team. The
    retirement reads Docker Hub before it deletes; this only spares it the reads before."""
    id_field = "team_id" if setting == "team" else "instructors_team_id"
    if getattr(course, id_field) is None:
        return False
    new = str(getattr(course, setting)).lower()
    holds_new = setting == "instructors_team" or (
        course.access_policy == Course.AccessPolicy.COURSE_TEAM
    )
    if (
        setting == "team"
        and holds_new
        and course.enrolments.exclude(docker_id="")
        .filter(member_at__isnull=False, team_at__isnull=True)
        .exists()
    ):
        return False
    for grants in StudentRepository.objects.filter(
        enrolment__course=course, created_at__isnull=False
    ).values_list("team_grants", flat=True):
        names = {str(name).lower() for name in grants or {}}
        if old.lower() in names or (holds_new and new not in names):
            return False
    return True


def course_retire_old_teams(*, course_id: int, actor: User | None = None) -> list[str]:
    """Delete the course's teams from before a rename once their replacements hold their
    members and permissions; the names deleted.

    A team another active course uses, or that this course did not make, stays (the plan
    says why). Before deleting, Docker Hub is read: the old team's members who are not in
    the new one are added to it (the instructors' team has no other way across), and a
    permission the old team gives that the new one lacks is copied, except on the course's
    student repositories, whose own permission step moves them (the course may grant
    otherwise now): the old team waits for it. A team gone already counts as done.
    """
    course = Course.objects.filter(pk=course_id).first()
    if course is None or not course.old_teams:
        return []
    client = dockerhub_client_for(course)
    org = course.organisation
    done: list[str] = []
    deleted: list[str] = []
    for old, setting in dict(course.old_teams).items():
        if old_course_team_stays(course, old) or not old_course_team_replaced(course, old, setting):
            continue
        new = str(getattr(course, setting))
        try:
            if not _moved_to(client, course, old, new, actor):
                continue
            client.delete_team(org, old)
        except (OldTeamGone, NotFound):
            # Deleted by an earlier attempt whose worker died before recording it, or by hand.
            outcome, message = Outcome.NOOP, "already gone"
        else:
            outcome, message = Outcome.OK, f"renamed to {new}"
            deleted.append(old)
        done.append(old)
        audit_record(
            service=DOCKER_HUB,
            action="team.delete",
            target=f"{org}/{old}",
            outcome=outcome,
            course=course,
            actor=actor,
            message=message,
        )
    if done:
        with transaction.atomic():
            locked = Course.objects.select_for_update().get(pk=course_id)
            left = {n: s for n, s in (locked.old_teams or {}).items() if n not in done}
            Course.objects.filter(pk=course_id).update(old_teams=left)
    return deleted


class OldTeamGone(Exception):
    """The old team is not on Docker Hub any more: nothing is left to delete."""


def _moved_to(
    client: DockerHubClient, course: Course, old: str, new: str, actor: User | None
) -> bool:
    """The old team's members and permissions are the new team's too (see
    ``course_retire_old_teams``); False while a student repository's grant has not moved.
    ``OldTeamGone`` when the old team is gone (a ``NotFound`` of anything else is an error)."""
    org = course.organisation
    try:
        old_members = client.list_team_members(org, old)
    except NotFound as error:
        raise OldTeamGone(old) from error
    new_members = {m.username.lower() for m in client.list_team_members(org, new)}
    for member in old_members:
        if member.username.lower() in new_members:
            continue
        client.add_team_member(org, new, member.username)
        audit_record(
            service=DOCKER_HUB,
            action="team.add_member",
            target=f"{org}/{new}: {member.username}",
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=f"a member of {old}, which the course renamed to {new}",
        )

    def full(repository: str) -> str:
        # Rows name "namespace/name", or only "name" (``engine._short_names``).
        return (repository if "/" in repository else f"{org}/{repository}").lower()

    have = {full(row.repository): row.permission for row in client.list_team_repositories(org, new)}
    students = {
        r.full_name.lower() for r in StudentRepository.objects.filter(enrolment__course=course)
    }
    new_id: int | None = None
    for row in client.list_team_repositories(org, old):
        full_name, permission = full(row.repository), _PERMISSIONS.get(row.permission)
        held = have.get(full_name, "")
        if permission is None or (
            held in _ORDER and _ORDER.index(held) >= _ORDER.index(permission)
        ):
            continue
        if full_name in students:
            return False
        namespace, name = full_name.split("/", 1)
        new_id = new_id if new_id is not None else client.get_team(org, new).id
        try:
            client.grant_team_permission(namespace, name, new_id, permission)
        except Invalid as error:
            if not _is_already_exists(error):
                raise
            client.change_team_permission(namespace, name, new_id, permission)
        audit_record(
            service=DOCKER_HUB,
            action="permission.grant",
            target=f"{full_name}: team {new}",
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=f"{permission}, as {old} had before the course renamed it",
        )
    return True
