"""The plan: steps per student in handout order, from the rows; a dry run changes nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, PreflightState
from accounts.services import course_ensure_teams
from onboarding.engine import observe_course, plan_course
from repositories.models import StudentRepository
from tests.engine.support import created, make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    return course


def _kinds(plan: Any, enrolment: Enrolment) -> dict[str, str]:
    return {s.step: s.kind for s in plan.for_enrolment(enrolment.pk)}


def test_a_new_student_gets_every_step_in_order(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1)

    plan = plan_course(hub_course)

    steps = plan.for_enrolment(enrolment.pk)
    assert [s.step for s in steps] == [
        "preflight",
        "invite",
        "team",
        "repository",
        "permissions",
        "configure_build",
        "trigger_first_build",
    ]
    assert _kinds(plan, enrolment)["invite"] == "create"
    assert _kinds(plan, enrolment)["team"] == "no-op"  # joins the course team on accepting
    assert steps[3].target == "revelare/docker-101-student000"
    assert plan.steps[0].step == "teams" and plan.steps[0].kind == "create"


def test_done_steps_are_no_ops_and_waiting_is_explained(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    now = timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk).update(
        invite_state=InviteState.PENDING, invited_at=now
    )
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name="docker-101-student000",
        created_at=now,
        permission_granted_at=now,
        instructors_permission_at=now,
    )
    enrolment.refresh_from_db()

    plan = plan_course(hub_course, enrolment=enrolment)

    kinds = _kinds(plan, enrolment)
    assert kinds == {
        "invite": "no-op",
        "team": "no-op",
        "repository": "no-op",
        "permissions": "no-op",
        "configure_build": "create",
        "trigger_first_build": "create",
    }
    assert "waiting" in plan.for_enrolment(enrolment.pk)[0].reason


def test_a_failed_preflight_or_a_stopped_student_plans_nothing(
    sandbox: Any, hub_course: Course
) -> None:
    failed, stopped = make_class(sandbox, hub_course, 2)
    Enrolment.objects.filter(pk=failed.pk).update(preflight_state=PreflightState.FAILED)
    Enrolment.objects.filter(pk=stopped.pk).update(
        preflight_state=PreflightState.PASSED,
        error_step="repository",
        error_permanent=True,
        error_message="Docker Hub refused",
    )

    plan = plan_course(hub_course)

    assert [s.kind for s in plan.for_enrolment(failed.pk)] == ["no-op"]
    assert [s.kind for s in plan.for_enrolment(stopped.pk)] == ["no-op"]
    assert "retries" in plan.for_enrolment(stopped.pk)[0].reason


def test_observe_reads_the_class_in_a_few_calls_whatever_its_size(
    sandbox: Any, hub_course: Course
) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    make_class(sandbox, hub_course, 12, checked=True)

    observation = observe_course(hub_course)

    assert observation.calls <= 8
    assert requests_to(sandbox, "GET", "") <= 8 + 2  # plus a login or two


def test_observe_notices_a_repository_made_by_hand_and_one_deleted(
    sandbox: Any, hub_course: Course
) -> None:
    from accounts.credentials import dockerhub_client_for

    adopted, deleted = make_class(sandbox, hub_course, 2, checked=True)
    client = dockerhub_client_for(hub_course)
    client.create_repository("revelare", "docker-101-student000", is_private=True)
    StudentRepository.objects.create(
        enrolment=adopted, namespace="revelare", name="docker-101-student000"
    )
    StudentRepository.objects.create(
        enrolment=deleted,
        namespace="revelare",
        name="docker-101-student001",
        created_at=timezone.now(),
    )

    observe_course(hub_course)

    # Made by hand, not by the course: noticed, offered for adoption, not taken over.
    assert StudentRepository.objects.get(enrolment=adopted).created_at is None
    steps = {s.step: s for s in plan_course(hub_course).for_enrolment(adopted.pk)}
    assert steps["repository"].kind == "adopt"
    assert StudentRepository.objects.get(enrolment=deleted).created_at is None


def test_the_dry_run_prints_the_plan_and_changes_nothing(sandbox: Any, hub_course: Course) -> None:
    make_class(sandbox, hub_course, 3)
    before = created(sandbox)
    out = StringIO()

    call_command("reconcile", hub_course.slug, "--dry-run", stdout=out)

    text = out.getvalue()
    assert "student000@example.edu" in text and "repository" in text
    assert "Dry run: nothing was changed." in text
    assert created(sandbox) == before
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert requests_to(sandbox, method, "/v2/namespaces") == 0
        assert requests_to(sandbox, method, "/v2/invites") == 0
        assert requests_to(sandbox, method, "/v2/orgs") == 0
    assert not StudentRepository.objects.exists()
