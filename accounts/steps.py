"""The names of the onboarding steps, as ``Enrolment.error_step`` stores them.

The domain records a failed step by name, so the names live here, at the lowest floor that
writes them; everything else about a step (its label, its handout step, order, queue
priority and service) is in the registry of ``onboarding/steps.py``, keyed by these names.
"""

from __future__ import annotations

from enum import StrEnum


class StepName(StrEnum):
    TEAMS = "teams"
    DOCKER_ID = "docker_id"
    PREFLIGHT = "preflight"
    INVITE = "invite"
    TEAM = "team"
    REPOSITORY = "repository"
    PERMISSIONS = "permissions"
    LINK_BUILD = "link_build"
    CONFIGURE_BUILD = "configure_build"
    TRIGGER_FIRST_BUILD = "trigger_first_build"
