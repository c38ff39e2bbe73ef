"""hubcourse itself, not only its clients: a student's repository, permissions, automated build
and its removal, recorded at the HTTP helper while the sandbox answers 405 on the routes
nobody has seen, and every exchange checked like the client fidelity test checks them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from accounts.models import Course
from accounts.services import course_ensure_teams
from builds.backends import backend_for
from builds.services import build_configure
from repositories.models import StudentRepository
from repositories.services import repository_grant_permissions
from tests.builds.support import make_student, use_sandbox
from tests.fidelity.descriptions import github_spec
from tests.fidelity.recorder import Recorder
from tests.fidelity.support import verdict
from tests.fidelity.test_client_fidelity import recorder
from tests.fidelity.validate import DockerHubDescription, GitHubDescription
from tests.sandbox.test_fidelity_dockerhub import load_spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

__all__ = ["recorder"]  # the fixture, shared with the client test


def test_onboarding_steps_and_build_removal_use_only_described_routes(
    sandbox: Any, course: Course, settings: Any, recorder: Recorder
) -> None:
    spec = github_spec()
    sandbox.world.config.update({"unconfirmed_routes_405": True})
    course = use_sandbox(sandbox, course, "dockerhub-autobuild", settings)
    course_ensure_teams(course_id=course.pk)
    student = make_student(sandbox, course, "adalovelace")
    StudentRepository.objects.filter(enrolment=student).update(permission_granted_at=None)

    repository_grant_permissions(enrolment_id=student.pk)  # grants
    repository_grant_permissions(enrolment_id=student.pk)  # the check: reads team by team
    build_configure(enrolment_id=student.pk)
    done = backend_for(course).remove(student)

    assert done is not None and "switched off" in done
    hub = [r for r in recorder.exchanges if not urlsplit(r.url).path.startswith("/api/v3")]
    github = [r for r in recorder.exchanges if urlsplit(r.url).path.startswith("/api/v3")]
    assert hub and github
    _, problems = verdict(DockerHubDescription(load_spec(sandbox.url)).check, hub)
    _, github_problems = verdict(GitHubDescription(spec).check, github)
    assert problems + github_problems == []
    listed = [
        r
        for r in hub
        if r.request.method == "GET"
        and urlsplit(r.url).path.startswith("/v2/repositories/")
        and urlsplit(r.url).path.rstrip("/").endswith("/groups")
    ]
    assert listed == [], "the list of a repository's team permissions was asked for"
