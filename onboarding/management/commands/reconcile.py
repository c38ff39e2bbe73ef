"""``manage.py reconcile COURSE [--student ID] [--dry-run]``: show or apply a course's plan."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from accounts.models import Course
from hubcourse.errors import ExternalServiceError
from onboarding.engine import apply_plan, plan_course


class Command(BaseCommand):
    help = (
        "Compare a course's desired state with Docker Hub and print the plan; without "
        "--dry-run, enqueue it (course steps first, then one chain of steps per student)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("course", help="the course's slug")
        parser.add_argument(
            "--student",
            help="only this student: roster identifier, Docker ID or email",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the plan and change nothing on Docker Hub or GitHub (reads only)",
        )
        parser.add_argument(
            "--no-observe",
            action="store_true",
            help="plan from the database alone, without reading Docker Hub first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        course = Course.objects.filter(slug=options["course"]).first()
        if course is None:
            raise CommandError(f"There is no course {options['course']!r}.")
        enrolment = None
        if options["student"]:
            who = options["student"]
            enrolment = course.enrolments.filter(
                Q(identifier__iexact=who) | Q(docker_id__iexact=who) | Q(email__iexact=who)
            ).first()
            if enrolment is None:
                raise CommandError(f"No student {who!r} in {course.slug}.")
        try:
            plan = plan_course(course, enrolment=enrolment, observe=not options["no_observe"])
        except ExternalServiceError as error:
            raise CommandError(f"Could not read the current state: {error}") from error
        self.stdout.write(plan.render())
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        applied = apply_plan(plan)
        skipped = (
            f", {applied.skipped_in_flight} already in flight" if applied.skipped_in_flight else ""
        )
        self.stdout.write(
            f"Enqueued {len(applied.course_tasks)} course task(s) "
            f"({', '.join(applied.course_tasks) or 'none'}) and {applied.chains} student "
            f"chain(s){skipped}."
        )
