from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Course, Enrolment


def new_token() -> str:
    # 32 random bytes: a link or badge URL nobody can guess or enumerate.
    return secrets.token_urlsafe(32)


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
    """A signed-in person who could not be matched to the roster and asks to join."""

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


class StudentBadge(models.Model):
    """The unguessable token of a student's public build badge."""

    enrolment = models.OneToOneField(Enrolment, on_delete=models.CASCADE, related_name="badge")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"badge of {self.enrolment}"


class BuildNotice(models.Model):
    """The last build outcome the student was told about: emails go out on changes only."""

    enrolment = models.OneToOneField(
        Enrolment, on_delete=models.CASCADE, related_name="build_notice"
    )
    # "success" or "failed": the outcome of ``build``.
    outcome = models.CharField(max_length=10, blank=True)
    # The newest finished build already looked at, so a repeated call sends nothing.
    build = models.ForeignKey(
        "builds.Build", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.enrolment}: last told {self.outcome or 'nothing'}"
