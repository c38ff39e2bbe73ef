"""``manage.py reconcile``: prints the plan, applies it, one student or the class."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Course
from repositories.models import StudentRepository
from tests.engine.support import created, make_class

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    return course


def test_it_applies_the_plan_for_one_student_only(sandbox: Any, hub_course: Course) -> None:
    first, second = make_class(sandbox, hub_course, 2, checked=True)
    out = StringIO()

    call_command("reconcile", hub_course.slug, "--student", first.docker_id, stdout=out)

    assert "Enqueued" in out.getvalue()
    assert StudentRepository.objects.get(enrolment=first).created_at is not None
    assert not StudentRepository.objects.filter(enrolment=second).exists()
    assert created(sandbox)["dockerhub.repository"] == 1


def test_running_apply_twice_creates_nothing_new(sandbox: Any, hub_course: Course) -> None:
    make_class(sandbox, hub_course, 3, checked=True)
    call_command("reconcile", hub_course.slug, stdout=StringIO())
    sandbox.world.wait_idle(timeout=10)
    first = created(sandbox)

    out = StringIO()
    call_command("reconcile", hub_course.slug, stdout=out)
    sandbox.world.wait_idle(timeout=10)

    assert created(sandbox) == first
    assert first["dockerhub.repository"] == 3 and first["dockerhub.invite"] == 3


def test_an_unknown_course_or_student_is_an_error(sandbox: Any, hub_course: Course) -> None:
    with pytest.raises(CommandError, match="no course"):
        call_command("reconcile", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="No student"):
        call_command("reconcile", hub_course.slug, "--student", "nobody", stdout=StringIO())
