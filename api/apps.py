from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular, and the settings check.
        from api import checks, schema  # noqa: F401
