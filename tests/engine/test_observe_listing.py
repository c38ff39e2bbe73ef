"""The reconcile's bulk observation does not take a repository for deleted because one
listing missed it (a listing read while the class builds moves repositories between pages)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Course
from accounts.services import course_ensure_teams
from integrations.dockerhub.client import DockerHubClient
from onboarding.engine import observe_course
from repositories.models import StudentRepository
from repositories.services import repository_ensure
from tests.engine.support import make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_repository_a_listing_missed_is_read_back_not_taken_for_deleted(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    course_ensure_teams(course_id=course.pk)
    kept, gone = make_class(sandbox, course, 2, checked=True)
    repository_ensure(enrolment_id=kept.pk)
    StudentRepository.objects.filter(enrolment=kept).update(build_configured_at=timezone.now())
    StudentRepository.objects.create(
        enrolment=gone,
        namespace="revelare",
        name="docker-101-student001",
        created_at=timezone.now(),
    )
    real = DockerHubClient.list_repositories

    def missing_one(self: DockerHubClient, namespace: str, **kwargs: Any) -> Any:
        return [r for r in real(self, namespace, **kwargs) if r.name != "docker-101-student000"]

    monkeypatch.setattr(DockerHubClient, "list_repositories", missing_one)

    observation = observe_course(course)

    row = StudentRepository.objects.get(enrolment=kept)
    assert row.created_at is not None and row.build_configured_at is not None
    assert StudentRepository.objects.get(enrolment=gone).created_at is None
    # One read back for each repository the listing lacked, none for the others.
    assert requests_to(sandbox, "GET", "/repositories/<repository>") == 2
    assert observation.calls >= 2
