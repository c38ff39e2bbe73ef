"""``dockerhub-autobuild`` hears of pushes through a signed GitHub webhook, so a failed build
(which Docker Hub announces to no one) is read within a few poll ticks, not at the idle read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course, Enrolment
from builds.backends import backend_for, data
from builds.backends.autobuild.backend import BY_HUBCOURSE, AutobuildData
from builds.backends.common import github_hook_url
from builds.backends.data import PushHooks
from builds.models import Build, BuildState
from builds.services import (
    IDLE_POLL,
    build_configure,
    build_push_hook,
    build_trigger_first,
    builds_claim_due,
    builds_refresh,
)
from hubcourse.models import AuditEvent
from integrations.github.client import SERVICE as GITHUB
from repositories.models import StudentRepository
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN, student_files
from tests.builds.support import make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"
# How long after the push the failure must be read, in beat ticks' time (simulated): a
# minute, where the idle read without the GitHub webhook would come hours later.
WITHIN = dt.timedelta(minutes=1)


def _hooks(sandbox: Any, full_name: str) -> list[dict[str, Any]]:
    repo = github_state.get_repo(sandbox.world, full_name)
    assert repo is not None
    return list(repo["hooks"].values())


def _github_audit(enrolment: Enrolment, action: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(enrolment=enrolment, action=action, service=GITHUB)
        .order_by("id")
        .values_list("outcome", flat=True)
    )


def _finished(sha: str) -> bool:
    return (
        Build.objects.filter(commit_sha=sha)
        .exclude(state__in=(BuildState.QUEUED, BuildState.RUNNING))
        .exists()
    )


def _student_elsewhere(sandbox: Any, course: Course, name: str) -> Enrolment:
    """A student whose GitHub repository is their own: the course's token sees it but may not
    manage its hooks (GitHub answers 404 there)."""
    student = make_student(sandbox, course, name)
    # Docker Hub would refuse the Owner a build source on a repository its linked GitHub
    # account does not administer; this test is about the hook, so that check is off here.
    sandbox.world.dockerhub["builds"]["require_linked_admin"] = False
    github_state.create_user(sandbox.world, name, f"{name}@example.edu", name)
    own = github_state.create_repo(sandbox.world, name, "course", student_files(None))
    Enrolment.objects.filter(pk=student.pk).update(github_repo=own["full_name"])
    # With the check off, the Owner links it (as for a repository their account administers).
    repository = StudentRepository.objects.get(enrolment=student)
    data.update(repository, AutobuildData, set_up_by=BY_HUBCOURSE)
    return Enrolment.objects.select_related("course").get(pk=student.pk)


def test_configure_adds_one_signed_push_hook_found_again_by_its_url(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "adalovelace")

    first = build_configure(enrolment_id=student.pk)
    data.update(
        StudentRepository.objects.filter(enrolment=student).get(), PushHooks, github_hook_id=None
    )
    second = build_configure(enrolment_id=student.pk)

    assert first is not None and first.changed
    assert second is not None and not second.changed
    course.refresh_from_db()
    (hook,) = _hooks(sandbox, student.github_repo)
    assert hook["config"]["url"] == github_hook_url(course)
    assert hook["events"] == ["push"]
    assert hook["config"]["secret"] == course.github_webhook_secret.reveal()
    # A hook whose id was lost is found again by its URL, not made twice.
    assert (
        data.read(StudentRepository.objects.get(enrolment=student), PushHooks).github_hook_id
        == hook["id"]
    )
    assert _github_audit(student, "webhook.create") == [AuditEvent.Outcome.OK]


def test_without_rights_on_the_repositorys_hooks_it_polls_and_says_so(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = _student_elsewhere(sandbox, course, "gracehopper")

    result = build_configure(enrolment_id=student.pk)

    assert result is not None
    repository = StudentRepository.objects.get(enrolment=student)
    assert repository.build_configured_at is not None
    assert data.read(repository, PushHooks).github_hook_id is None
    assert _hooks(sandbox, student.github_repo) == []
    github_events = list(
        AuditEvent.objects.filter(enrolment=student, service=GITHUB).values_list(
            "action", "outcome", "message"
        )
    )
    assert len(github_events) == 1
    action, outcome, message = github_events[0]
    assert (action, outcome) == ("webhook.create", AuditEvent.Outcome.FALLBACK)
    assert "polling" in message
    student.refresh_from_db()
    assert student.error_step == ""

    backend_for(student.course).remove(student)  # nothing of ours there: removal is fine


def test_the_github_actions_backend_writes_no_push_hook_where_there_is_none(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "barbaraliskov")
    # What automated builds leave when a course moves off them: a build hubcourse linked,
    # the case in which that backend writes its hook.
    repository = StudentRepository.objects.get(enrolment=student)
    data.update(repository, AutobuildData, source_uuid="source-1", set_up_by=BY_HUBCOURSE)

    assert build_push_hook(enrolment_id=student.pk) is False

    assert _hooks(sandbox, student.github_repo) == []
    assert data.read(repository, PushHooks).github_hook_id is None
    assert _github_audit(student, "webhook.create") == []
    # The same student on automated builds gets one: the backend says, not the student.
    Course.objects.filter(pk=course.pk).update(build_backend=AUTOBUILD)
    assert build_push_hook(enrolment_id=student.pk) is True
    assert len(_hooks(sandbox, student.github_repo)) == 1


def test_remove_deletes_the_push_hook_and_can_run_again(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "alanturing")
    build_configure(enrolment_id=student.pk)
    assert len(_hooks(sandbox, student.github_repo)) == 1

    backend_for(student.course).remove(student)
    backend_for(student.course).remove(student)

    assert _hooks(sandbox, student.github_repo) == []
    assert (
        data.read(StudentRepository.objects.get(enrolment=student), PushHooks).github_hook_id
        is None
    )
    # The second removal finds the hook gone already: "Already so", not a fallback.
    assert _github_audit(student, "webhook.delete") == [
        AuditEvent.Outcome.OK,
        AuditEvent.Outcome.NOOP,
    ]


def test_a_push_that_fails_its_build_is_recorded_within_a_few_poll_ticks(
    sandbox: Any, course: Course, settings: Any, live_server: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    # hubcourse's webhooks reach this test's server, as they reach a deployed hubcourse.
    settings.SITE_URL = live_server.url
    student = make_student(sandbox, course, "kenthompson")
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)  # the new hook's ping
    build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=student.pk)
    first = Build.objects.get(enrolment=student)
    assert first.state == BuildState.SUCCESS
    # Nothing is in flight: the next read of this student's builds is the slow idle one.
    idle_from = timezone.now()
    next_read = StudentRepository.objects.get(enrolment=student).next_poll_at
    assert next_read is not None
    assert next_read >= idle_from + IDLE_POLL - dt.timedelta(minutes=1)

    broken = student_files("unknown-base-image")["DockerfileVolume"]
    sha = github_state.push(
        sandbox.world,
        student.github_repo,
        "main",
        {"DockerfileVolume": broken},
        "Use my own base image",
        INSTRUCTOR_LOGIN,
    )
    sandbox.world.wait_idle(timeout=10)  # the build, and the push delivered to hubcourse

    tick: dt.timedelta = settings.CELERY_BEAT_SCHEDULE["poll-builds"]["schedule"]
    pushed_at = timezone.now()
    elapsed = dt.timedelta(0)
    while elapsed <= WITHIN and not _finished(sha):
        # One beat tick: claim what is due at that moment and read it.
        for enrolment_id in builds_claim_due(now=pushed_at + elapsed):
            builds_refresh(enrolment_id=enrolment_id)
        sandbox.world.wait_idle(timeout=10)
        elapsed += tick

    failed = Build.objects.get(enrolment=student, commit_sha=sha)
    assert failed.state == BuildState.FAILED
    assert "pyhton" in failed.log_excerpt
    assert StudentRepository.objects.get(enrolment=student).last_pushed_at is not None
    delivered = [
        d for d in sandbox.world.deliveries if (d["service"], d["event"]) == ("github", "push")
    ]
    assert [d["status"] for d in delivered] == ["delivered"]
