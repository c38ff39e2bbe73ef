"""Services on enrolments: recording a step's failure, clearing it, and deriving the state.

These are the only writers of ``Enrolment.error_*``, ``attempts`` and ``state``. Every
onboarding step (Docker Hub steps, build backends, pre-flight) reports through them, so the
class board shows one consistent story: the furthest state reached, and when something is
wrong, which step, a sentence a person can act on, and when it is tried again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.credentials import dockerhub_client_for
from accounts.managed import record_created, record_found
from accounts.models import (
    Course,
    Enrolment,
    InviteState,
    ManagedResource,
    PreflightState,
    User,
)
from accounts.seats import is_seat_refusal, seat_refusal_message, seat_refusals
from accounts.sent_invites import invites_record_sent
from accounts.signals import note_observed
from accounts.steps import StepName
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ExternalServiceError, Invalid, NotFound, PermanentError
from hubcourse.text import counted

if TYPE_CHECKING:
    from integrations.dockerhub.client import DockerHubClient, InviteResult, Team

# Stored messages stay short enough for the board; the audit log keeps the same text.
_MESSAGE_MAX = 1000


def enrolment_record_error(
    *,
    enrolment_id: int,
    step: str,
    error: BaseException | str,
    retry_at: dt.datetime | None = None,
    permanent: bool | None = None,
) -> None:
    """Record that ``step`` failed for the enrolment, and recompute its state.

    ``permanent`` defaults to the error's own flag (``PermanentError``), else False. A
    permanent error stops the student's pipeline (state ``error``) until a person retries;
    a transient one keeps the state and says when the next attempt is (``retry_at``).
    Returns the new progress, or None when the enrolment is gone.
    """
    if permanent is None:
        permanent = isinstance(error, ExternalServiceError) and error.permanent
    now = timezone.now()
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if enrolment is None:
            return
        # A repeat of the same failure counts as another attempt; a new step starts over.
        attempts = enrolment.attempts + 1 if enrolment.error_step == step else 1
        Enrolment.objects.filter(pk=enrolment_id).update(
            error_step=step,
            error_message=str(error)[:_MESSAGE_MAX],
            error_permanent=permanent,
            error_at=now,
            next_retry_at=None if permanent else retry_at,
            attempts=attempts,
            updated_at=now,
        )
    note_observed(enrolment_id)


def enrolment_clear_error(*, enrolment_id: int, step: str | None = None) -> None:
    """Forget the enrolment's error (only if it belongs to ``step``, when given).

    Called by a step that has just succeeded, and by an instructor's retry (``step=None``).
    """
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if enrolment is None:
            return
        if enrolment.error_step and (step is None or enrolment.error_step == step):
            Enrolment.objects.filter(pk=enrolment_id).update(
                error_step="",
                error_message="",
                error_permanent=False,
                error_at=None,
                next_retry_at=None,
                attempts=0,
                updated_at=timezone.now(),
            )
    note_observed(enrolment_id)


def enrolment_is_blocked(enrolment: Enrolment) -> bool:
    """True while a permanent error waits for a person: its pipeline must not run."""
    return bool(enrolment.error_step and enrolment.error_permanent)


def enrolment_reset_for_retry(*, enrolment_id: int) -> None:
    """An instructor's retry: clear the error (and a failed pre-flight, so it runs again)."""
    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment_id, preflight_state=PreflightState.FAILED).update(
            preflight_state=PreflightState.NOT_RUN
        )
        enrolment_clear_error(enrolment_id=enrolment_id)


# -- course-level Docker Hub steps ------------------------------------------------------------

DOCKER_HUB = "Docker Hub"


def _is_already_exists(error: Invalid) -> bool:
    # Docker Hub answers a duplicate name with 400 and prose, not 409 (notes §2).
    return error.status in (400, 409) and "already exist" in str(error).lower()


