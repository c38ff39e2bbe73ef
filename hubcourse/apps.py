from __future__ import annotations

from django.apps import AppConfig


class HubcourseConfig(AppConfig):
    name = "hubcourse"
    verbose_name = "hubcourse core"
