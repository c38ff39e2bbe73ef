"""A class of 30 goes from an empty organisation to every first build succeeded, with both
build backends, against the sandbox over HTTP (on whatever database and broker the settings
give: PostgreSQL and Redis in CI)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, Enrolment, OnboardingState
from builds.services import builds_refresh
from hubcourse.errors import TransientError
from onboarding.engine import apply_plan, plan_course
from tests.engine.support import accept_all_invites, created, make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)

CLASS_SIZE = 30
MAX_ROUNDS = 8


def converge(sandbox: Any, course: Course, *, rounds: int = MAX_ROUNDS) -> int:
    """Reconcile passes (as the periodic task does), students accepting their invites and
    builds being read back, until nothing is left to do; returns the passes it took."""
    for done in range(1, rounds + 1):
        try:
            plan = plan_course(course, observe=True)
        except TransientError:
            continue  # the periodic task retries a failed observe pass; so does this loop
        if not plan.actionable and _settled(course):
            return done
        apply_plan(plan)
        accept_all_invites(sandbox, course.organisation)
        sandbox.world.wait_idle(timeout=20)
        for enrolment_id in course.enrolments.values_list("pk", flat=True):
            try:
                builds_refresh(enrolment_id=enrolment_id)
            except TransientError:
                pass  # polling looks again on its next tick
    errors = list(
        course.enrolments.exclude(error_step="").values_list(
            "docker_id", "state", "preflight_state", "error_step", "error_message"
        )
    )
    raise AssertionError(f"no convergence in {rounds} passes: {_states(course)} {errors}")


def _settled(course: Course) -> bool:
    return all(
        state in (OnboardingState.FIRST_BUILD_SUCCEEDED, OnboardingState.ERROR)
        for state in course.enrolments.values_list("state", flat=True)
    )


def _states(course: Course) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in course.enrolments.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("backend", "policy"),
    [
        ("dockerhub-autobuild", Course.AccessPolicy.COURSE_TEAM),
        ("github-actions", Course.AccessPolicy.TEAM_PER_STUDENT),
    ],
)
def test_a_class_of_30_converges_and_a_second_apply_creates_nothing(
    sandbox: Any, course: Course, backend: str, policy: str
) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.build_backend = backend
    course.access_policy = policy
    course.save()
    broken = 7
    make_class(sandbox, course, CLASS_SIZE, problems={broken: "missing-dockerfile"})

    converge(sandbox, course)

    states = _states(course)
    assert states == {
        OnboardingState.FIRST_BUILD_SUCCEEDED: CLASS_SIZE - 1,
        OnboardingState.ERROR: 1,
    }
    stuck = Enrolment.objects.get(course=course, state=OnboardingState.ERROR)
    assert stuck.docker_id == "student007"
    assert stuck.error_step == "preflight"
    assert "DockerfileVolume" in stuck.error_message
    # Invites went out in bulk: a couple of calls for the class, never one per student.
    assert requests_to(sandbox, "POST", "/v2/invites/bulk") <= 2
    made = created(sandbox)
    assert made["dockerhub.repository"] == CLASS_SIZE - 1
    assert made["dockerhub.invite"] == CLASS_SIZE - 1

    plan = plan_course(course, observe=True)
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=20)

    assert plan.actionable == []
    assert created(sandbox) == made
