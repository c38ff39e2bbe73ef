from __future__ import annotations

from django.db import models

from accounts.models import Enrolment


class StudentRepository(models.Model):
    """A student's Docker Hub repository and its GitHub source, as hubcourse last saw them."""

    enrolment = models.OneToOneField(Enrolment, on_delete=models.CASCADE, related_name="repository")
    namespace = models.CharField(max_length=255)
    name = models.CharField(max_length=255)

    created_at = models.DateTimeField(null=True, blank=True)  # seen on (or created on) Docker Hub
    is_private = models.BooleanField(null=True)
    # With one team per student: the student's own team.
    student_team = models.CharField(max_length=255, blank=True)
    student_team_id = models.BigIntegerField(null=True, blank=True)
    student_team_at = models.DateTimeField(null=True, blank=True)
    permission_granted_at = models.DateTimeField(null=True, blank=True)
    instructors_permission_at = models.DateTimeField(null=True, blank=True)

    # When the course's build backend finished configuring this student's build.
    build_configured_at = models.DateTimeField(null=True, blank=True)
    # What the build backend keeps for this student (an autobuild source, a workflow commit,
    # a token id, webhook ids): the backends' own, read and written only through
    # builds.backends.data.
    build_data = models.JSONField(default=dict, blank=True)
    first_build_triggered_at = models.DateTimeField(null=True, blank=True)

    # Adaptive polling: when to look again (pending builds soon, idle repositories rarely).
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="one_row_per_hub_repository")
        ]
        indexes = [models.Index(fields=["next_poll_at"], name="repository_next_poll")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"
