"""A class onboarded before hubcourse recorded what it applied: the migration records the
grants as the rows say, and marks each configured build to be checked once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Course
from onboarding.engine import plan_course
from repositories.models import StudentRepository

BEFORE = [("repositories", "0002_desired_team_grants")]
AFTER = [("repositories", "0003_desired_recorded_state")]


@pytest.mark.django_db(transaction=True)
def test_an_older_class_is_recorded_and_its_builds_checked_once() -> None:
    executor = MigrationExecutor(connection)
    # Every other app as it is now: only the repositories' recording is older.
    before = [n for n in executor.loader.graph.leaf_nodes() if n[0] != "repositories"] + BEFORE
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        course = old.get_model("accounts", "Course").objects.create(
            name="Docker 101",
            slug="docker-101",
            build_tag="week1",
            team_id=1,
            instructors_team_id=2,
        )
        now = timezone.now()
        enrolment = old.get_model("accounts", "Enrolment").objects.create(
            course=course,
            identifier="ada@example.edu",
            docker_id="ada",
            github_repo="classroom/ada",
            preflight_state="passed",
            invite_state="accepted",
            member_at=now,
            team_at=now,
        )
        old.get_model("repositories", "StudentRepository").objects.create(
            enrolment=enrolment,
            namespace="revelare",
            name="docker-101-ada",
            created_at=now,
            is_private=True,
            permission_granted_at=now,
            instructors_permission_at=now,
            build_configured_at=now,
            first_build_triggered_at=now,
            build_data={"dockerhub-autobuild": {"source_uuid": "x", "set_up_by": "hubcourse"}},
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        # Then every later migration, so that today's models read the rows.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

        repository = StudentRepository.objects.get()
        assert repository.team_grants == {"students": "read", "instructors": "admin"}
        assert repository.build_data["applied"] == {"verify": True}
        assert repository.build_data["dockerhub-autobuild"]["source_uuid"] == "x"
        plan = plan_course(Course.objects.get())
        assert [s.change for s in plan.actionable] == [
            "build (set up before hubcourse recorded it) -> "
            "branch main, Dockerfile DockerfileVolume, context /, tag week1"
        ]
    finally:
        # Later tests on this worker's database need every later migration back.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
