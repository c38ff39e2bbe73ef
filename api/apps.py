from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Imported here because the modules need the app registry (they import models).
        # Registers the token scheme with drf-spectacular, and the settings check.
        from api import checks, schema  # noqa: F401
