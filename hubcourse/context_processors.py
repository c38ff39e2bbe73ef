from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _navigation(request: HttpRequest) -> dict[str, bool]:
    """Which top-level links a person gets: one query per role, asked once per page."""
    user = request.user
    if not user.is_authenticated:
        return {"course_staff": False, "student": False}
    return {
        "course_staff": user.is_staff or user.course_roles.exists(),
        "student": user.enrolments.exists(),
    }


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "HUBCOURSE_VERSION": settings.HUBCOURSE_VERSION,
        "SANDBOX_MODE": settings.DOCKERHUB_API_URL == settings.SANDBOX_URL,
        "SANDBOX_URL": settings.SANDBOX_URL,
        "nav": SimpleLazyObject(lambda: _navigation(request)),
    }
