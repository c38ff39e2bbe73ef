"""Who may read the API's schema and docs: anyone in development, signed-in users otherwise
(settings.API_DOCS_PUBLIC): the schema maps every route an attacker would try."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class DocsReader(BasePermission):
    message = "Sign in to read the API's documentation."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)
