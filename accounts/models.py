from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

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

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    @property
    def is_site_admin(self) -> bool:
        return self.is_staff


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Course(models.Model):
    """A class run on one Docker Hub organisation: the desired state of its students."""

    class AccessPolicy(models.TextChoices):
        COURSE_TEAM = "course_team", "One course team reads every student repository"
        TEAM_PER_STUDENT = "team_per_student", "One team per student: each sees only their own"

    class BuildBackend(models.TextChoices):
        DOCKERHUB_AUTOBUILD = "dockerhub-autobuild", "Docker Hub automated builds"
        GITHUB_ACTIONS = "github-actions", "GitHub Actions (Docker's migration path)"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    # -- Docker Hub ---------------------------------------------------------------------
    organisation = models.CharField(max_length=255, default="Revelare")
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
    build_backend = models.CharField(
        max_length=30, choices=BuildBackend.choices, default=BuildBackend.DOCKERHUB_AUTOBUILD
    )
    build_branch = models.CharField(max_length=255, default="main")
    build_dockerfile = models.CharField(max_length=255, default="DockerfileVolume")
    build_context = models.CharField(max_length=255, default="/")
    build_tag = models.CharField(max_length=128, default="latest")
    # Empty means "use the site-wide GITHUB_TOKEN".
    github_token = EncryptedTextField(blank=True)
    github_token_set_at = models.DateTimeField(null=True, blank=True)

    # -- webhooks: Docker Hub's are unsigned, so its URL carries an unguessable token;
    # GitHub's are signed with this course's secret.
    webhook_token = models.CharField(max_length=64, unique=True, default=_new_token)
    github_webhook_secret = EncryptedTextField(blank=True)

    # -- observed ----------------------------------------------------------------------
    team_id = models.BigIntegerField(null=True, blank=True)
    instructors_team_id = models.BigIntegerField(null=True, blank=True)
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
    # owner/name on GitHub
    github_repo = models.CharField("GitHub repository", max_length=140, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # -- observed: identity and pre-flight ----------------------------------------------
    docker_id_verified_at = models.DateTimeField(null=True, blank=True)
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
