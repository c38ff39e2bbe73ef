from __future__ import annotations

from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"

    def ready(self) -> None:
        # Imported here, at app loading: the tasks module registers the app's Celery tasks
        # (services queue them by name), and the tracking handlers read models.
        from builds import tasks  # noqa: F401
        from builds.tracking import on_app_event
        from integrations.github.webhooks import app_event

        # The GitHub App's push and workflow_run events: builds seen within seconds.
        app_event.connect(on_app_event, dispatch_uid="builds.tracking.on_app_event")
