"""The plan page shows what a saved course setting moves for each student, before -> after,
straight from the rows (no outside call), and the reconcile's dry run prints the same."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.managed import record_created
from accounts.models import Course, Enrolment, InviteState, ManagedResource, PreflightState, User
from onboarding.courses import course_update
from onboarding.engine import plan_course
from repositories.models import StudentRepository
from tests.conftest import PASSWORD
from tests.dashboard.test_settings import _form

pytestmark = pytest.mark.django_db


def _onboarded(course: Course, docker_id: str) -> Enrolment:
    """A student whose every step is done, as the rows record it after an apply."""
    now = timezone.now()
    enrolment = Enrolment.objects.create(
        course=course,
        identifier=f"{docker_id}@example.edu",
        docker_id=docker_id,
        github_repo=f"classroom/{docker_id}",
        preflight_state=PreflightState.PASSED,
        invite_state=InviteState.ACCEPTED,
        member_at=now,
        team_at=now,
    )
    StudentRepository.objects.create(
        enrolment=enrolment,
        namespace=course.organisation.lower(),
        name=course.repository_name(docker_id),
        created_at=now,
        is_private=True,
        permission_granted_at=now,
        instructors_permission_at=now,
        team_grants={"students": "read", "instructors": "admin"},
        build_configured_at=now,
        first_build_triggered_at=now,
        build_data={
            "applied": {
                "backend": course.build_backend,
                "branch": "main",
                "dockerfile": "DockerfileVolume",
                "context": "/",
                "tag": "latest",
            }
        },
    )
    return enrolment


def test_a_saved_setting_is_a_row_per_student_with_before_and_after(
    client: Client, instructor: User, course: Course
) -> None:
    Course.objects.filter(pk=course.pk).update(team_id=1, instructors_team_id=2)
    course.refresh_from_db()
    students = [_onboarded(course, f"student{i}") for i in range(3)]
    assert plan_course(course).actionable == []

    course_update(
        course=course,
        actor=instructor,
        values={"build_tag": "week1", "repo_private": False, "team": "docker-101-students"},
    )
    plan = plan_course(course)

    for enrolment in students:
        moves = sorted(s.change for s in plan.for_enrolment(enrolment.pk) if s.actionable)
        assert moves == [
            "access students read -> docker-101-students read",
            "privacy private -> public",
            "tag latest -> week1",
        ]
    client.login(email=instructor.email, password=PASSWORD)
    page = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()
    assert page.count("tag latest -&gt; week1") == 3
    assert page.count("privacy private -&gt; public") == 3
    steps = client.get(f"/api/v1/courses/{course.slug}/plan/").json()["steps"]
    tags = [s for s in steps if s["setting"] == "tag"]
    assert len(tags) == 3
    assert {(s["before"], s["after"], s["kind"]) for s in tags} == {("latest", "week1", "change")}
    out = StringIO()
    call_command("reconcile", course.slug, "--dry-run", "--no-observe", stdout=out)
    assert out.getvalue().count("tag latest -> week1") == 3


def test_a_renamed_course_team_shows_its_deletion_on_the_plan_page_before_apply(
    client: Client, instructor: User, course: Course
) -> None:
    Course.objects.filter(pk=course.pk).update(team_id=1, instructors_team_id=2)
    course.refresh_from_db()
    _onboarded(course, "student0")
    # The course made its course team; the instructors' team was there before it.
    record_created(course, ManagedResource.Kind.TEAM, f"{course.organisation}/students")

    course_update(
        course=course,
        actor=instructor,
        values={"team": "docker-101-students", "instructors_team": "docker-101-staff"},
    )

    course.refresh_from_db()
    assert course.old_teams == {"students": "team", "instructors": "instructors_team"}
    assert (course.team_id, course.instructors_team_id) == (None, None)
    client.login(email=instructor.email, password=PASSWORD)
    page = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()
    assert "Delete the old team" in page
    assert (
        "delete old team students (renamed to docker-101-students) once docker-101-students "
        "holds every student and permission it gave" in page
    )
    assert "the old team instructors stays: this course did not create it" in page


def test_saving_a_setting_says_the_plan_has_what_it_changes(
    client: Client, instructor: User, course: Course
) -> None:
    Course.objects.filter(pk=course.pk).update(team_id=1, instructors_team_id=2)
    course.refresh_from_db()
    for i in range(2):
        _onboarded(course, f"student{i}")
    client.login(email=instructor.email, password=PASSWORD)
    url = reverse("dashboard:settings", args=[course.slug])

    page = client.post(url, _form(course, build_tag="week1"), follow=True).content.decode()

    assert "Saved. The plan shows what this changes for 2 students" in page


def test_the_settings_page_refuses_a_new_repository_name_once_repositories_exist(
    client: Client, instructor: User, course: Course
) -> None:
    _onboarded(course, "student0")
    client.login(email=instructor.email, password=PASSWORD)
    url = reverse("dashboard:settings", args=[course.slug])

    page = client.post(url, _form(course, repo_name_template="lab-{docker_id}")).content.decode()

    assert "Docker Hub cannot rename a repository" in page
    assert "1 student repository exists" in page
    course.refresh_from_db()
    assert course.repo_name_template == "{course}-{docker_id}"
