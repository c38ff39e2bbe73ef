from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone


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


class Course(models.Model):
    """A class run on one Docker Hub organisation; the desired state of its students."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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


class Enrolment(models.Model):
    """One student on a course's roster, linked to a user once they join."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrolments")
    # What the roster calls the student: an email or a student number.
    identifier = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enrolments",
    )
    docker_id = models.CharField(max_length=30, blank=True)
    github_repo = models.CharField("GitHub repository", max_length=140, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

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
        ]

    def __str__(self) -> str:
        return f"{self.identifier} in {self.course}"
