from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from hubcourse.models import Job, JobStatus
from hubcourse.namespaces import NamespaceField
from hubcourse.secrets import EncryptedTextField


class _EmailUserManager(UserManager["User"]):
    """Users sign in by email; there is no username."""

    def _create_user_by_email(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user_by_email(email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user_by_email(email, password, **extra)


class User(AbstractUser):
    """A person: site admin (is_staff), course staff (instructor or TA) or student."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[_EmailUserManager] = _EmailUserManager()
    # Part of every session's check (below): raising it ends all of the account's sessions
    # at once (a password reset, an email change, a role taken away; accounts.revocation).
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's own check covers the password hash only; the epoch adds the other events.

        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_site_admin(self) -> bool:
        return self.is_staff


def new_token() -> str:
    # 32 random bytes: a link or badge URL nobody can guess or enumerate.
    return secrets.token_urlsafe(32)


class Organisation(models.Model):
    """A Docker Hub organisation registered by a site admin, with the credentials that act in
    it, its paid seats, and the instructors granted the right to run courses on it.

    A course runs only on a registered organisation (``Course.organisation`` holds its name,
    checked by ``accounts.organisations``). The site-wide credentials (DOCKERHUB_USERNAME /
    DOCKERHUB_TOKEN) act only for the settings' organisation (DOCKERHUB_ORG), which is
    registered on first use; any other organisation needs its own token here.
    """

    name = NamespaceField(max_length=255, unique=True)
    # The identifier that logs in (the organisation's name for an organisation access token,
    # an Owner's username for a personal token) and its secret, encrypted; set write-only.
    dockerhub_username = models.CharField(max_length=255, blank=True)
    dockerhub_token = EncryptedTextField(blank=True)
    dockerhub_token_set_at = models.DateTimeField(null=True, blank=True)
    # Every member and every pending invitation holds a paid seat; Docker Hub publishes no
    # API for the plan's seat count, so the admin records it. Empty: not recorded.
    seats = models.PositiveIntegerField(null=True, blank=True)
    # Seats in use as last read from Docker Hub (its full member and invitation lists, by
    # the members page's refresh or a course's reconcile); None until read once.
    seat_members = models.PositiveIntegerField(null=True, blank=True, editable=False)
    seat_invites = models.PositiveIntegerField(null=True, blank=True, editable=False)
    seats_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="granted_organisations"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="one_organisation_per_name_any_case")
        ]

    def __str__(self) -> str:
        return self.name


class Course(models.Model):
    """A class run on one Docker Hub organisation: the desired state of its students."""

    class AccessPolicy(models.TextChoices):
        COURSE_TEAM = "course_team", "One course team reads every student repository"
        TEAM_PER_STUDENT = "team_per_student", "One team per student: each sees only their own"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    # -- Docker Hub ---------------------------------------------------------------------
    organisation = NamespaceField(max_length=255, default="revelare")
    # The course team: every student is invited into it.
    team = models.CharField(max_length=255, default="students")
    instructors_team = models.CharField(max_length=255, default="instructors")
    access_policy = models.CharField(
        max_length=20, choices=AccessPolicy.choices, default=AccessPolicy.COURSE_TEAM
    )
    # With one team per student, the team's name; {course} and {docker_id} are filled in.
    student_team_template = models.CharField(max_length=255, default="{course}-{docker_id}")
    repo_name_template = models.CharField(max_length=255, default="{course}-{docker_id}")
    repo_private = models.BooleanField(default=True)
    # The identifier that logs in (organisation name for an organisation access token) and
    # its secret; empty means "use the site-wide DOCKERHUB_USERNAME / DOCKERHUB_TOKEN".
    dockerhub_username = models.CharField(max_length=255, blank=True)
    dockerhub_token = EncryptedTextField(blank=True)
    dockerhub_token_set_at = models.DateTimeField(null=True, blank=True)

    # -- builds ------------------------------------------------------------------------
    # The name of a backend in builds.backends' registry (the forms and the API offer those;
    # a system check there says the default is one of them).
    build_backend = models.CharField(max_length=30, default="dockerhub-autobuild")
    build_branch = models.CharField(max_length=255, default="main")
    build_dockerfile = models.CharField(max_length=255, default="DockerfileVolume")
    build_context = models.CharField(max_length=255, default="/")
    build_tag = models.CharField(max_length=128, default="latest")
    # Empty means "use the site-wide GITHUB_TOKEN".
    github_token = EncryptedTextField(blank=True)
    github_token_set_at = models.DateTimeField(null=True, blank=True)
    # The GitHub account linked to the Docker Hub Owner's Docker ID (Docker Hub: Account
    # settings, Linked accounts), through which the Owner links automated builds. Docker
    # Hub's API does not say which account that is; empty means "take it to be
    # DOCKERHUB_OWNER_GITHUB_LOGIN, else the GitHub token's account" (hub_doctor says which).
    owner_github_login = models.CharField(max_length=39, blank=True)

    # -- webhooks: Docker Hub's are unsigned, so its URL carries an unguessable token;
    # GitHub's are signed with this course's secret.
    webhook_token = models.CharField(max_length=64, unique=True, default=new_token)
    github_webhook_secret = EncryptedTextField(blank=True)

    # -- observed ----------------------------------------------------------------------
    team_id = models.BigIntegerField(null=True, blank=True)
    instructors_team_id = models.BigIntegerField(null=True, blank=True)
    # The course's teams from before a rename: old name (as Docker Hub spells it) -> the
    # setting it was ("team" or "instructors_team"). Each is deleted, if the course made it
    # and no other active course uses it, once the new team holds its members and
    # permissions (repositories.services.course_retire_old_teams); the plan shows it until.
    old_teams = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.archived_at is None

    def _fill(self, template: str, docker_id: str) -> str:
        return template.format(course=self.slug, docker_id=docker_id).lower()

    def repository_name(self, docker_id: str) -> str:
        """The Docker Hub repository name for a student (Docker Hub names are lower case)."""
        return self._fill(self.repo_name_template, docker_id)

    def student_team_name(self, docker_id: str) -> str:
        return self._fill(self.student_team_template, docker_id)


class CourseRole(models.Model):
    """Staff on a course. Students are not here: they are enrolments."""

    class Role(models.TextChoices):
        INSTRUCTOR = "instructor", "Instructor"
        TA = "ta", "Teaching assistant"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_roles"
    )
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="one_role_per_course_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} of {self.course}"


class OnboardingState(models.TextChoices):
    """Where a student stands, in the order the handout's steps happen."""

    REGISTERED = "registered", "Registered"
    DOCKER_ID_VERIFIED = "docker_id_verified", "Docker ID verified"
    INVITED = "invited", "Invited to the organisation"
    MEMBER = "member", "Member of the organisation"
    IN_TEAM = "in_team", "In the team"
    REPOSITORY_CREATED = "repository_created", "Repository created"
    PERMISSION_GRANTED = "permission_granted", "Team permission granted"
    BUILD_CONFIGURED = "build_configured", "Build configured"
    FIRST_BUILD_RUNNING = "first_build_running", "First build running"
    FIRST_BUILD_SUCCEEDED = "first_build_succeeded", "First build succeeded"
    ERROR = "error", "Needs attention"


class InviteState(models.TextChoices):
    NONE = "none", "Not invited"
    PENDING = "pending", "Invited, waiting for the student to accept"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class PreflightState(models.TextChoices):
    NOT_RUN = "not_run", "Not checked yet"
    PASSED = "passed", "Passed"
    WARNING = "warning", "Passed with warnings"
    FAILED = "failed", "Failed"


class GitHubAccess(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    APP = "app", "Through the GitHub App (push events)"
    PUBLIC = "public", "Public repository, checked on a timer"
    NONE = "none", "Cannot be watched: private repository without the GitHub App"


class Enrolment(models.Model):
    """One student on a course's roster, linked to a user once they join.

    The desired state is the Docker ID and the GitHub repository; the rest is what
    hubcourse last observed on Docker Hub and GitHub, and where onboarding stands.
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrolments")
    # What the roster calls the student: an email or a student number.
    identifier = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enrolments",
    )
    docker_id = models.CharField(max_length=30, blank=True)
    # A Docker ID the roster gave that Docker Hub did not know (a typo, often): kept for staff
    # to see and correct, never used (``docker_id`` stays empty until someone gives a known one).
    docker_id_not_found = models.CharField(max_length=30, blank=True)
    # owner/name on GitHub
    github_repo = models.CharField("GitHub repository", max_length=140, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # -- observed: identity and pre-flight ----------------------------------------------
    docker_id_verified_at = models.DateTimeField(null=True, blank=True)
    # How hubcourse reaches the student's GitHub repository (the student owns it: the course's
    # token can neither read it when private nor hook it). Through the GitHub App when the
    # student installed it on the repository (confirmed, never taken from the setup URL
    # alone); anonymously for a public repository without the app; not at all otherwise.
    github_access = models.CharField(
        max_length=10, choices=GitHubAccess.choices, default=GitHubAccess.UNKNOWN
    )
    github_access_note = models.CharField(max_length=300, blank=True)  # what happened, in words
    github_installation_id = models.BigIntegerField(null=True, blank=True)
    github_repository_id = models.BigIntegerField(null=True, blank=True)  # survives renames
    preflight_state = models.CharField(
        max_length=10, choices=PreflightState.choices, default=PreflightState.NOT_RUN
    )
    # [{"check": ..., "level": "ok"|"warning"|"error", "message": ...}, ...]
    preflight_report = models.JSONField(default=list, blank=True)
    preflight_at = models.DateTimeField(null=True, blank=True)

    # -- observed: organisation and team -------------------------------------------------
    invite_state = models.CharField(
        max_length=10, choices=InviteState.choices, default=InviteState.NONE
    )
    invite_id = models.CharField(max_length=64, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    member_at = models.DateTimeField(null=True, blank=True)
    team_at = models.DateTimeField(null=True, blank=True)

    # -- where onboarding stands (derived by accounts.services.enrolment_refresh_state) --
    state = models.CharField(
        max_length=30, choices=OnboardingState.choices, default=OnboardingState.REGISTERED
    )
    # The step that failed, its message for a person, and when it is tried again.
    error_step = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    error_permanent = models.BooleanField(default=False)
    error_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "identifier"], name="one_enrolment_per_roster_identifier"
            ),
            models.UniqueConstraint(
                fields=["course", "user"],
                condition=models.Q(user__isnull=False),
                name="one_enrolment_per_course_user",
            ),
            models.UniqueConstraint(
                fields=["course", "docker_id"],
                condition=~models.Q(docker_id=""),
                name="one_enrolment_per_course_docker_id",
            ),
        ]
        indexes = [
            # The class board's filters and counts, and the periodic reconcile's scan.
            models.Index(fields=["course", "state"], name="enrolment_course_state"),
            models.Index(fields=["next_retry_at"], name="enrolment_next_retry"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} in {self.course}"


# -- the organisation: what hubcourse last read of it, and bulk invites --------------------


# Docker Hub's invite links expire after 14 days (notes §4).
INVITE_LIFETIME = dt.timedelta(days=14)


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

    organisation = NamespaceField(max_length=255)
    team = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PASTE)
    filename = models.CharField(max_length=255, blank=True)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.CHECK)
    checked_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Docker Hub calls made by each phase (one per chunk of at most 1000).
    requests_made = models.PositiveIntegerField(default=0)
    # What was read besides the rows: the list's lines, and which were blank (0 and [] for a
    # job made before these were kept, or from rows that came without their text).
    lines_read = models.PositiveIntegerField(default=0)
    blank_lines = models.JSONField(default=list, blank=True)

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
    NO_SEAT = "no_seat", "No free seat"
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


# A read queued or running for longer than this has stopped (its worker was lost): a read
# takes seconds, and its task is killed after 200 s (hubcourse.jobs.JOB_OPTIONS).
READ_STALLED_AFTER = dt.timedelta(minutes=10)


class OrgSnapshot(models.Model):
    """When the organisation was last read from Docker Hub, and how that went."""

    organisation = NamespaceField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the current (or last) read was asked for or began.
    requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.organisation} as of {self.synced_at}"

    @property
    def stalled(self) -> bool:
        """Queued or running, but for too long to be still under way."""
        return (
            self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
            and self.requested_at is not None
            and timezone.now() - self.requested_at > READ_STALLED_AFTER
        )

    @property
    def reading(self) -> bool:
        """A read is under way (or waits on Docker Hub's rate limit): pages follow it."""
        in_flight = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)
        return self.status in in_flight and not self.stalled


class OrgMember(models.Model):
    organisation = NamespaceField(max_length=255)
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
    organisation = NamespaceField(max_length=255)
    invite_id = models.CharField(max_length=64)
    invitee = models.CharField(max_length=320)
    inviter = models.CharField(max_length=255, blank=True)
    team = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    # Docker Hub reports only when an invite was created; a resend from hubcourse starts a
    # new 14-day link, so hubcourse remembers when it resent.
    resent_at = models.DateTimeField(null=True, blank=True)
    # When hubcourse sent the invite itself (a bulk add, a course's invitations), as long as
    # no read of Docker Hub has listed it since: the page shows it at once, marked so.
    sent_by_hubcourse_at = models.DateTimeField(null=True, blank=True)

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
    organisation = NamespaceField(max_length=255)
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


# -- joining a course ----------------------------------------------------------------------


class JoinLink(models.Model):
    """The link an instructor shares so students can join a course by themselves."""

    class Policy(models.TextChoices):
        REFUSE = "refuse", "Refuse students who are not on the roster"
        APPROVAL = "approval", "Let them ask to join; an instructor approves or refuses"

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="join_link")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    enabled = models.BooleanField(default=True)
    policy = models.CharField(max_length=10, choices=Policy.choices, default=Policy.REFUSE)
    created_at = models.DateTimeField(default=timezone.now)
    # When the token last changed: older copies of the link stop working from then on.
    regenerated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"join link of {self.course}"


class JoinRequest(models.Model):
    """A signed-in person whom no verified email matched to the roster, asking to join: a
    stranger, or someone claiming an entry by the identifier they typed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an instructor"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="join_requests"
    )
    # What the student typed as their roster identifier (may be blank).
    identifier = models.CharField(max_length=254, blank=True)
    # Why they could not join by themselves, for the instructor who decides.
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The roster entry the typed identifier names, if any: only the instructor can tell
    # whether the person who typed a student number is that student.
    claimed = models.ForeignKey(
        Enrolment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "user"],
                condition=models.Q(status="pending"),
                name="one_pending_join_request_per_course_user",
            )
        ]
        indexes = [models.Index(fields=["course", "status"], name="join_request_course_status")]

    def __str__(self) -> str:
        return f"{self.user} asks to join {self.course} ({self.status})"


# -- API tokens ----------------------------------------------------------------------------


def api_token_expiry() -> dt.datetime:
    """When a token made now stops working (settings.API_TOKEN_LIFETIME_DAYS, 90 by default)."""
    return timezone.now() + dt.timedelta(days=int(getattr(settings, "API_TOKEN_LIFETIME_DAYS", 90)))


class ApiToken(models.Model):
    """A personal API token: a script acts as its owner, with the owner's permissions.

    Only the SHA-256 digest of the token is stored; the token itself is shown once, when it
    is made. ``prefix`` (the first characters) lets its owner tell tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A leaked token that nobody revokes still stops working.
    expires_at = models.DateTimeField(default=api_token_expiry)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class GitHubAppRegistration(models.Model):
    """hubcourse's GitHub App as registered from the admin page (the manifest flow, or
    credentials pasted there). The newest row is the app in use; it wins over settings.

    The credentials are encrypted at rest and never shown again once stored.
    """

    class Source(models.TextChoices):
        MANIFEST = "manifest", "registered from hubcourse"
        PASTED = "pasted", "credentials entered by hand"

    app_id = models.BigIntegerField()
    slug = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    owner = models.CharField(max_length=100, blank=True)
    html_url = models.URLField(max_length=300, blank=True)
    client_id = models.CharField(max_length=100, blank=True)
    client_secret = EncryptedTextField(blank=True)
    private_key = EncryptedTextField()
    webhook_secret = EncryptedTextField(blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"GitHub App {self.slug} ({self.app_id})"


# -- role invitations ---------------------------------------------------------------------


class RoleInvitation(models.Model):
    """A course role offered to an email address: it becomes a ``CourseRole`` only when the
    account signed in with that address, verified, opens the signed link before it expires.

    Granting never attaches a role to an account that merely claims the address (open
    sign-up makes that anyone's to register first).
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="role_invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=CourseRole.Role.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.role} of {self.course} for {self.email}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


# -- what hubcourse made ---------------------------------------------------------------------


class ManagedResource(models.Model):
    """Something on Docker Hub (or a build service) that a course made, or was told to adopt.

    hubcourse changes or removes only what is recorded here for the course: a repository,
    team or member that already existed is "found", shown in the plan as "adopt", and stays
    untouched until a site admin adopts it (``adopted_by``). Names are stored in lower case
    (Docker Hub's names are case-insensitive).
    """

    class Kind(models.TextChoices):
        REPOSITORY = "repository", "repository"
        TEAM = "team", "team"
        BUILD_SOURCE = "build_source", "build source"
        WEBHOOK = "webhook", "webhook"
        INVITATION = "invitation", "invitation"

    class Origin(models.TextChoices):
        CREATED = "created", "created by this course"
        ADOPTED = "adopted", "adopted by a site admin"
        FOUND = "found", "already existed: waits for a site admin to adopt it"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="managed_resources")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=300)
    external_id = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.CREATED)
    created_at = models.DateTimeField(default=timezone.now)
    adopted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    adopted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["course", "kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "kind", "name"], name="one_managed_resource_per_course_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.origin}) of {self.course}"

    @property
    def owned(self) -> bool:
        return self.origin in (self.Origin.CREATED, self.Origin.ADOPTED)
