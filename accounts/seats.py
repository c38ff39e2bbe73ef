"""Seats: every member and every pending invitation of an organisation holds a paid seat.

Docker Hub publishes no API for the plan's seat count, so a site admin records it on the
organisation's registration (``Organisation.seats``); the seats in use are counted from the
member and invitation lists whenever hubcourse reads them whole from Docker Hub (the members
page's refresh, a course's reconcile, a bulk invite's dry run) and kept on the organisation's
row, so pages read the database only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from accounts.models import Organisation
from hubcourse.errors import PermanentError
from hubcourse.text import counted
from integrations.dockerhub.client import InviteResult

# How hubcourse records a refusal for lack of seats (the sandbox's own status; see
# ``is_seat_refusal``).
SEAT_REFUSAL = "seat_limit_exceeded"


@dataclass(frozen=True)
class SeatUsage:
    organisation: str
    seats: int | None  # paid seats as the admin recorded them; None: not recorded
    members: int | None  # None: never read from Docker Hub
    invites: int | None
    read_at: dt.datetime | None

    @property
    def known(self) -> bool:
        return self.seats is not None and self.members is not None and self.invites is not None

    @property
    def used(self) -> int | None:
        if self.members is None or self.invites is None:
            return None
        return self.members + self.invites

    @property
    def free(self) -> int | None:
        used = self.used
        if self.seats is None or used is None:
            return None
        return max(self.seats - used, 0)

    def would_not_fit(self, invitations: int) -> int:
        """How many of ``invitations`` new invitations find no free seat (0 when unknown)."""
        free = self.free
        return max(invitations - free, 0) if free is not None else 0

    def summary(self) -> str:
        """The seats in words, for the pages that invite."""
        if self.seats is None:
            return (
                f"The paid seats of {self.organisation} are not recorded: a site administrator "
                "records them on the organisation's registration."
            )
        if self.used is None:
            return (
                f"{self.organisation} has {counted(self.seats, 'paid seat')}; the seats in use "
                "are not read from Docker Hub yet (refresh the members page)."
            )
        when = f", as read from Docker Hub on {timezone.localtime(self.read_at):%d %b %Y %H:%M}"
        return (
            f"{counted(self.used, 'seat')} of {self.seats} in use in {self.organisation} "
            f"({counted(self.members or 0, 'member')} and "
            f"{counted(self.invites or 0, 'pending invitation')}{when if self.read_at else ''}): "
            f"{self.free} free."
        )

    def warning(self, invitations: int) -> str:
        """Before sending: how many of the invitations would not fit, or ""."""
        over = self.would_not_fit(invitations)
        if not over:
            return ""
        return (
            f"{counted(over, 'invitation')} of {invitations} would not fit: {self.organisation} "
            f"has {counted(self.free or 0, 'free seat')}. Docker Hub refuses invitations beyond "
            "the paid seats; free seats (offboard a finished course, cancel old invitations) or "
            "add seats to the plan first."
        )


def seat_usage(organisation: str) -> SeatUsage:
    org = Organisation.objects.filter(name__iexact=organisation).first()
    if org is None:
        return SeatUsage(organisation, None, None, None, None)
    return SeatUsage(org.name, org.seats, org.seat_members, org.seat_invites, org.seats_read_at)


def record_seat_usage(organisation: str, *, members: int, invites: int) -> None:
    """What Docker Hub's whole member and invitation lists just said (a registered
    organisation only)."""
    Organisation.objects.filter(name__iexact=organisation).update(
        seat_members=members, seat_invites=invites, seats_read_at=timezone.now()
    )


def is_seat_refusal(status: str) -> bool:
    """Docker Hub's per-invitee refusal for lack of seats. Its exact status is undocumented
    (UNCONFIRMED; see tests/fidelity/STATUSES.md): the sandbox answers
    ``seat_limit_exceeded``, and any status naming seats is read the same way."""
    return "seat" in status.lower()


def seat_refusals(error: PermanentError, invitees: list[str]) -> list[InviteResult]:
    """A whole request refused for lack of seats, as one refusal per invitee (so each is
    shown in words); any other refusal is raised again. Whether Docker Hub ever refuses a
    whole request this way is UNCONFIRMED (tests/fidelity/STATUSES.md)."""
    if not is_seat_refusal(error.message):
        raise error
    return [InviteResult(invitee=name, status=SEAT_REFUSAL) for name in invitees]


def seat_refusal_message(invitee: str, organisation: str, *, dry_run: bool = False) -> str:
    usage = seat_usage(organisation)
    paid = f" of its {counted(usage.seats, 'paid seat')}" if usage.seats is not None else ""
    verb = "would not invite" if dry_run else "did not invite"
    return (
        f"Docker Hub {verb} {invitee}: {organisation} has no free seat (every member "
        f"and pending invitation holds one{paid}). Free a seat or add seats to the plan, then "
        "send the invitation again."
    )
