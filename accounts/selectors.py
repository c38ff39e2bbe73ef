"""Reads about people and their roles. Every access decision starts here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def task_log_context(arguments: Mapping[str, Any]) -> list[str]:
    """``course=<slug> student=<enrolment id>`` for a task's log lines, from its arguments
    (registered with ``hubcourse.tasklog``: only ids and slugs, never a name or an address)."""
    course_id, enrolment_id = arguments.get("course_id"), arguments.get("enrolment_id")
    parts: list[str] = []
    if enrolment_id is not None:
        row = Enrolment.objects.filter(pk=enrolment_id).values("course__slug").first()
        parts += [f"course={row['course__slug']}"] if row else []
        parts.append(f"student={enrolment_id}")
    elif course_id is not None:
        slug = Course.objects.filter(pk=course_id).values_list("slug", flat=True).first()
        parts.append(f"course={slug or course_id}")
    return parts
