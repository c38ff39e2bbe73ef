from __future__ import annotations

from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"

    def ready(self) -> None:
        from builds.tracking import on_app_event
        from integrations.github.webhooks import app_event

        # The GitHub App's push and workflow_run events: builds seen within seconds.
        app_event.connect(on_app_event, dispatch_uid="builds.tracking.on_app_event")
