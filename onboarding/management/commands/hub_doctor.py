"""``python manage.py hub_doctor``: check the Docker Hub and GitHub credentials, in plain words.

Exits with status 1 when a check fails, so a deployment script can stop there.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import organisations
from accounts.models import Course
from builds.backends import BACKENDS
from onboarding.doctor import Connection, app_checks, failed, run_checks


class Command(BaseCommand):
    help = (
        "Check that hubcourse can reach Docker Hub and GitHub with the configured credentials: "
        "the login, the organisation, the Owner role, the course team, the GitHub token and the "
        "GitHub App (its key and its webhook URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--course",
            metavar="SLUG",
            help="Check this course's settings and credentials (others fall back to settings).",
        )
        parser.add_argument("--org", help="Docker Hub organisation (default: DOCKERHUB_ORG).")
        parser.add_argument(
            "--team", help="Docker Hub team that must exist (default: DOCKERHUB_TEAM, if set)."
        )
        parser.add_argument(
            "--backend",
            choices=list(BACKENDS),
            help="Check for one build backend only (default: report on all).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["course"]:
            try:
                course = Course.objects.get(slug=options["course"])
            except Course.DoesNotExist as exc:
                raise CommandError(f"There is no course {options['course']!r}.") from exc
            try:
                connection = Connection.for_course(course)
            except organisations.OrganisationNotUsable as error:
                raise CommandError(str(error)) from error
        else:
            connection = Connection.from_settings(
                organisation=options["org"], team=options["team"], build_backend=options["backend"]
            )
            if options["org"]:
                options["org"] = connection.organisation  # as Docker Hub spells it
                # Another organisation is checked with its registered credentials: the
                # site's act for the settings' organisation only.
                try:
                    identifier, secret = organisations.dockerhub_credentials(options["org"])
                except organisations.OrganisationNotUsable as error:
                    raise CommandError(str(error)) from error
                connection = dataclasses.replace(
                    connection, dockerhub_identifier=identifier, dockerhub_secret=secret
                )
        results = run_checks(connection) + app_checks()
        for result in results:
            mark = self.style.SUCCESS("ok  ") if result.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {result.name}: {result.message}")
            if result.hint:
                self.stdout.write(f"     What to do: {result.hint}")
        problems = failed(results)
        if problems:
            noun = "check" if len(problems) == 1 else "checks"
            raise CommandError(f"{len(problems)} {noun} failed.", returncode=1)
        self.stdout.write(self.style.SUCCESS("Everything hubcourse needs is in place."))
