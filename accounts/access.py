"""Who may see and do what. Every view and API endpoint checks access through here.

Staff pages answer 404 to anyone who is not staff on the course (a student or an outsider
learns nothing about other courses), and 403 to a TA who reaches for an instructor-only
action. A student's pages answer 404 for anything that is not theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Course, CourseRole, Enrolment, User

INSTRUCTOR = CourseRole.Role.INSTRUCTOR
TA = CourseRole.Role.TA


@dataclass(frozen=True)
class CourseAccess:
    course: Course
    role: str  # "instructor" or "ta"

    @property
    def can_manage(self) -> bool:
        """Change settings and credentials, import the roster, apply plans, offboard."""
        return self.role == INSTRUCTOR

    @property
    def can_operate(self) -> bool:
        """Retry failed steps, re-send invites, re-run pre-flight (TAs may)."""
        return self.role in (INSTRUCTOR, TA)


def course_access(user: User, course: Course) -> CourseAccess | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_site_admin:
        return CourseAccess(course, INSTRUCTOR)
    role = (
        CourseRole.objects.filter(course=course, user=user).values_list("role", flat=True).first()
    )
    return CourseAccess(course, role) if role else None


def get_course_for_staff(user: User, slug: str, *, manage: bool = False) -> CourseAccess:
    """The course and the user's role on it; 404 for non-staff, 403 if ``manage`` and a TA."""
    course = Course.objects.filter(slug=slug).first()
    access = course_access(user, course) if course else None
    if access is None:
        raise Http404("No such course.")
    if manage and not access.can_manage:
        raise PermissionDenied("Only the course's instructors can do this.")
    return access


def get_enrolment_for_staff(
    user: User, slug: str, enrolment_id: int, *, manage: bool = False
) -> tuple[CourseAccess, Enrolment]:
    access = get_course_for_staff(user, slug, manage=manage)
    enrolment = Enrolment.objects.filter(course=access.course, pk=enrolment_id).first()
    if enrolment is None:
        raise Http404("No such student on this course.")
    return access, enrolment


def get_enrolment_for_student(user: User, enrolment_id: int) -> Enrolment:
    """A student's own enrolment; anything else is 404, whoever asks."""
    enrolment = (
        Enrolment.objects.select_related("course").filter(pk=enrolment_id, user=user).first()
        if user.is_authenticated
        else None
    )
    if enrolment is None:
        raise Http404("No such enrolment.")
    return enrolment


def may_create_courses(user: User) -> bool:
    """Site admins, and people who already teach a course, may start a new one."""
    return (
        user.is_site_admin
        or CourseRole.objects.filter(user=user, role=CourseRole.Role.INSTRUCTOR).exists()
    )


def require_site_admin(user: User) -> None:
    if not (user.is_authenticated and user.is_site_admin):
        raise PermissionDenied("Only the organisation's administrators can do this.")
