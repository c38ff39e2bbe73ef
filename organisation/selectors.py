"""Reads for the organisation pages: database only, constant queries per page."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import Course, Enrolment
from organisation.models import BulkInvite, OrgInvite, OrgMember, OrgSnapshot, OrgTeam


def members_with_enrolment(organisation: str) -> QuerySet[OrgMember]:
    """Members, each with ``enrolled``: in some active course (any organisation, any case)."""
    enrolled = Enrolment.objects.filter(
        course__archived_at__isnull=True, docker_id__iexact=OuterRef("username")
    )
    return (
        OrgMember.objects.filter(organisation=organisation)
        .annotate(enrolled=Exists(enrolled))
        .order_by("username")
    )


def invites(organisation: str) -> QuerySet[OrgInvite]:
    return OrgInvite.objects.filter(organisation=organisation).order_by("created_at", "invitee")


def snapshot(organisation: str) -> OrgSnapshot | None:
    return OrgSnapshot.objects.filter(organisation=organisation).first()


def known_teams(organisation: str) -> list[str]:
    """Teams from the last read of Docker Hub, plus those the courses name."""
    names = set(OrgTeam.objects.filter(organisation=organisation).values_list("name", flat=True))
    for course in Course.objects.filter(organisation__iexact=organisation):
        names.add(course.team)
    return sorted(names, key=str.lower)


def recent_bulk_invites(limit: int = 10) -> QuerySet[BulkInvite]:
    return BulkInvite.objects.select_related("created_by").order_by("-created_at")[:limit]


def courses_for_offboarding() -> QuerySet[Course]:
    return Course.objects.order_by("archived_at", "name")
