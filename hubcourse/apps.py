from __future__ import annotations

from django.apps import AppConfig


class HubcourseConfig(AppConfig):
    name = "hubcourse"
    verbose_name = "hubcourse core"

    def ready(self) -> None:
        from hubcourse import checks  # noqa: F401 (registers the system checks)
