"""The plan page, the class board, the student's page and the API name a step alike: by
its label in the step registry."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Course, Enrolment, OnboardingState, PreflightState, User
from accounts.steps import StepName
from accounts.tokens import token_create
from onboarding.engine import plan_course
from onboarding.steps import STEPS
from repositories.models import StudentRepository
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# The steps that fail for one student, so Enrolment.error_step names them.
STUDENT_STEPS = [name for name in StepName if name not in (StepName.TEAMS, StepName.DOCKER_ID)]


def _page(client: Client, url: str) -> str:
    return html.unescape(client.get(url).content.decode())


def test_the_plan_page_names_every_step_it_lists_by_its_registry_label(
    client: Client, instructor: User, course: Course
) -> None:
    Enrolment.objects.create(course=course, identifier="no-id@example.edu")
    Enrolment.objects.create(
        course=course, identifier="ada@example.edu", docker_id="adalove", github_repo="ada/app"
    )
    # A student who links their own automated build (their repository, their GitHub link).
    grace = Enrolment.objects.create(
        course=course,
        identifier="grace@example.edu",
        docker_id="gracehop",
        github_repo="grace/app",
        preflight_state=PreflightState.PASSED,
    )
    StudentRepository.objects.create(
        enrolment=grace,
        namespace=course.organisation.lower(),
        name=course.repository_name("gracehop"),
        created_at=timezone.now(),
        build_data={"dockerhub-autobuild": {"set_up_by": "student", "waiting": True}},
    )
    emitted = {step.step for step in plan_course(course).steps}
    assert emitted == set(StepName)  # the plan speaks only registry names

    client.login(email=instructor.email, password=PASSWORD)
    page = _page(client, reverse("dashboard:plan", args=[course.slug]))

    for name in StepName:
        assert STEPS[name].label in page, name


@pytest.mark.parametrize("name", STUDENT_STEPS, ids=str)
def test_a_failed_step_has_the_same_name_on_the_board_the_student_page_and_the_api(
    client: Client, instructor: User, course: Course, name: StepName
) -> None:
    label = STEPS[name].label
    user = User.objects.create_user("sam@example.edu", PASSWORD)
    sam = Enrolment.objects.create(
        course=course,
        identifier="sam@example.edu",
        user=user,
        docker_id="samstudent",
        docker_id_verified_at="2026-01-05T10:00:00Z",
        github_repo="sam/app",
        preflight_state=PreflightState.PASSED,
        error_step=name,
        error_message="Docker Hub said no.",
        error_permanent=True,
        state=OnboardingState.ERROR,
    )

    client.login(email=instructor.email, password=PASSWORD)
    board = _page(client, reverse("dashboard:board", args=[course.slug]))
    staff_student = _page(client, reverse("dashboard:student", args=[course.slug, sam.pk]))
    as_student = _page(client, reverse("dashboard:as_student", args=[course.slug, sam.pk]))
    _, raw = token_create(user=instructor, name="test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    row = api.get(f"/api/v1/courses/{course.slug}/enrolments/{sam.pk}/").json()
    client.logout()
    client.login(email=user.email, password=PASSWORD)
    student_page = _page(client, reverse("student:status", args=[sam.pk]))
    own = APIClient()
    own.force_authenticate(user)
    mine = own.get(f"/api/v1/me/enrolments/{sam.pk}/").json()

    assert f"{label} failed" in board
    assert f"{label} failed" in staff_student
    assert row["error"]["step"] == name.value and row["error"]["label"] == label
    assert f"{label} failed" in row["summary"]
    assert f"{label}:" in student_page
    assert f"{label}:" in as_student
    (failed,) = [step for step in mine["steps"] if step["part"]]
    assert failed["part"] == label and failed["number"] == STEPS[name].handout_step


def test_the_staff_view_of_the_student_page_is_the_student_page(
    client: Client, instructor: User, course: Course, student: User, settings: Any
) -> None:
    sam = Enrolment.objects.get(user=student)
    client.login(email=instructor.email, password=PASSWORD)
    response = client.get(reverse("dashboard:as_student", args=[course.slug, sam.pk]))

    assert "student/status.html" in [t.name for t in response.templates]
    assert "student/partials/status_live.html" in [t.name for t in response.templates]


def test_the_board_ticks_the_steps_the_student_page_shows_done(course: Course) -> None:
    from builds.models import Build, BuildState
    from onboarding.board import BoardFilters, board_queryset, board_rows
    from onboarding.status import StepStatus, student_status
    from repositories.models import StudentRepository

    sam = Enrolment.objects.create(
        course=course,
        identifier="sam@example.edu",
        docker_id="samstudent",
        docker_id_verified_at="2026-01-05T10:00:00Z",
        member_at="2026-01-05T11:00:00Z",
        team_at="2026-01-05T11:00:00Z",
        github_repo="sam/app",
        preflight_state=PreflightState.PASSED,
    )
    StudentRepository.objects.create(
        enrolment=sam,
        namespace=course.organisation.lower(),
        name="samstudent",
        created_at="2026-01-05T12:00:00Z",
    )
    Build.objects.create(enrolment=sam, backend="b", external_id="1", state=BuildState.SUCCESS)
    Build.objects.create(enrolment=sam, backend="b", external_id="2", state=BuildState.RUNNING)

    (row,) = board_rows(course, board_queryset(course, BoardFilters()))
    steps = student_status(Enrolment.objects.select_related("course").get(pk=sam.pk)).steps

    assert [t.label for t in row.ticks] == [s.title for s in steps]
    assert [t.done for t in row.ticks] == [True, True, False, False, True]
    # The first image was built: ticked, though a newer build is running now.
    assert steps[4].status is StepStatus.WORKING
