"""``python manage.py bulk_invite FILE --team T [--role R] [--dry-run]``: the bulk add page's
work from the shell, with a progress bar.

FILE is a CSV or a text file of Docker IDs and emails (``-`` reads standard input). The
dry run is Docker Hub's own; without ``--dry-run`` the invites go out after it, in requests
of 1000, paced by the rate-limit governor. The job is the same as the page's, so it shows
on the page too, and its results are written as CSV with ``--results``.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import bulk_invites, organisations
from accounts.models import BulkInvite, Outcome
from accounts.roster_parsing import RosterError, parse_invitees
from hubcourse.csvexport import safe_cell
from hubcourse.errors import ExternalServiceError, RateLimited, TransientError

BAR_WIDTH = 30
# A transient failure is tried again this many times, a rate limit as long as it lasts.
MAX_TRANSIENT_RETRIES = 5


class Command(BaseCommand):
    help = (
        "Invite Docker IDs or emails from a CSV or text file to the organisation: a dry run "
        "answered by Docker Hub first, then the invites (unless --dry-run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV or text file of Docker IDs and emails; - for stdin")
        parser.add_argument("--team", required=True, help="The team invitees join on accepting.")
        parser.add_argument(
            "--role", choices=BulkInvite.Role.values, default=BulkInvite.Role.MEMBER
        )
        parser.add_argument("--dry-run", action="store_true", help="Check only; invite nobody.")
        parser.add_argument("--org", help="Docker Hub organisation (default: DOCKERHUB_ORG).")
        parser.add_argument("--results", metavar="CSV", help="Write every row's outcome here.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        data = self._read(options["file"])
        try:
            rows = parse_invitees(data, filename=options["file"])
        except RosterError as error:
            raise CommandError(str(error)) from error
        if not rows:
            raise CommandError("No Docker ID or email was found in the file.")
        organisation = options["org"] or bulk_invites.default_organisation()
        try:
            # The site's credentials act for the settings' organisation only; any other
            # must be registered with its own (before anything is recorded).
            organisations.dockerhub_credentials(organisation)
        except organisations.OrganisationNotUsable as error:
            raise CommandError(str(error)) from error
        job = bulk_invites.bulk_invite_create(
            rows=rows,
            organisation=organisation,
            team=options["team"],
            role=options["role"],
            source=BulkInvite.Source.COMMAND,
            filename=Path(options["file"]).name if options["file"] != "-" else "stdin",
        )
        progress = not options["no_progress"]
        self.stdout.write(f"{len(rows)} row(s) read. Asking Docker Hub for a dry run…")
        self._run(job, progress)
        job.refresh_from_db()
        self._summary(job, "Dry run")
        if not options["dry_run"]:
            confirmed = bulk_invites.bulk_invite_confirm(job_id=job.pk)
            if confirmed is not None and confirmed.total:
                self.stdout.write(f"Sending {confirmed.total} invite(s)…")
                self._run(confirmed, progress)
            job.refresh_from_db()
            if bulk_invites.nothing_changed(job):
                self.stdout.write(
                    "Nothing to send: every row was already invited, already a member or not "
                    "valid. Nothing was changed on Docker Hub."
                )
            self._summary(job, "Result")
        if options["results"]:
            self._write_results(job, Path(options["results"]))
            self.stdout.write(f"Every row's outcome is in {options['results']}.")
        self.stdout.write(f"The job is also on the bulk add page (#{job.pk}).")

    def _read(self, name: str) -> bytes:
        if name == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(name).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {name}: {error.strerror}.") from error

    def _run(self, job: BulkInvite, progress: bool) -> None:
        """Work through the chunks here, in this process, waiting out rate limits."""
        failures = 0
        while True:
            try:
                more = bulk_invites.bulk_invite_run_chunk(job_id=job.pk)
                failures = 0
            except RateLimited as error:
                wait = max(1.0, error.seconds_to_wait())
                self.stderr.write(f"\nDocker Hub asks to slow down; waiting {wait:.0f} s.")
                time.sleep(wait)
                continue
            except TransientError as error:
                failures += 1
                if failures > MAX_TRANSIENT_RETRIES:
                    raise CommandError(f"{error} Run the command again to carry on.") from error
                time.sleep(2**failures)
                continue
            except ExternalServiceError as error:
                raise CommandError(str(error)) from error
            job.refresh_from_db()
            if progress:
                self._bar(job)
            if not more:
                if progress:
                    self.stderr.write("")
                return

    def _bar(self, job: BulkInvite) -> None:
        filled = BAR_WIDTH * job.percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # One line redrawn in place: no newline until the phase ends.
        self.stderr.write(f"\r[{bar}] {job.done}/{job.total} ({job.percent}%)", ending="")
        self.stderr.flush()

    def _summary(self, job: BulkInvite, title: str) -> None:
        counts = bulk_invites.outcome_counts(job)
        labels = dict(Outcome.choices)
        parts = [f"{n} {str(labels[key]).lower()}" for key, n in counts.items()]
        self.stdout.write(f"{title}: " + (", ".join(parts) or "no rows") + ".")

    def _write_results(self, job: BulkInvite, path: Path) -> None:
        labels = dict(Outcome.choices)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "as entered", "invitee", "dry run", "result", "message"])
            for row in job.rows.order_by("line", "position").iterator():
                cells = [
                    row.line,
                    row.raw,
                    row.invitee,
                    labels.get(row.dry_run, ""),
                    labels.get(row.result, ""),
                    row.message,
                ]
                writer.writerow([safe_cell(cell) for cell in cells])
