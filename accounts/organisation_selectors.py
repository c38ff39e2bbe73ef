"""Reads for the organisation pages: database only, constant queries per page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower

from accounts.models import (
    BulkInvite,
    Course,
    Enrolment,
    OrgInvite,
    OrgMember,
    OrgSnapshot,
    OrgTeam,
)


def members_with_enrolment(
    organisation: str, *, unenrolled_only: bool = False
) -> QuerySet[OrgMember]:
    """Members, each with ``enrolled``: in some active course (any organisation, any case).

    ``unenrolled_only`` keeps the members who hold a seat for no course (owners aside).
    """
    enrolled = Enrolment.objects.filter(
        course__archived_at__isnull=True, docker_id__iexact=OuterRef("username")
    )
    members = OrgMember.objects.filter(organisation=organisation).annotate(
        enrolled=Exists(enrolled)
    )
    if unenrolled_only:
        members = members.filter(enrolled=False).exclude(role__iexact="owner")
    return members.order_by("username")


def active_courses_of(usernames: Iterable[str]) -> dict[str, list[Course]]:
    """The active courses each Docker ID (any case) is enrolled in, by lower-case Docker ID:
    one query for a page of members."""
    wanted = {name.lower() for name in usernames if name}
    courses: dict[str, list[Course]] = {}
    if not wanted:
        return courses
    enrolments = (
        Enrolment.objects.annotate(docker_id_lower=Lower("docker_id"))
        .filter(course__archived_at__isnull=True, docker_id_lower__in=wanted)
        .select_related("course")
        .order_by("course__name", "course__pk")
    )
    for enrolment in enrolments:
        found = courses.setdefault(enrolment.docker_id_lower, [])
        if enrolment.course not in found:
            found.append(enrolment.course)
    return courses


def invites(organisation: str) -> QuerySet[OrgInvite]:
    return OrgInvite.objects.filter(organisation=organisation).order_by("created_at", "invitee")


def snapshot(organisation: str) -> OrgSnapshot | None:
    return OrgSnapshot.objects.filter(organisation=organisation).first()


def known_teams(organisation: str) -> list[str]:
    """The organisation's teams as Docker Hub spelled them at its last read."""
    names = OrgTeam.objects.filter(organisation=organisation).values_list("name", flat=True)
    return sorted(names, key=str.lower)


def recent_bulk_invites(limit: int = 10) -> QuerySet[BulkInvite]:
    return BulkInvite.objects.select_related("created_by").order_by("-created_at")[:limit]


def courses_for_offboarding() -> QuerySet[Course]:
    return Course.objects.order_by("archived_at", "name")


@dataclass(frozen=True)
class SharedTeam:
    """Active courses whose students' team is one team, where one course's students read
    the other's repositories (see ``accounts.course_rules.team_shared_with``)."""

    organisation: str
    team: str
    courses: list[Course]

    @property
    def readers(self) -> list[Course]:
        """The courses under the course-team policy: their team reads every repository."""
        return [c for c in self.courses if c.access_policy == Course.AccessPolicy.COURSE_TEAM]


def shared_course_teams() -> list[SharedTeam]:
    """Every students' team that two or more active courses use, when one of them gives it
    read access to all its students' repositories. New courses cannot do this (a course
    rule); courses made before the rule, or by hand, can."""
    by_team: dict[tuple[str, str], list[Course]] = {}
    for course in Course.objects.filter(archived_at__isnull=True).order_by("name", "pk"):
        by_team.setdefault((course.organisation.lower(), course.team.lower()), []).append(course)
    shared = [
        SharedTeam(courses[0].organisation, courses[0].team, courses)
        for courses in by_team.values()
        if len(courses) > 1
    ]
    return [s for s in shared if s.readers]
