from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_save


class DashboardConfig(AppConfig):
    """The instructor's and TA's pages: course setup, roster import, the class board."""

    name = "dashboard"

    def ready(self) -> None:
        from builds.models import Build
        from dashboard.signals import build_saved

        post_save.connect(build_saved, sender=Build, dispatch_uid="dashboard.build_saved")
