"""Automated builds in the fewest Docker Hub calls: the create answer names the rule, so the
first build starts without reading the source or its rules again, and a repository linked for
the first time gets its webhook without a list first."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import Course
from builds.backends import data
from builds.backends.autobuild import DockerHubAutobuild
from builds.backends.data import PushHooks
from builds.services import build_configure
from repositories.models import StudentRepository
from tests.builds.support import make_student, use_sandbox
from tests.engine.support import requests_to

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"


def _dockerhub_calls(sandbox: Any) -> dict[str, int]:
    with sandbox.world.lock:
        routes = sandbox.world.stats["requests"].get("dockerhub", {})
        return {route: sum(statuses.values()) for route, statuses in routes.items()}


def _new(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {r: n - before.get(r, 0) for r, n in after.items() if n - before.get(r, 0)}


@pytest.fixture
def student(sandbox: Any, course: Course, settings: Any) -> Any:
    cache.clear()
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    return make_student(sandbox, course, "gracehopper")


def test_a_first_configure_links_and_hooks_without_reading(sandbox: Any, student: Any) -> None:
    before = _dockerhub_calls(sandbox)

    result = build_configure(enrolment_id=student.pk)

    assert result is not None and result.changed
    calls = _new(before, _dockerhub_calls(sandbox))
    assert not [route for route in calls if route.startswith("GET ")], calls
    assert requests_to(sandbox, "POST", "/source") == 1
    assert requests_to(sandbox, "POST", "/webhook_pipeline") == 1
    assert data.read(StudentRepository.objects.get(enrolment=student), PushHooks).dockerhub_webhook


def test_the_trigger_after_configure_makes_no_extra_read(sandbox: Any, student: Any) -> None:
    build_configure(enrolment_id=student.pk)
    student.refresh_from_db()
    before = _dockerhub_calls(sandbox)

    build_id = DockerHubAutobuild().trigger(student)

    assert build_id
    calls = _new(before, _dockerhub_calls(sandbox))
    assert list(calls.values()) == [1], calls
    assert next(iter(calls)).startswith("POST ")


def test_without_the_remembered_rule_the_trigger_reads_it(sandbox: Any, student: Any) -> None:
    build_configure(enrolment_id=student.pk)
    student.refresh_from_db()
    cache.clear()
    before = _dockerhub_calls(sandbox)

    assert DockerHubAutobuild().trigger(student)

    calls = _new(before, _dockerhub_calls(sandbox))
    assert sum(calls.values()) == 3  # the source, its rules, the build


def test_a_rule_deleted_since_configure_is_read_again(sandbox: Any, student: Any) -> None:
    result = build_configure(enrolment_id=student.pk)
    assert result is not None
    student.refresh_from_db()
    world = sandbox.world
    with world.lock:
        source = world.dockerhub["builds"]["sources"][result.reference]
        old = source["settings"][0]
        # Someone replaced the rule by hand: same settings, a new uuid.
        rule = dict(world.dockerhub["builds"]["settings"].pop(old), uuid="replaced-by-hand")
        world.dockerhub["builds"]["settings"]["replaced-by-hand"] = rule
        source["settings"] = ["replaced-by-hand"]

    assert DockerHubAutobuild().trigger(student)
