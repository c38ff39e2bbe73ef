from __future__ import annotations

from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """The onboarding engine: the step registry, observe/plan/apply, the students' chains and
    the course tasks, derived onboarding state, and offboarding as the engine's removal plan."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "onboarding"

    def ready(self) -> None:
        # Imported here because models may be imported only once the app registry is ready.
        # Reactions to the domain's changes travel up by signals, never by imports from below.
        from onboarding import signals, tasks  # noqa: F401  (tasks: registers the engine's tasks)

        signals.connect()
