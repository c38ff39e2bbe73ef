"""Create the demo accounts and the demo course (used by `make run`). Safe to run again."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import organisations
from accounts.models import Course, CourseRole, Enrolment, GitHubAccess, User
from onboarding.engine import apply_plan, plan_course
from onboarding.github_access import access_from_app

DEMO_ACCOUNTS = (
    ("admin@hubcourse.local", "Ada", "Admin", True),
    ("instructor@hubcourse.local", "Ines", "Instructor", False),
)

# The demo course's build backend when the students own their repositories.
OWN_REPOSITORIES_BACKEND = "github-actions"


def students_own_repositories(seeded: dict[str, Any]) -> bool:
    """The sandbox's unkind demo world (``demo-unkind``, `make run`'s default): its students
    own their repositories and say whether they installed the app."""
    return any("app_installation_id" in s for s in seeded.get("students", []))


class Command(BaseCommand):
    help = "Create a demo admin, a demo instructor and a demo course with the sandbox's students."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--sandbox-seed",
            type=Path,
            help="the JSON the sandbox printed at start (its demo students and credentials)",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        passwords = self._passwords()
        for email, first, last, is_admin in DEMO_ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email,
                    passwords[email],
                    first_name=first,
                    last_name=last,
                    is_staff=is_admin,
                    is_superuser=is_admin,
                )
            elif not user.check_password(passwords[email]):
                # Somebody changed it; leave it and say so instead of printing a wrong one.
                passwords[email] = "(changed since it was created)"
        instructor = User.objects.get(email="instructor@hubcourse.local")
        seeded = self._seed(options.get("sandbox_seed"))
        own = students_own_repositories(seeded)
        course, _ = Course.objects.get_or_create(
            slug="demo",
            defaults={
                "name": "Docker 101 (demo)",
                "organisation": seeded.get("dockerhub", {}).get("org", "revelare"),
                # Students' own repositories: the Owner cannot link automated builds from
                # them (Docker Hub's rule), the GitHub App writes the workflow where installed.
                **({"build_backend": OWN_REPOSITORIES_BACKEND} if own else {}),
            },
        )
        CourseRole.objects.get_or_create(
            course=course, user=instructor, defaults={"role": CourseRole.Role.INSTRUCTOR}
        )
        # The demo instructor may run courses on the demo's organisation (the settings' own,
        # registered on first use).
        organisation = organisations.registered(course.organisation)
        if organisation is not None:
            organisations.grant(organisation, instructor)
        added = self._roster(course, seeded)
        if own:
            # No student signs in to vouch for an installation: the app says where it is.
            for enrolment in course.enrolments.filter(github_access=GitHubAccess.UNKNOWN):
                access_from_app(enrolment)
        if seeded:
            # Queue the demo class's onboarding (after commit); the worker that `make run`
            # starts next picks it up. Safe to repeat: every step is idempotent.

            apply_plan(plan_course(course))

        self.stdout.write("\nDemo accounts (sign in with email and password):")
        for email, _first, _last, is_admin in DEMO_ACCOUNTS:
            role = "admin     " if is_admin else "instructor"
            self.stdout.write(f"  {role}  {email}  password: {passwords[email]}")
        self.stdout.write(
            f"Demo course: {course.name} ({course.enrolments.count()} students, {added} new)\n"
        )

    def _passwords(self) -> dict[str, str]:
        # Passwords are hashed in the database, so keep the generated ones to print them again.
        path = Path(settings.VAR_DIR) / "demo-accounts.json"
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for email, *_ in DEMO_ACCOUNTS:
            stored.setdefault(email, secrets.token_urlsafe(9))
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
        return stored

    def _seed(self, seed_file: Path | None) -> dict[str, Any]:
        if seed_file is None:
            return {}
        try:
            seeded: dict[str, Any] = json.loads(seed_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read the sandbox seed {seed_file}: {exc}") from exc
        return seeded

    def _roster(self, course: Course, seeded: dict[str, Any]) -> int:
        added = 0
        for student in seeded.get("students", []):
            _, created = Enrolment.objects.get_or_create(
                course=course,
                identifier=student.get("email") or student["docker_id"],
                defaults={
                    "name": student.get("name", ""),
                    "email": student.get("email", ""),
                    "docker_id": student.get("docker_id", ""),
                    "github_repo": student.get("github_repo", ""),
                },
            )
            added += created
        return added