def course_ensure_teams(*, course_id: int, actor: User | None = None) -> Course | None:
    """The course team and the instructors' team exist on Docker Hub; their ids are stored.

    One list call reads every team; only missing ones are created. A concurrent creator
    makes Docker Hub answer "already exists": that is success once the team is read back.
    """

    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        return None
    client = dockerhub_client_for(course)
    listed = client.list_teams(course.organisation)
    course_record_old_teams(course, applied_team_names(course, listed))
    teams = {team.name.lower(): team for team in listed}
    ids: dict[str, int] = {}
    for field, name in (("team_id", course.team), ("instructors_team_id", course.instructors_team)):
        team = teams.get(name.lower())
        if team is None:
            team = create_team(client, course, name, actor=actor)
        else:
            record_found(
                course, ManagedResource.Kind.TEAM, f"{course.organisation}/{name}", str(team.id)
            )
        ids[field] = team.id
    Course.objects.filter(pk=course_id).update(**ids)
    course.refresh_from_db()
    return course


# The course's own teams: the setting that names each, and the field with its observed id.
TEAM_SETTINGS = (("team", "team_id"), ("instructors_team", "instructors_team_id"))


def applied_team_names(course: Course, teams: Iterable[Team]) -> dict[str, str]:
    """Setting -> the name of the team the course's stored id points at, as Docker Hub
    lists it: the name last applied, which differs from the setting after a rename."""
    by_id = {team.id: team.name for team in teams}
    return {
        setting: by_id[team_id]
        for setting, id_field in TEAM_SETTINGS
        if (team_id := getattr(course, id_field)) is not None and team_id in by_id
    }


def old_teams_after(course: Course, applied: Mapping[str, str]) -> dict[str, str]:
    """``course.old_teams`` with the applied names the settings no longer give added (a
    rename), and the names the settings give again taken out (a rename back)."""
    old: dict[str, str] = dict(course.old_teams or {})
    for setting, name in applied.items():
        known = {n.lower() for n in old}
        if (
            name
            and name.lower() != str(getattr(course, setting)).lower()
            and name.lower() not in known
        ):
            old[name] = setting
    current = {course.team.lower(), course.instructors_team.lower()}
    return {name: setting for name, setting in old.items() if name.lower() not in current}


def course_record_old_teams(course: Course, applied: Mapping[str, str]) -> None:
    """Remember the teams a rename leaves behind (``old_teams_after``), on the locked row:
    the retirement of old teams writes the same field."""
    with transaction.atomic():
        locked = Course.objects.select_for_update().filter(pk=course.pk).first()
        if locked is None:
            return
        old = old_teams_after(locked, applied)
        if old != locked.old_teams:
            Course.objects.filter(pk=course.pk).update(old_teams=old)
    course.old_teams = old


def create_team(
    client: DockerHubClient,
    course: Course,
    name: str,
    *,
    enrolment: Enrolment | None = None,
    actor: User | None = None,
) -> Team:
    target = f"{course.organisation}/{name}"
    try:
        team = client.create_team(course.organisation, name, f"hubcourse: {course.name}")
    except Invalid as error:
        if not _is_already_exists(error):
            raise
        team = client.get_team(course.organisation, name)
        # Made before (by hand, another course, or a lost answer): the plan shows it to adopt.
        record_found(course, ManagedResource.Kind.TEAM, target, str(team.id))
        audit_record(
            service=DOCKER_HUB,
            action="team.create",
            target=target,
            outcome=Outcome.NOOP,
            course=course,
            enrolment=enrolment,
            actor=actor,
            message="the team already existed",
        )
        return team
    record_created(course, ManagedResource.Kind.TEAM, target, str(team.id))
    audit_record(
        service=DOCKER_HUB,
        action="team.create",
        target=target,
        outcome=Outcome.OK,
        course=course,
        enrolment=enrolment,
        actor=actor,
    )
    return team


