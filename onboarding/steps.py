"""The step registry: one definition per onboarding step, read by every page and task.

A step's *name* is ``accounts.steps.StepName`` (the domain records failures by name and sits
below this floor); everything else about it is here: the label people read, the handout step
(1-5) a student sees it under, its place in the plan, its queue priority, the service that
runs it for one student, and whether it waits on the student. The plan, the class board, the
student's page, the API, the emails and the per-student Celery tasks all read this table, so
a step is added or renamed in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from accounts.models import Course, User
from accounts.steps import StepName
from builds.backends import backend_for
from builds.preflight import preflight_run
from builds.services import build_configure, build_trigger_first
from repositories.services import (
    enrolment_join_student_team,
    repository_ensure,
    repository_grant_permissions,
)

HANDOUT_STEP_COUNT = 5

# One student's step: (enrolment id, the person who asked or None) -> anything.
Action = Callable[[int, User | None], object]


def _grant_permissions(enrolment_id: int, actor: User | None) -> object:
    """The team permissions, with the student's own team's as the course's backend needs."""
    course = Course.objects.filter(enrolments=enrolment_id).first()
    student_team = backend_for(course).student_team_permission if course else "read"
    return repository_grant_permissions(
        enrolment_id=enrolment_id, actor=actor, student_team=student_team
    )


@dataclass(frozen=True)
class StepDefinition:
    name: StepName
    label: str  # as a person reads it: "Team permission"
    handout_step: int  # 1-5: the step of the student's handout it belongs to
    order: int  # its place in the plan (and in a student's chain)
    # The per-student service, run by the task "onboarding.step.<name>" in the student's
    # chain; None for the course-wide steps (teams, the bulk invite) and the student's own.
    action: Action | None = None
    # Broker priority of the step's task (Redis serves lower numbers first). Later steps go
    # first, so a student once started runs through while others start (see engine.py).
    priority: int = 0
    waits_on_student: bool = False  # done by the student, not by hubcourse

    @property
    def task_name(self) -> str:
        return f"onboarding.step.{self.name.value}"


def build_registry(definitions: Iterable[StepDefinition]) -> dict[StepName, StepDefinition]:
    """The registry in plan order, refusing a definition a page could not show."""
    registry: dict[StepName, StepDefinition] = {}
    for step in sorted(definitions, key=lambda d: d.order):
        if not step.label.strip():
            raise ImproperlyConfigured(f"onboarding step {step.name!r} has no label")
        if not 1 <= step.handout_step <= HANDOUT_STEP_COUNT:
            raise ImproperlyConfigured(
                f"onboarding step {step.name!r} belongs to no handout step "
                f"(1-{HANDOUT_STEP_COUNT}): {step.handout_step!r}"
            )
        if step.name in registry:
            raise ImproperlyConfigured(f"onboarding step {step.name!r} is defined twice")
        registry[step.name] = step
    missing = set(StepName) - set(registry)
    if missing:
        raise ImproperlyConfigured(f"onboarding steps without a definition: {sorted(missing)}")
    return registry


STEPS: Mapping[StepName, StepDefinition] = build_registry(
    [
        StepDefinition(StepName.TEAMS, "Course teams", 2, order=0),
        StepDefinition(StepName.DOCKER_ID, "Docker ID", 1, order=1, waits_on_student=True),
        StepDefinition(
            StepName.PREFLIGHT,
            "Pre-flight check",
            4,
            order=2,
            action=lambda enrolment_id, _actor: preflight_run(enrolment_id=enrolment_id),
            priority=0,
        ),
        StepDefinition(StepName.INVITE, "Invitation", 2, order=3, waits_on_student=True),
        StepDefinition(
            StepName.TEAM,
            "Team membership",
            2,
            order=4,
            action=lambda enrolment_id, actor: enrolment_join_student_team(
                enrolment_id=enrolment_id, actor=actor
            ),
            priority=9,
        ),
        StepDefinition(
            StepName.REPOSITORY,
            "Docker Hub repository",
            3,
            order=5,
            action=lambda enrolment_id, actor: repository_ensure(
                enrolment_id=enrolment_id, actor=actor
            ),
            priority=9,
        ),
        StepDefinition(
            StepName.PERMISSIONS,
            "Team permission",
            3,
            order=6,
            action=_grant_permissions,
            priority=6,
        ),
        # Docker Hub links a student's own GitHub repository only through the student's own
        # linked account: they link it, hubcourse reads it back (in the build set-up step).
        StepDefinition(
            StepName.LINK_BUILD, "Automated build link", 4, order=7, waits_on_student=True
        ),
        StepDefinition(
            StepName.CONFIGURE_BUILD,
            "Build set-up",
            4,
            order=8,
            action=lambda enrolment_id, _actor: build_configure(enrolment_id=enrolment_id),
            priority=3,
        ),
        StepDefinition(
            StepName.TRIGGER_FIRST_BUILD,
            "First build",
            5,
            order=9,
            action=lambda enrolment_id, _actor: build_trigger_first(enrolment_id=enrolment_id),
            priority=3,
        ),
    ]
)

# The steps of one student's chain, in the order it runs them.
PIPELINE: tuple[StepName, ...] = tuple(name for name, d in STEPS.items() if d.action is not None)


def step_label(name: str) -> str:
    """The label of a step name (as stored in ``Enrolment.error_step``); unknown names as is."""
    step = step_for(name)
    return step.label if step is not None else name


def step_for(name: str) -> StepDefinition | None:
    try:
        return STEPS.get(StepName(name))
    except ValueError:
        return None


def handout_step_of(name: str) -> int:
    """The handout step (1-5) a step name belongs to; 0 for unknown names."""
    step = step_for(name)
    return step.handout_step if step is not None else 0


def plan_position(name: str) -> int:
    """Where a step name sorts on the plan page (unknown names last)."""
    step = step_for(name)
    return step.order if step is not None else len(STEPS)
