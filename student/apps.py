from __future__ import annotations

from django.apps import AppConfig


class StudentConfig(AppConfig):
    """The student's side: joining with a course link, linking, status, badge, emails."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "student"
    verbose_name = "Student pages"
