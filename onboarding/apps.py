from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_save


class OnboardingConfig(AppConfig):
    """The onboarding engine: the step registry, observe/plan/apply, the students' chains and
    the course tasks, derived onboarding state, and offboarding as the engine's removal plan."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "onboarding"

    def ready(self) -> None:
        # Reactions to the domain's changes travel up by signals, never by imports from below.
        from builds.models import Build
        from onboarding import signals

        post_save.connect(signals.build_saved, sender=Build, dispatch_uid="onboarding.build_saved")
        signals.connect()