def invite_candidates(course: Course) -> list[Enrolment]:
    """Students the course should invite now: checked, not blocked, not invited, not members."""
    return list(
        course.enrolments.exclude(docker_id="")
        .filter(
            preflight_state__in=(PreflightState.PASSED, PreflightState.WARNING),
            member_at__isnull=True,
            invite_state__in=(InviteState.NONE, InviteState.EXPIRED, InviteState.CANCELLED),
        )
        .exclude(error_permanent=True)
        .order_by("pk")
    )


def course_invite_students(*, course_id: int, actor: User | None = None) -> int:
    """Invite every student who should be invited, in bulk; returns how many were invited.

    One ``POST /v2/invites/bulk`` per 1000 students (the client splits), never one call per
    student. Invites go to the course team, so a student who accepts lands in it with no
    further call. With one team per student, the course team carries no repository
    permission and each student is added to their own team after accepting (one call each):
    Docker Hub's bulk invite takes a single team, and one bulk call per student team would
    be one call per student anyway, before anyone has accepted.

    An expired invite with a known id is re-sent instead (``PATCH .../resend``: one call
    each, but it keeps the one invite the student already has a link to).

    The course row is locked for the duration, so two workers never invite the same class
    at once; Docker Hub itself answers a repeat invite with the pending one.
    """

    with transaction.atomic():
        course = Course.objects.select_for_update().filter(pk=course_id).first()
        if course is None:
            return 0
        candidates = invite_candidates(course)
        if not candidates:
            return 0
        client = dockerhub_client_for(course)
        now = timezone.now()
        fresh: list[Enrolment] = []
        for enrolment in candidates:
            if enrolment.invite_state == InviteState.EXPIRED and enrolment.invite_id:
                enrolment_resend_invite(
                    client=client,
                    course=course,
                    enrolment=enrolment,
                    actor=actor,
                    reason="the invite had expired after 14 days",
                )
            else:
                fresh.append(enrolment)
        if not fresh:
            return len(candidates)
        by_docker_id = {e.docker_id.lower(): e for e in fresh}
        try:
            results = client.bulk_invite(
                course.organisation, [e.docker_id for e in fresh], team=course.team
            )
        except PermanentError as error:
            results = seat_refusals(error, [e.docker_id for e in fresh])
        invites_record_sent(organisation=course.organisation, results=results)
        invited = 0
        members: list[Enrolment] = []
        for result in results:
            invitee = by_docker_id.get(result.invitee.lower())
            if invitee is not None:
                invited += _record_invite_result(invitee, result, now)
                if result.status == "existing_org_member":
                    members.append(invitee)
        audit_record(
            service=DOCKER_HUB,
            action="invite.bulk",
            target=f"{course.organisation}/{course.team}",
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=(
                f"Sent invitations to {counted(invited, 'student')} in one request."
                if invited == len(fresh)
                else f"Sent invitations to {invited} of {counted(len(fresh), 'student')} in one "
                "request; the others were members already or could not be invited (their "
                "pages say which)."
            ),
        )
        # Already in the organisation: no invitation will ever be accepted, so nothing would
        # put them in the team. They join it now, one call each.
        for enrolment in members:
            try:
                course_team_add_member(
                    client=client, course=course, enrolment=enrolment, actor=actor
                )
            except ExternalServiceError as error:
                # The plan shows the team step again; the next pass retries it.
                enrolment_record_error(enrolment_id=enrolment.pk, step=StepName.TEAM, error=error)
    for enrolment in fresh:
        note_observed(enrolment.pk)
    return invited


