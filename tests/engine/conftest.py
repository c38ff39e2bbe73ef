"""Fixtures of the engine tests."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course
from accounts.services import course_ensure_teams


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    """The course in the sandbox's organisation, its teams made (a test module may define
    its own ``hub_course`` for another start)."""
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    course_ensure_teams(course_id=course.pk)
    course.refresh_from_db()
    return course
