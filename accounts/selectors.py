"""Reads about people and their roles. Every access decision starts here."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Course, CourseRole, Enrolment, User


def courses_for_staff(user: User) -> QuerySet[Course]:
    """Courses on which the user is an instructor or a TA (site admins see every course)."""
    if user.is_site_admin:
        return Course.objects.all()
    return Course.objects.filter(roles__user=user).distinct()


def role_on_course(user: User, course: Course) -> str | None:
    """``instructor``, ``ta`` or None; site admins act as instructors."""
    if user.is_site_admin:
        return CourseRole.Role.INSTRUCTOR
    return (
        CourseRole.objects.filter(course=course, user=user).values_list("role", flat=True).first()
    )


def enrolments_for_student(user: User) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(user=user).select_related("course")


def home_url_name(user: User) -> str:
    """Where the landing page sends a signed-in user."""
    if user.is_site_admin:
        return "organisation:index"
    if CourseRole.objects.filter(user=user).exists():
        return "course_list"
    if Enrolment.objects.filter(user=user).exists():
        return "my_courses"
    return "welcome"
