"""The engine's Celery tasks: one module per kind of work, all registered by importing this
package (Celery's autodiscovery imports ``onboarding.tasks``)."""

from onboarding.tasks import checks, course, offboarding, steps

__all__ = ["checks", "course", "offboarding", "steps"]
