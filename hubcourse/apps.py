from __future__ import annotations

from django.apps import AppConfig


class HubcourseConfig(AppConfig):
    name = "hubcourse"
    verbose_name = "hubcourse core"

    def ready(self) -> None:
        # Imported here, at app loading, in every process (web, commands, worker): services
        # queue tasks by their registered name, so each app registers its tasks as it loads.
        from hubcourse import (
            checks,  # noqa: F401 (registers the system checks)
            tasks,  # noqa: F401
            workers,  # noqa: F401 (the worker's identity, alive key and dead-worker sweep)
        )
