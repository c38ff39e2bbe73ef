"""Onboarding a student on automated builds costs at most the API's minimum of Docker Hub
calls: 7 (the repository, two team grants, the build link, its webhook, the first build and
one read of its result); the class shares its pre-flight's Docker ID check (one dry-run bulk
invite) and its invite. Counted at the sandbox, per route."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, OnboardingState
from accounts.services import course_ensure_teams
from builds.preflight import preflight_run
from builds.services import builds_refresh
from onboarding import engine
from tests.engine.support import accept_all_invites, created, make_class

pytestmark = pytest.mark.django_db(transaction=True)

CLASS_SIZE = 4
# Per student, on the per-student routes.
MINIMUM = {
    "POST /v2/namespaces/<namespace>/repositories": 1,
    "POST /v2/repositories/<namespace>/<repository>/groups": 2,
    "POST /api/build/v1/source": 1,
    "POST /v2/repositories/<namespace>/<repository>/webhook_pipeline": 1,
    "POST /api/build/v1/setting/<uuid>/build": 1,
    "GET /api/audit/v1/action": 1,
}


def _dockerhub_calls(sandbox: Any) -> dict[str, int]:
    with sandbox.world.lock:
        routes = sandbox.world.stats["requests"].get("dockerhub", {})
        return {route: sum(statuses.values()) for route, statuses in routes.items()}


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.build_backend = "dockerhub-autobuild"
    course.access_policy = Course.AccessPolicy.COURSE_TEAM
    course.save()
    course_ensure_teams(course_id=course.pk)
    course.refresh_from_db()
    return course


def _onboard(sandbox: Any, course: Course) -> None:
    """One apply (the chains run to the first build), the students accept, the builds end
    and each student's builds are read once (what the webhook or the first poll does); a
    reconcile pass then sees the acceptances."""
    engine.apply_plan(engine.plan_course(course), follow_up=False)
    accept_all_invites(sandbox, course.organisation)
    sandbox.world.wait_idle(timeout=30)
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        builds_refresh(enrolment_id=enrolment_id)
    # The next reconcile pass sees the acceptances (organisation lists, per class).
    engine.apply_plan(engine.plan_course(course, observe=True), follow_up=False)


def test_a_class_on_automated_builds_costs_seven_docker_hub_calls_a_student(
    sandbox: Any, hub_course: Course
) -> None:
    make_class(sandbox, hub_course, CLASS_SIZE)
    before = _dockerhub_calls(sandbox)

    _onboard(sandbox, hub_course)

    states = set(hub_course.enrolments.values_list("state", flat=True))
    assert states == {OnboardingState.FIRST_BUILD_SUCCEEDED}
    after = _dockerhub_calls(sandbox)
    calls = {route: n - before.get(route, 0) for route, n in after.items()}
    for route, each in MINIMUM.items():
        assert calls.get(route, 0) == each * CLASS_SIZE, (route, calls)
    # No Docker ID read: the class's dry run answered for everyone, and the invite followed.
    assert calls.get("GET /v2/users/<username>", 0) == 0, calls
    assert calls.get("POST /v2/invites/bulk", 0) == 2, calls
    assert created(sandbox).get("dockerhub.invite") == CLASS_SIZE
    per_student_routes = sum(calls.get(route, 0) for route in MINIMUM)
    assert per_student_routes / CLASS_SIZE <= 7


def test_the_first_build_starts_without_reading_the_new_build_source(
    sandbox: Any, hub_course: Course
) -> None:
    make_class(sandbox, hub_course, 1)
    before = _dockerhub_calls(sandbox)

    engine.apply_plan(engine.plan_course(hub_course), follow_up=False)

    calls = {route: n - before.get(route, 0) for route, n in _dockerhub_calls(sandbox).items()}
    assert calls.get("POST /api/build/v1/setting/<uuid>/build") == 1, calls
    # Nothing can have built from a source made a moment ago: no build list before the trigger.
    assert calls.get("GET /api/audit/v1/action", 0) == 0, calls


def test_a_push_after_the_build_was_linked_is_looked_for_before_triggering(
    sandbox: Any, hub_course: Course
) -> None:
    from django.utils import timezone

    from builds.services import build_configure, build_trigger_first
    from repositories.models import StudentRepository
    from repositories.services import repository_ensure, repository_grant_permissions

    (enrolment,) = make_class(sandbox, hub_course, 1)
    preflight_run(enrolment_id=enrolment.pk)
    repository_ensure(enrolment_id=enrolment.pk)
    repository_grant_permissions(enrolment_id=enrolment.pk)
    build_configure(enrolment_id=enrolment.pk)
    # The student pushed once the build was linked: Docker Hub may be building it already.
    StudentRepository.objects.filter(enrolment=enrolment).update(last_pushed_at=timezone.now())
    before = _dockerhub_calls(sandbox)

    build_trigger_first(enrolment_id=enrolment.pk)

    calls = {route: n - before.get(route, 0) for route, n in _dockerhub_calls(sandbox).items()}
    assert calls.get("GET /api/audit/v1/action") == 1, calls


def test_a_docker_id_the_dry_run_does_not_know_is_read_and_reported(
    sandbox: Any, hub_course: Course
) -> None:
    from accounts.models import Enrolment, PreflightState

    (known, unknown) = make_class(sandbox, hub_course, 2)
    Enrolment.objects.filter(pk=unknown.pk).update(docker_id="nobody-at-all")
    before = _dockerhub_calls(sandbox)

    assert preflight_run(enrolment_id=unknown.pk) == PreflightState.FAILED
    assert preflight_run(enrolment_id=known.pk) != PreflightState.FAILED

    calls = {route: n - before.get(route, 0) for route, n in _dockerhub_calls(sandbox).items()}
    # One dry run for both; only the unknown ID is read, for the report's words.
    assert calls.get("POST /v2/invites/bulk") == 1, calls
    assert calls.get("GET /v2/users/<username>") == 1, calls
    unknown.refresh_from_db()
    assert "There is no Docker ID called nobody-at-all" in str(unknown.preflight_report)
    assert created(sandbox).get("dockerhub.invite", 0) == 0
