"""The organisation admin's background jobs and what hubcourse last read of the organisation.

Jobs (a bulk invite, an offboarding) keep their progress in the database, row by row, so a
page reload, a worker restart or a failure mid-way loses nothing: the job resumes from the
first row without a result. Members, invites and teams are a copy of what Docker Hub
reported at ``OrgSnapshot.synced_at``; pages read them instead of calling Docker Hub.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Course, Enrolment

# Docker Hub's invite links expire after 14 days (notes §4).
INVITE_LIFETIME = dt.timedelta(days=14)


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for Docker Hub's rate limit"
    DONE = "done", "Finished"
    FAILED = "failed", "Stopped by an error"


class Job(models.Model):
    """What every background job has: status, progress, the last error, and a lease.

    The lease (``lease_until``) makes sure one worker at a time works on a job: a worker
    takes it with a conditional update and gives it back after each chunk.
    """

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, self.done * 100 // self.total)

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)


class BulkInvite(Job):
    """A list of Docker IDs and emails invited to the organisation in two phases: a dry run
    (``check``) that Docker Hub answers row by row, then, once confirmed, the invites
    (``send``); each in requests of at most 1000 invitees."""

    class Phase(models.TextChoices):
        CHECK = "check", "Dry run"
        SEND = "send", "Sending invites"

    class Source(models.TextChoices):
        PASTE = "paste", "Pasted list"
        CSV = "csv", "CSV file"
        COMMAND = "command", "Command line"

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        EDITOR = "editor", "Editor"
        OWNER = "owner", "Owner"

    organisation = models.CharField(max_length=255)
    team = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PASTE)
    filename = models.CharField(max_length=255, blank=True)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.CHECK)
    checked_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Docker Hub calls made by each phase (one per chunk of at most 1000).
    requests_made = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk invite {self.pk} to {self.organisation}"

    @property
    def awaiting_confirmation(self) -> bool:
        return (
            self.phase == self.Phase.CHECK
            and self.status == JobStatus.DONE
            and self.confirmed_at is None
        )


class Outcome(models.TextChoices):
    """A row's outcome, in the dry run and after sending."""

    INVITE = "invite", "Will be invited"
    INVITED = "invited", "Invited"
    ALREADY_INVITED = "already_invited", "Already invited (invite pending)"
    ALREADY_MEMBER = "already_member", "Already a member"
    INVALID = "invalid", "Invalid"
    DUPLICATE = "duplicate", "Duplicate in the list"
    OTHER = "other", "Not invited"


class BulkInviteRow(models.Model):
    job = models.ForeignKey(BulkInvite, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    # Its place on the line: a pasted line may hold several entries ("ada, alan").
    position = models.PositiveIntegerField(default=1)
    raw = models.CharField(max_length=320)
    invitee = models.CharField(max_length=320, blank=True)
    # Docker Hub's dry-run answer, then the real one; "" until known.
    dry_run = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    result = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    message = models.CharField(max_length=500, blank=True)
    invite_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["job", "line", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "line", "position"], name="one_bulk_row_per_entry"
            )
        ]

    def __str__(self) -> str:
        return f"row {self.line}: {self.raw}"


# -- what Docker Hub last said about the organisation ------------------------------------------


class OrgSnapshot(models.Model):
    """When the organisation was last read from Docker Hub, and how that went."""

    organisation = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    synced_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.organisation} as of {self.synced_at}"


class OrgMember(models.Model):
    organisation = models.CharField(max_length=255)
    username = models.CharField(max_length=255)
    full_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=320, blank=True)
    role = models.CharField(max_length=20)  # as Docker Hub returns it: Owner, Editor, Member
    teams = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["organisation", "username"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "username"], name="one_member_row_per_org_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.role}) in {self.organisation}"

    @property
    def is_owner(self) -> bool:
        return self.role.lower() == "owner"


class OrgInvite(models.Model):
    organisation = models.CharField(max_length=255)
    invite_id = models.CharField(max_length=64)
    invitee = models.CharField(max_length=320)
    inviter = models.CharField(max_length=255, blank=True)
    team = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    # Docker Hub reports only when an invite was created; a resend from hubcourse starts a
    # new 14-day link, so hubcourse remembers when it resent.
    resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation", "created_at", "invitee"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "invite_id"], name="one_invite_row_per_org_invite"
            )
        ]

    def __str__(self) -> str:
        return f"invite {self.invitee} to {self.organisation}"

    @property
    def sent_at(self) -> dt.datetime | None:
        return self.resent_at or self.created_at

    @property
    def expires_at(self) -> dt.datetime | None:
        return self.sent_at + INVITE_LIFETIME if self.sent_at else None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class OrgTeam(models.Model):
    organisation = models.CharField(max_length=255)
    team_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    member_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="one_team_row_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.organisation}/{self.name}"


# -- offboarding a course ----------------------------------------------------------------------


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
