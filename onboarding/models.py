"""What the staff pages keep between two requests: a roster import waiting for its
confirmation, a connection check, and an applied plan whose progress the page follows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Course, Enrolment
from hubcourse.models import Job


class RosterImport(models.Model):
    """A parsed roster, classified row by row, saved only when the instructor confirms."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking Docker IDs and repositories"
        READY = "ready", "Ready to confirm"
        APPLIED = "applied", "Imported"
        DISCARDED = "discarded", "Discarded"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="roster_imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=255)  # the file's name, or "pasted text"
    format = models.CharField(max_length=20)  # accounts.roster_parsing.Format
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=10)
    # One dict per record of the file: see accounts.roster_parsing.Row.as_dict.
    rows = models.JSONField(default=list)
    # What reading the file noticed as a whole (an encoding guessed, unreadable bytes).
    notices = models.JSONField(default=list, blank=True)
    # When the outside checks give up (the rows left are then marked "not checked" and the
    # preview is ready all the same); their progress is the ``check_job``'s (a RosterCheck).
    check_deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    # Why the outside checks could not run (the import can still be confirmed).
    check_error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"roster import {self.pk} for {self.course}"


class RosterCheck(Job):
    """The check phase of a roster import: Docker Hub and GitHub asked about its rows.

    Its key is the import's, so the check task (given the import's id) works on its lease.
    """

    roster_import = models.OneToOneField(
        RosterImport, on_delete=models.CASCADE, primary_key=True, related_name="check_job"
    )

    def __str__(self) -> str:
        return f"check of {self.roster_import}"


class ConnectionCheck(Job):
    """One press of "Check connection": the doctor's results, run by a worker."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="connection_checks")
    # [{"name", "ok", "message", "hint"}]
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"connection check {self.pk} for {self.course}"

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and all(r.get("ok") for r in self.results)


class ApplyRun(Job):
    """An instructor's "Apply": how many steps the plan had (``total``), so the page can
    show progress. The steps themselves run in the students' chains, under the pipeline
    lease; this row only counts them."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="apply_runs")
    students = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"apply {self.pk} on {self.course}"


class Offboarding(Job):
    """The end of a course: every step for every student, in order, resumable."""

    class RepositoryAction(models.TextChoices):
        ARCHIVE = "archive", "Archive: keep each repository, read-only, marked as archived"
        DELETE = "delete", "Delete each repository and its images"

    class Step(models.TextChoices):
        SNAPSHOT = "snapshot", "Record each student's last image, commit and build"
        READ_ONLY = "read_only", "Set the students' team permission to read-only"
        BUILDS = "builds", "Remove the build configurations"
        TEAM = "team", "Remove the students from the team"
        ORGANISATION = "organisation", "Remove the students from the organisation"
        REPOSITORIES = "repositories", "Archive or delete the repositories"
        FINISHED = "finished", "Finished"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="offboardings")
    repository_action = models.CharField(max_length=10, choices=RepositoryAction.choices)
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.SNAPSHOT)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two offboardings of one course at once would race each other.
            models.UniqueConstraint(
                fields=["course"],
                condition=models.Q(status__in=["queued", "running", "waiting", "failed"]),
                name="one_unfinished_offboarding_per_course",
            )
        ]

    def __str__(self) -> str:
        return f"offboarding of {self.course}"


STEP_ORDER: list[str] = [
    Offboarding.Step.SNAPSHOT,
    Offboarding.Step.READ_ONLY,
    Offboarding.Step.BUILDS,
    Offboarding.Step.TEAM,
    Offboarding.Step.ORGANISATION,
    Offboarding.Step.REPOSITORIES,
]


class OffboardingItem(models.Model):
    """One student in an offboarding: the snapshot kept, and each step's completion."""

    offboarding = models.ForeignKey(Offboarding, on_delete=models.CASCADE, related_name="items")
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    identifier = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    docker_id = models.CharField(max_length=30, blank=True)
    repository = models.CharField(max_length=300, blank=True)  # namespace/name, if any

    # Why this student stays in the team or the organisation ("" means removed).
    keep_in_team = models.CharField(max_length=300, blank=True)
    keep_in_organisation = models.CharField(max_length=300, blank=True)

    # -- the snapshot, kept after the repository is gone ---------------------------------------
    image_tag = models.CharField(max_length=128, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    image_pushed_at = models.DateTimeField(null=True, blank=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    build_state = models.CharField(max_length=10, blank=True)
    build_finished_at = models.DateTimeField(null=True, blank=True)

    # -- step completion (the job resumes from the first missing one) --------------------------
    snapshot_at = models.DateTimeField(null=True, blank=True)
    read_only_at = models.DateTimeField(null=True, blank=True)
    builds_at = models.DateTimeField(null=True, blank=True)
    team_at = models.DateTimeField(null=True, blank=True)
    organisation_at = models.DateTimeField(null=True, blank=True)
    repositories_at = models.DateTimeField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True)  # what each step did, in words
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["offboarding", "identifier"]

    def __str__(self) -> str:
        return f"{self.identifier} in {self.offboarding}"


class BoardChange(models.Model):
    """A write to a course's students, repositories or builds, recorded by the database
    itself (triggers, migration 0002_b3_board_changes), whatever wrote it: ``save()``, a bare
    ``update()``, ``bulk_create()``, a delete. The board's ETag digests a course's newest
    entries (``onboarding.board.board_version``), one indexed read at any class size.

    The triggers only insert (no row is updated, so no lock is shared by writers of the same
    course) and keep the newest ``BOARD_CHANGES_KEPT`` of each course.
    """

    id = models.BigAutoField(primary_key=True)
    # A plain number, not a foreign key: a course's last deletes log after the course row.
    course_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["course_id", "id"], name="board_change_course")]

    def __str__(self) -> str:
        return f"change {self.id} on course {self.course_id}"
