"""The build backend registry: one place names the backends, everything else asks it.

A backend registered here (in a test, touching no code outside builds/) is offered by the
course form and the API filter, chosen by a course, and answered for by the reconciler's
plan, the offboarding preview and the GitHub webhook."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from rest_framework import serializers

from accounts.models import Course, Enrolment
from api.courses import CourseFilter, CourseInputSerializer
from builds import backends
from builds.backends import (
    BACKENDS,
    BuildInfo,
    ConfigureResult,
    StudentTask,
    backend_for,
    register,
)
from builds.backends import data as backend_data
from builds.backends.common import ensure_github_webhook_secret
from builds.backends.data import BackendData, PushHooks
from builds.models import Build, BuildState
from dashboard.forms import CourseForm
from onboarding.engine import plan_course
from onboarding.offboarding import offboarding_preview
from repositories.models import StudentRepository


class LabData(BackendData):
    key: ClassVar[str] = "lab-ci"
    pipeline: str = ""


class LabCI:
    """A backend that builds nothing: enough to see where the registry reaches."""

    name = "lab-ci"
    label = "The lab's own CI"
    removal_note = "with the lab pipeline of each student"
    needs_owner_account = False
    service = "the lab"
    student_team_permission: Literal["read", "write", "admin"] = "read"
    results_by_event = False
    github_scopes: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    needs_push_hook = False

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        return ConfigureResult(changed=True, reference="pipeline-1")

    def trigger(self, enrolment: Enrolment) -> str | None:
        return None

    def ensure_push_hook(self, enrolment: Enrolment) -> bool:
        return False

    def builds_since(self, enrolment: Enrolment, since: dt.datetime | None) -> list[BuildInfo]:
        return []

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        return ""

    def remove(self, enrolment: Enrolment) -> None:
        return None

    def forget(self, repository: StudentRepository, *, hub_repository_gone: bool) -> bool:
        backend_data.clear(repository, LabData)
        return True

    def has_configuration(self, repository: StudentRepository) -> bool:
        return bool(backend_data.read(repository, LabData).pipeline)

    def build_from_webhook(
        self, course: Course, event: str, payload: dict[str, Any]
    ) -> BuildInfo | None:
        if event != "workflow_run":
            return None
        return BuildInfo(external_id="lab-7", state=BuildState.SUCCESS)

    def preflight_findings(self, enrolment: Enrolment) -> list[tuple[str, str]]:
        return []

    def may_have_built(self, repository: StudentRepository) -> bool:
        return True

    def student_task(
        self, enrolment: Enrolment, repository: StudentRepository
    ) -> StudentTask | None:
        return None

    def observe_drift(self, enrolment: Enrolment, repository: StudentRepository) -> bool:
        return False

    def drift(self, repository: StudentRepository) -> tuple[str, ...]:
        return ()


@pytest.fixture
def lab_ci() -> Iterator[LabCI]:
    backend = LabCI()
    register(backend)
    yield backend
    del BACKENDS[backend.name]


def _choices(form: CourseForm) -> list[tuple[Any, Any]]:
    field = form.fields["build_backend"]
    assert isinstance(field, forms.ChoiceField)
    return [(value, label) for value, label in field.choices]  # type: ignore[misc,union-attr]


def _api_choices() -> dict[str, str]:
    field = CourseInputSerializer().fields["build_backend"]
    assert isinstance(field, serializers.ChoiceField)
    return dict(field.choices)


def _names(choices: Any) -> set[str]:
    return {str(value) for value, _label in choices if value}


def test_the_course_form_offers_exactly_the_registered_backends() -> None:
    form = CourseForm()

    assert _names(_choices(form)) == set(BACKENDS)
    assert _names(CourseFilter().filters["build_backend"].extra["choices"]()) == set(BACKENDS)
    assert set(_api_choices()) == set(BACKENDS)


def test_the_api_takes_a_backend_registered_after_startup(lab_ci: LabCI) -> None:
    assert "lab-ci" in _api_choices()


def test_a_new_course_defaults_to_a_registered_backend() -> None:
    assert Course._meta.get_field("build_backend").default in BACKENDS
    for name, backend in BACKENDS.items():
        assert backend.name == name and len(name) <= 30 and backend.label


def test_a_name_is_registered_once() -> None:
    class Impostor(LabCI):
        name = "github-actions"

    with pytest.raises(ValueError, match="registered already"):
        register(Impostor())
    assert type(BACKENDS["github-actions"]).__name__ == "GitHubActions"


@pytest.mark.django_db
def test_a_registered_backend_is_offered_chosen_and_asked(
    client: Client, instructor: Any, lab_ci: LabCI
) -> None:
    assert ("lab-ci", "The lab's own CI") in list(_choices(CourseForm()))
    client.force_login(instructor)
    course = Course.objects.get(slug="docker-101")
    form = CourseForm(instance=course)
    values = {
        name: field.value()
        for name, field in ((n, form[n]) for n in form.fields)
        if field.value() is not None
    }
    values.update(build_backend="lab-ci", repo_private="on" if course.repo_private else "")
    bound = CourseForm(data={k: v for k, v in values.items() if v != ""}, instance=course)
    assert bound.is_valid(), bound.errors
    bound.save()
    course.refresh_from_db()

    assert backend_for(course) is lab_ci
    enrolment = Enrolment.objects.create(
        course=course, identifier="s1", name="Sam", docker_id="sam1", github_repo="sam/app"
    )
    repository = StudentRepository.objects.create(enrolment=enrolment, namespace="o", name="r")
    backend_data.update(repository, LabData, pipeline="p-1")

    preview = offboarding_preview(course)
    assert (preview.backend, preview.removal_note) == (lab_ci.label, lab_ci.removal_note)
    assert preview.rows[0].build_configured is True
    build_step = next(s for s in plan_course(course).steps if s.target.startswith(lab_ci.label))
    assert build_step.target == "The lab's own CI: sam/app"


@pytest.mark.django_db
def test_a_webhook_build_comes_from_the_course_backend(
    client: Client, course: Course, lab_ci: LabCI, settings: Any
) -> None:
    course.build_backend = "lab-ci"
    course.save(update_fields=["build_backend"])
    enrolment = Enrolment.objects.create(
        course=course, identifier="s1", name="Sam", docker_id="sam1", github_repo="sam/app"
    )
    body = json.dumps({"repository": {"full_name": "sam/app"}, "workflow_run": {}})
    response = client.post(
        reverse("builds:github-hook", args=[course.webhook_token]),
        data=body,
        content_type="application/json",
        headers=_signed(course, body, "workflow_run"),
    )

    assert response.status_code == 202
    assert Build.objects.get(enrolment=enrolment).external_id == "lab-7"


def _signed(course: Course, body: str, event: str) -> dict[str, str]:
    secret = ensure_github_webhook_secret(course).encode()
    digest = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": f"sha256={digest}",
    }


@pytest.mark.django_db
def test_one_backend_part_never_overwrites_another(course: Course) -> None:
    enrolment = Enrolment.objects.create(course=course, identifier="s1", name="Sam")
    repository = StudentRepository.objects.create(enrolment=enrolment, namespace="o", name="r")
    stale = StudentRepository.objects.get(pk=repository.pk)

    backend_data.update(repository, PushHooks, github_hook_id=41)
    backend_data.update(stale, LabData, pipeline="p-9")

    fresh = StudentRepository.objects.get(pk=repository.pk)
    assert backend_data.read(fresh, PushHooks).github_hook_id == 41
    assert backend_data.read(fresh, LabData).pipeline == "p-9"
    backend_data.clear(fresh, LabData)
    assert (
        backend_data.read(StudentRepository.objects.get(pk=repository.pk), PushHooks).github_hook_id
        == 41
    )


def test_the_registry_is_the_package_entry_point() -> None:
    assert backends.get_backend("dockerhub-autobuild") is BACKENDS["dockerhub-autobuild"]
    with pytest.raises(ValueError, match="unknown build backend"):
        backends.get_backend("nope")
