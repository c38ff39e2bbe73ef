"""The organisation's members, pending invites and teams, as Docker Hub reports them.

``organisation_sync`` reads them (members and teams follow every page; invites come in one
answer) and replaces hubcourse's copy in one transaction, so the page never shows half of
one read and half of another. Resending and cancelling act on Docker Hub, one call per
invite, each in the audit log, and end with a fresh read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from accounts.bulk_invites import organisation_client
from accounts.models import OrgInvite, OrgMember, OrgSnapshot, OrgTeam, User
from accounts.seats import record_seat_usage
from hubcourse.audit import Outcome as AuditOutcome
from hubcourse.audit import audit_record
from hubcourse.errors import ExternalServiceError, NotFound
from hubcourse.models import JobStatus
from hubcourse.tasks import enqueue_on_commit
from integrations.dockerhub.client import SERVICE, DockerHubClient

RESEND = "resend"
CANCEL = "cancel"
ACTIONS = (RESEND, CANCEL)
# Queued by name (accounts.tasks registers them).
SYNC_TASK = "accounts.organisation_sync"
INVITE_ACTION_TASK = "accounts.invite_action"


def sync_requested(*, organisation: str, actor: User | None = None) -> OrgSnapshot:
    """Mark a read as queued (the page shows it) and enqueue it after the commit."""
    snapshot, _ = OrgSnapshot.objects.get_or_create(organisation=organisation)
    OrgSnapshot.objects.filter(pk=snapshot.pk).update(
        status=JobStatus.QUEUED, requested_at=timezone.now()
    )
    audit_record(
        service=SERVICE,
        action="organisation.sync",
        target=organisation,
        outcome=AuditOutcome.OK,
        actor=actor,
        message="read of members, invites and teams requested",
    )
    enqueue_on_commit(SYNC_TASK, organisation)
    snapshot.refresh_from_db()
    return snapshot


# Bulk add offers the teams of the last read; an older read is refreshed in the background.
TEAMS_FRESH_FOR = dt.timedelta(hours=1)


def sync_if_stale(*, organisation: str, actor: User | None = None) -> bool:
    """Queue a read when none is under way and the last one is missing or older than
    ``TEAMS_FRESH_FOR``; True when one was queued. A page calls it instead of Docker Hub."""
    snapshot = OrgSnapshot.objects.filter(organisation=organisation).first()
    if snapshot is not None and snapshot.reading:
        return False
    if snapshot is not None and snapshot.synced_at is not None:
        if timezone.now() - snapshot.synced_at < TEAMS_FRESH_FOR:
            return False
    sync_requested(organisation=organisation, actor=actor)
    return True


def organisation_sync(*, organisation: str, client: DockerHubClient | None = None) -> OrgSnapshot:
    client = client or organisation_client(organisation)
    started = timezone.now()
    OrgSnapshot.objects.update_or_create(
        organisation=organisation, defaults={"status": JobStatus.RUNNING, "requested_at": started}
    )
    members = [m for m in client.list_members(organisation) if not m.is_invitee]
    invites = client.list_invites(organisation)
    teams = client.list_teams(organisation)
    record_seat_usage(organisation, members=len(members), invites=len(invites))
    now = timezone.now()
    with transaction.atomic():
        OrgMember.objects.filter(organisation=organisation).delete()
        OrgMember.objects.bulk_create(
            [
                OrgMember(
                    organisation=organisation,
                    username=m.username,
                    full_name=m.full_name[:255],
                    email=m.email[:320],
                    role=m.role,
                    teams=list(m.groups),
                )
                for m in members
                if m.username
            ],
            batch_size=1000,
        )
        # Invites are updated in place: hubcourse's own resend time must survive a read.
        # Invites hubcourse sent while this read ran may be missing from its answer: they
        # stay, still marked, for the next read.
        seen = [invite.id for invite in invites]
        OrgInvite.objects.filter(organisation=organisation).exclude(invite_id__in=seen).exclude(
            sent_by_hubcourse_at__gte=started
        ).delete()
        existing = {
            row.invite_id: row for row in OrgInvite.objects.filter(organisation=organisation)
        }
        new_rows, changed = [], []
        for invite in invites:
            fields = {
                "invitee": invite.invitee[:320],
                "inviter": invite.inviter_username[:255],
                "team": invite.team[:255],
                "role": invite.role[:20],
                "created_at": invite.created_at,
                # Read back: no longer only hubcourse's word.
                "sent_by_hubcourse_at": None,
            }
            row = existing.get(invite.id)
            if row is None:
                new_rows.append(OrgInvite(organisation=organisation, invite_id=invite.id, **fields))
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
                changed.append(row)
        OrgInvite.objects.bulk_create(new_rows, batch_size=1000)
        OrgInvite.objects.bulk_update(
            changed,
            ["invitee", "inviter", "team", "role", "created_at", "sent_by_hubcourse_at"],
            batch_size=1000,
        )
        OrgTeam.objects.filter(organisation=organisation).delete()
        OrgTeam.objects.bulk_create(
            [
                OrgTeam(
                    organisation=organisation,
                    team_id=t.id,
                    name=t.name,
                    member_count=t.member_count,
                )
                for t in teams
            ]
        )
        snapshot, _ = OrgSnapshot.objects.update_or_create(
            organisation=organisation,
            defaults={"status": JobStatus.DONE, "synced_at": now, "error": ""},
        )
    return snapshot


def record_sync_error(
    organisation: str, error: ExternalServiceError, *, waiting: bool = False
) -> None:
    OrgSnapshot.objects.update_or_create(
        organisation=organisation,
        defaults={
            "status": JobStatus.WAITING if waiting else JobStatus.FAILED,
            "error": str(error)[:2000],
        },
    )


def invites_requested(
    *, organisation: str, action: str, invite_ids: Sequence[str], actor: User | None
) -> int:
    """Queue a resend or cancel of the chosen invites (only ones hubcourse knows)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown invite action {action!r}")
    known = list(
        OrgInvite.objects.filter(organisation=organisation, invite_id__in=invite_ids).values_list(
            "invite_id", flat=True
        )
    )
    if not known:
        return 0
    OrgSnapshot.objects.update_or_create(
        organisation=organisation,
        defaults={"status": JobStatus.QUEUED, "requested_at": timezone.now()},
    )
    actor_id = actor.pk if actor else None
    enqueue_on_commit(INVITE_ACTION_TASK, organisation, action, known, actor_id)
    return len(known)


