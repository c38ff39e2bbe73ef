from __future__ import annotations

from django import template

from accounts.access import may_create_courses as allowed
from accounts.models import Course, User
from builds.backends import moving_note as backend_moving_note

register = template.Library()


@register.simple_tag
def may_create_courses(user: User) -> bool:
    """For pages outside the dashboard (the course list) that offer "New course"."""

    return bool(user.is_authenticated and allowed(user))


@register.filter
def moving_note(course: Course) -> str:
    """``{{ course|moving_note }}``: what moving an active course off a retiring build backend
    involves, or "" (read from the course's own row: no query)."""
    return "" if course.archived_at else backend_moving_note(course.build_backend)


# What a plan row will do, as a person says it: the plan's kinds ("create", "change") are
# the engine's words, and "Change: create" beside a pre-flight check read as a key.
PLAN_ACTIONS: dict[tuple[str, str], str] = {
    ("teams", "create"): "Create the course teams",
    ("teams", "change"): "Fix the course teams",
    ("teams", "delete"): "Delete the old team",
    ("preflight", "create"): "Check the GitHub repository",
    ("invite", "create"): "Send the invitation",
    ("invite", "change"): "Send the invitation again",
    ("team", "create"): "Create the student's own team",
    ("team", "change"): "Add the student to the team",
    ("repository", "create"): "Create the Docker Hub repository",
    ("repository", "change"): "Fix the Docker Hub repository",
    ("permissions", "create"): "Grant the team permissions",
    ("permissions", "change"): "Fix the team permissions",
    ("configure_build", "create"): "Set up the build",
    ("configure_build", "change"): "Set the build up again",
    ("trigger_first_build", "create"): "Start the first build",
}
KIND_WORDS = {"create": "Create", "change": "Change", "delete": "Remove"}


@register.filter
def plan_action(step: object) -> str:
    """``{{ plan_step|plan_action }}``: "Send the invitation", not "invite: create"."""
    name, kind = str(getattr(step, "step", "")), str(getattr(step, "kind", ""))
    return PLAN_ACTIONS.get((name, kind), KIND_WORDS.get(kind, "Nothing to do"))
