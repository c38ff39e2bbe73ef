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
    # What hubcourse last granted on the repository: team name (lower case) -> permission.
    # The plan compares it with what the course says now (a renamed team, another access
    # policy), and the permissions step takes back what the course no longer grants. Empty:
    # nothing recorded yet (granted before this was kept).
    team_grants = models.JSONField(default=dict, blank=True)
    # With one team per student: the student's teams before the course renamed them (names
    # as Docker Hub spells them). Each is deleted, if the course made it, once the new team
    # holds the student and the permission; the plan shows them until then.
    old_teams = models.JSONField(default=list, blank=True)

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
    # A push to the build branch (the GitHub App's push event, or a new branch head seen by
    # the watcher): a build of this commit is expected, so its builds are read often until
    # that build has finished.
    expected_sha = models.CharField(max_length=64, blank=True)
    expected_at = models.DateTimeField(null=True, blank=True)
    # The branch-head watcher (students without the app): the head and the ETag of its last
    # read, for a conditional request that costs nothing when nothing changed.
    head_sha = models.CharField(max_length=64, blank=True)
    head_etag = models.CharField(max_length=200, blank=True)
    next_head_check_at = models.DateTimeField(null=True, blank=True)
    # The last rebuild asked for, by the student or staff: rebuilds are rate-limited.
    rebuild_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="one_row_per_hub_repository")
        ]
        indexes = [
            models.Index(fields=["next_poll_at"], name="repository_next_poll"),
            models.Index(fields=["next_head_check_at"], name="repository_next_head_check"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"
