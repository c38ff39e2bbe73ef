"""Builds and grants made before hubcourse recorded what it applied: the grants are recorded
as the rows say they were made (the course's teams under its access policy), and each
configured build is marked to be checked once against the course's build settings (nobody
knows what it was set up with: a setting changed before this version never reached it)."""

from typing import Any

from django.db import migrations

# What the student's own team held under each backend (team-per-student policy), as the
# backends said when this migration was written.
STUDENT_TEAM_PERMISSION = {"dockerhub-autobuild": "admin"}


def _fill(string: str, slug: str, docker_id: str) -> str:
    return string.format(course=slug, docker_id=docker_id).lower()


def record(apps: Any, schema_editor: Any) -> None:
    StudentRepository = apps.get_model("repositories", "StudentRepository")
    rows = StudentRepository.objects.select_related("enrolment__course")
    for repository in rows.iterator():
        course = repository.enrolment.course
        changes: dict[str, Any] = {}
        if not repository.team_grants and repository.permission_granted_at is not None:
            grants: dict[str, str] = {}
            if course.access_policy == "team_per_student":
                if repository.student_team:
                    grants[repository.student_team.lower()] = STUDENT_TEAM_PERMISSION.get(
                        course.build_backend, "read"
                    )
            else:
                grants[course.team.lower()] = "read"
            if repository.instructors_permission_at is not None:
                grants[course.instructors_team.lower()] = "admin"
            changes["team_grants"] = grants
        data = dict(repository.build_data or {})
        if repository.build_configured_at is not None and "applied" not in data:
            data["applied"] = {"verify": True}
            changes["build_data"] = data
        if changes:
            StudentRepository.objects.filter(pk=repository.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("repositories", "0002_desired_team_grants"),
    ]

    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
