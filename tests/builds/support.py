"""Helpers for the builds tests: a student in the sandbox with a Docker Hub repository."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, PreflightState
from integrations.dockerhub.client import DockerHubClient
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN, student_files


def use_sandbox(sandbox: Any, course: Course, backend: str, settings: Any) -> Course:
    """Point the course at the sandbox organisation. Automated builds need an owner's token
    (Docker Hub refuses organisation access tokens there), so that backend gets the owner's."""
    hub = sandbox.seeded["dockerhub"]
    course.organisation = hub["org"]
    course.build_backend = backend
    if backend == "dockerhub-autobuild":
        course.dockerhub_username = hub["owner"]
        course.dockerhub_token = hub["owner_token"]
    course.save()
    # Nothing listens here: webhooks the sandbox sends back are refused, not delivered to a
    # server another test run may have on the default port.
    settings.SITE_URL = "http://127.0.0.1:9"
    return Course.objects.get(pk=course.pk)


def make_student(
    sandbox: Any,
    course: Course,
    name: str,
    *,
    files: dict[str, str] | None = None,
    problem: str | None = None,
    default_branch: str = "main",
    repository: bool = True,
) -> Enrolment:
    """A student with a Docker ID, a GitHub repository the course's account owns (GitHub
    Classroom style) and, with ``repository``, their Docker Hub repository already made and
    every earlier onboarding step observed."""
    world = sandbox.world
    hub_state.create_user(world, name, f"{name}-password", f"{name}@example.edu")
    repo = github_state.create_repo(
        world,
        INSTRUCTOR_LOGIN,
        f"{name}-course",
        files if files is not None else student_files(problem),
        default_branch=default_branch,
    )
    now = timezone.now()
    enrolment = Enrolment.objects.create(
        course=course,
        identifier=f"{name}@example.edu",
        docker_id=name,
        github_repo=repo["full_name"],
        preflight_state=PreflightState.PASSED,
        docker_id_verified_at=now,
        invite_state=InviteState.ACCEPTED,
        member_at=now,
        team_at=now,
    )
    if repository:
        hub = sandbox.seeded["dockerhub"]
        client = DockerHubClient(sandbox.url, hub["owner"], hub["owner_token"])
        hub_repo = client.create_repository(hub["org"], course.repository_name(name))
        StudentRepository.objects.create(
            enrolment=enrolment,
            namespace=hub_repo.namespace,
            name=hub_repo.name,
            created_at=now,
            permission_granted_at=now,
        )
    return Enrolment.objects.select_related("course").get(pk=enrolment.pk)


def created(sandbox: Any) -> dict[str, int]:
    with sandbox.world.lock:
        return dict(sandbox.world.stats["objects_created"])