def invites_act(
    *,
    organisation: str,
    action: str,
    invite_ids: Sequence[str],
    actor_id: int | None = None,
    client: DockerHubClient | None = None,
) -> dict[str, int]:
    """Resend or cancel each invite; returns how many were done, already gone, failed."""
    client = client or organisation_client(organisation)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    counts = {"done": 0, "gone": 0, "failed": 0}
    for row in OrgInvite.objects.filter(organisation=organisation, invite_id__in=invite_ids):
        try:
            if action == RESEND:
                client.resend_invite(row.invite_id)
                OrgInvite.objects.filter(pk=row.pk).update(resent_at=timezone.now())
            else:
                client.cancel_invite(row.invite_id)
                OrgInvite.objects.filter(pk=row.pk).delete()
            outcome, message = AuditOutcome.OK, ""
            counts["done"] += 1
        except NotFound:
            # Accepted, cancelled or expired past recall meanwhile: nothing left to do.
            OrgInvite.objects.filter(pk=row.pk).delete()
            outcome, message = AuditOutcome.NOOP, "the invite was no longer pending"
            counts["gone"] += 1
        except ExternalServiceError as error:
            if not error.permanent:
                raise
            outcome, message = AuditOutcome.ERROR, str(error)
            counts["failed"] += 1
        audit_record(
            service=SERVICE,
            action=f"invite.{action}",
            target=f"{organisation}: {row.invitee}",
            outcome=outcome,
            actor=actor,
            message=message,
        )
    return counts
