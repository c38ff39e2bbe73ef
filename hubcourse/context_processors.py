from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "HUBCOURSE_VERSION": settings.HUBCOURSE_VERSION,
        "SANDBOX_MODE": settings.DOCKERHUB_API_URL == settings.SANDBOX_URL,
        "SANDBOX_URL": settings.SANDBOX_URL,
    }
