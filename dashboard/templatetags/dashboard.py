from __future__ import annotations

from django import template

from accounts.access import may_create_courses as allowed
from accounts.models import User

register = template.Library()


@register.simple_tag
def may_create_courses(user: User) -> bool:
    """For pages outside the dashboard (the course list) that offer "New course"."""

    return bool(user.is_authenticated and allowed(user))
