from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The instructor's and TA's pages: course setup, roster import, the class board."""

    name = "dashboard"