def _record_invite_result(enrolment: Enrolment, result: InviteResult, now: dt.datetime) -> int:
    if result.status == "invited":
        # The course invited this member: offboarding may remove them again.
        record_created(
            enrolment.course,
            ManagedResource.Kind.INVITATION,
            enrolment.docker_id,
            result.invite.id if result.invite else "",
        )
        Enrolment.objects.filter(pk=enrolment.pk).update(
            invite_state=InviteState.PENDING,
            invite_id=result.invite.id if result.invite else "",
            invited_at=(result.invite.created_at if result.invite else None) or now,
            docker_id_verified_at=enrolment.docker_id_verified_at or now,
            updated_at=now,
        )
        enrolment_clear_error(enrolment_id=enrolment.pk, step=StepName.INVITE)
        return 1
    if result.status == "existing_org_member":
        # A member before the course asked: not the course's to remove.
        record_found(enrolment.course, ManagedResource.Kind.INVITATION, enrolment.docker_id)
        Enrolment.objects.filter(pk=enrolment.pk).update(
            invite_state=InviteState.ACCEPTED,
            member_at=enrolment.member_at or now,
            docker_id_verified_at=enrolment.docker_id_verified_at or now,
            updated_at=now,
        )
        enrolment_clear_error(enrolment_id=enrolment.pk, step=StepName.INVITE)
        return 0
    if result.status == "invalid_email_or_docker_id":
        message = (
            f"Docker Hub does not know the Docker ID {enrolment.docker_id}. Check its "
            "spelling on your Docker Hub profile and correct it in hubcourse."
        )
    elif is_seat_refusal(result.status):
        message = seat_refusal_message(enrolment.docker_id, enrolment.course.organisation)
    else:
        message = f"Docker Hub did not invite {enrolment.docker_id}: {result.status}."
    enrolment_record_error(
        enrolment_id=enrolment.pk, step=StepName.INVITE, error=message, permanent=True
    )
    audit_record(
        service=DOCKER_HUB,
        action="invite.send",
        target=enrolment.docker_id,
        outcome=Outcome.ERROR,
        enrolment=enrolment,
        message=message,
    )
    return 0


def course_team_add_member(
    *,
    client: DockerHubClient,
    course: Course,
    enrolment: Enrolment,
    actor: User | None = None,
) -> None:
    """Put an organisation member into the course team directly (no invitation).

    A student who is already in the organisation is answered "existing_org_member" by the
    bulk invite: there is no invite to accept, so the team must be joined with Docker Hub's
    team-members route. It only takes members (Docker Hub refuses anyone else); adding one
    who is in the team already changes nothing. Under the course-team policy the course
    team is the student's team, so ``team_at`` is set; with one team per student the course
    team holds no permission and the student's own team step runs as before.
    """
    target = f"{course.organisation}/{course.team}: {enrolment.docker_id}"
    outcome = Outcome.OK
    try:
        client.add_team_member(course.organisation, course.team, enrolment.docker_id)
    except Invalid as error:
        if "already" not in str(error).lower():
            raise
        outcome = Outcome.NOOP
    if course.access_policy == Course.AccessPolicy.COURSE_TEAM:
        Enrolment.objects.filter(pk=enrolment.pk, team_at__isnull=True).update(
            team_at=timezone.now(), updated_at=timezone.now()
        )
    audit_record(
        service=DOCKER_HUB,
        action="team.add_member",
        target=target,
        outcome=outcome,
        course=course,
        enrolment=enrolment,
        actor=actor,
        message="already in the organisation: added to the team without an invitation",
    )
    enrolment_clear_error(enrolment_id=enrolment.pk, step=StepName.TEAM)


def enrolment_resend_invite(
    *,
    client: DockerHubClient,
    course: Course,
    enrolment: Enrolment,
    actor: User | None,
    reason: str = "",
) -> bool:
    """Re-send the student's invite. False when Docker Hub no longer has it: it is forgotten,
    and the next pass invites the student afresh. Other errors are the caller's to handle."""
    try:
        client.resend_invite(enrolment.invite_id)
    except NotFound:
        Enrolment.objects.filter(pk=enrolment.pk).update(
            invite_state=InviteState.NONE, invite_id="", invited_at=None
        )
        return False
    Enrolment.objects.filter(pk=enrolment.pk).update(
        invite_state=InviteState.PENDING, invited_at=timezone.now()
    )
    audit_record(
        service=DOCKER_HUB,
        action="invite.resend",
        target=enrolment.docker_id,
        outcome=Outcome.OK,
        course=course,
        enrolment=enrolment,
        actor=actor,
        message=reason,
    )
    return True
