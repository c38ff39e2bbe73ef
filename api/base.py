"""What every endpoint shares: the signed-in user, typed, and the course access checks.

Access is decided only by ``accounts.access`` (the pages' policy): 404 for anyone who is not
on the course's staff, 403 for a TA reaching for an instructor's action.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from rest_framework.request import Request

from accounts.access import CourseAccess, get_course_for_staff
from accounts.models import User


def request_user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated ran first
    return user


def staff_access(request: Request, slug: str, *, manage: bool = False) -> CourseAccess:
    return get_course_for_staff(request_user(request), slug, manage=manage)


class MomentFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]  # untyped library
    """An ISO 8601 moment in a query string, compared in UTC.

    ISO 8601 (and Python) allow any UTC offset; PostgreSQL refuses one past 15:59 and the
    request would fail, so the moment is moved to UTC first.
    """

    def filter(self, qs: Any, value: Any) -> Any:
        if value is not None:
            value = value.astimezone(dt.UTC)
        return super().filter(qs, value)


class IdFilter(django_filters.NumberFilter):  # type: ignore[misc]  # untyped library
    """A row id in a query string: a whole number the database can hold."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
