from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Imported here: models may be imported only once the app registry is ready. The tasks
        # module registers the app's Celery tasks, which services queue by name.
        # revocation connects its signal receivers on import.
        from accounts import revocation, tasks  # noqa: F401
        from accounts.selectors import task_log_context
        from hubcourse.tasklog import add_context_provider

        add_context_provider(task_log_context)
