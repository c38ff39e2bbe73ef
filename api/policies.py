"""Decisions the pages' access module has no function for yet (see the report)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.models import CourseRole, User


def require_course_creator(user: User) -> None:
    """Site administrators and instructors of any course may set up a new course."""
    if user.is_site_admin:
        return
    if CourseRole.objects.filter(user=user, role=CourseRole.Role.INSTRUCTOR).exists():
        return
    raise PermissionDenied(
        "Only instructors and the organisation's administrators can create courses; ask an "
        "administrator to create the course or to make you an instructor."
    )
