"""Where a student stands, derived from what hubcourse observed on Docker Hub and GitHub.

The state is stored on the enrolment so the class board can filter and count it in SQL,
but it is always recomputed from the observed rows by :func:`compute_state`, never set by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, OnboardingState
from builds.models import Build, BuildState
from repositories.models import StudentRepository

# The handout's five steps, as a student reads them, and the states that complete each.
HANDOUT_STEPS: tuple[tuple[str, OnboardingState], ...] = (
    ("Sign up for a Docker ID", OnboardingState.DOCKER_ID_VERIFIED),
    ("Join the course organisation and team", OnboardingState.IN_TEAM),
    ("Get your Docker Hub repository", OnboardingState.PERMISSION_GRANTED),
    ("Link it to your GitHub repository", OnboardingState.BUILD_CONFIGURED),
    ("Build on every push to main", OnboardingState.FIRST_BUILD_SUCCEEDED),
)

ORDER: tuple[OnboardingState, ...] = tuple(
    state for state in OnboardingState if state != OnboardingState.ERROR
)


@dataclass(frozen=True)
class Stage:
    """Where a student is, in the handout's words: the step they are on, all done, or
    needs attention. Each stage is a set of stored states, so the board filters in SQL."""

    key: str
    label: str
    states: frozenset[OnboardingState]


def _stages() -> tuple[Stage, ...]:
    stages = [Stage("attention", "Needs attention", frozenset({OnboardingState.ERROR}))]
    start = 0
    # A student is on step N from the state that completes step N-1 up to (not including)
    # the state that completes step N.
    for number, (title, completes) in enumerate(HANDOUT_STEPS, start=1):
        end = ORDER.index(completes)
        stages.append(Stage(str(number), f"On step {number}: {title}", frozenset(ORDER[start:end])))
        start = end
    stages.append(Stage("done", "All five steps done", frozenset(ORDER[start:])))
    return tuple(stages)


STAGES: tuple[Stage, ...] = _stages()
STAGE_OF: dict[OnboardingState, Stage] = {state: s for s in STAGES for state in s.states}


def rank(state: str) -> int:
    """Position of a state in the onboarding order (error ranks before everything)."""
    try:
        return ORDER.index(OnboardingState(state))
    except ValueError:
        return -1


@dataclass(frozen=True)
class Progress:
    state: OnboardingState
    # The furthest state reached before an error, so the board can show both.
    reached: OnboardingState


def compute_state(
    enrolment: Enrolment,
    repository: StudentRepository | None,
    builds: list[Build],
) -> Progress:
    """The onboarding state from the observed rows; ``builds`` newest first."""
    course: Course = enrolment.course
    reached = OnboardingState.REGISTERED
    steps: list[tuple[bool, OnboardingState]] = [
        (
            bool(enrolment.docker_id and enrolment.docker_id_verified_at),
            OnboardingState.DOCKER_ID_VERIFIED,
        ),
        (
            enrolment.invite_state in (InviteState.PENDING, InviteState.ACCEPTED)
            or bool(enrolment.member_at),
            OnboardingState.INVITED,
        ),
        (bool(enrolment.member_at), OnboardingState.MEMBER),
        (bool(enrolment.team_at), OnboardingState.IN_TEAM),
        (bool(repository and repository.created_at), OnboardingState.REPOSITORY_CREATED),
        (_permission_done(course, repository), OnboardingState.PERMISSION_GRANTED),
        (bool(repository and repository.build_configured_at), OnboardingState.BUILD_CONFIGURED),
        (bool(builds), OnboardingState.FIRST_BUILD_RUNNING),
        (any(b.state == BuildState.SUCCESS for b in builds), OnboardingState.FIRST_BUILD_SUCCEEDED),
    ]
    for done, state in steps:
        if not done:
            break
        reached = state
    if enrolment.error_step and enrolment.error_permanent:
        return Progress(OnboardingState.ERROR, reached)
    if first_build_failed(reached, builds):
        # Not "running": the student must fix their Dockerfile and push, so the board counts
        # them among those needing attention.
        return Progress(OnboardingState.ERROR, reached)
    return Progress(reached, reached)


def first_build_failed(reached: OnboardingState, builds: list[Build]) -> bool:
    """No build has succeeded yet and the newest one failed; ``builds`` newest first."""
    return (
        reached == OnboardingState.FIRST_BUILD_RUNNING
        and bool(builds)
        and builds[0].state == BuildState.FAILED
    )


def _permission_done(course: Course, repository: StudentRepository | None) -> bool:
    if repository is None or repository.permission_granted_at is None:
        return False
    if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT:
        return repository.student_team_at is not None
    return True


def enrolment_refresh_state(*, enrolment_id: int) -> Progress | None:
    """Recompute the stored state from the observed rows (the only writer of ``state``)."""
    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None:
        return None
    repository = StudentRepository.objects.filter(enrolment_id=enrolment_id).first()
    # compute_state needs only "any build" and "any successful build": two rows at most,
    # however long the student's history is.
    builds: list[Build] = []
    latest = Build.objects.filter(enrolment_id=enrolment_id).order_by("-created_at").first()
    if latest is not None:
        builds.append(latest)
        if latest.state != BuildState.SUCCESS:
            success = (
                Build.objects.filter(enrolment_id=enrolment_id, state=BuildState.SUCCESS)
                .order_by("-created_at")
                .first()
            )
            if success is not None:
                builds.append(success)
    progress = compute_state(enrolment, repository, builds)
    if enrolment.state != progress.state:
        Enrolment.objects.filter(pk=enrolment_id).update(
            state=progress.state, updated_at=timezone.now()
        )
    return progress


def on_enrolment_observed(sender: Any, *, enrolment_id: int, **kwargs: Any) -> None:
    enrolment_refresh_state(enrolment_id=enrolment_id)
