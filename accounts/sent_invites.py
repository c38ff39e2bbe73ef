"""Invitations hubcourse has just sent, recorded in its copy of the organisation's pending
invites, so the members page lists them at once rather than after the next read.

Docker Hub's bulk invite answers each invitee with the invite it created (id, team, role,
inviter); that is what is recorded, marked as sent by hubcourse until a read of Docker Hub
lists it (``accounts.membership.organisation_sync`` clears the mark or drops the row).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from accounts.models import OrgInvite
from integrations.dockerhub.client import InviteResult


def invites_record_sent(*, organisation: str, results: Iterable[InviteResult]) -> int:
    """Record the invites a bulk invite created; returns how many. Rows a read already
    brought in are left as they are (and so not marked)."""
    now = timezone.now()
    rows = [
        OrgInvite(
            organisation=organisation,
            invite_id=result.invite.id,
            invitee=(result.invite.invitee or result.invitee)[:320],
            inviter=result.invite.inviter_username[:255],
            team=result.invite.team[:255],
            role=result.invite.role[:20],
            created_at=result.invite.created_at or now,
            sent_by_hubcourse_at=now,
        )
        for result in results
        if result.status == "invited" and result.invite is not None and result.invite.id
    ]
    OrgInvite.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)
