"""Fixtures for the student pages: the course link and people with proven emails."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress

from accounts.models import Course, Enrolment, JoinLink, User
from tests.conftest import PASSWORD


def person(email: str, *, verified: bool = True, **extra: Any) -> User:
    """A signed-up account whose email is (or is not yet) confirmed."""
    user = User.objects.create_user(email, PASSWORD, **extra)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@pytest.fixture
def link(course: Course) -> JoinLink:
    return JoinLink.objects.create(course=course)


@pytest.fixture
def approval_link(course: Course) -> JoinLink:
    return JoinLink.objects.create(course=course, policy=JoinLink.Policy.APPROVAL)


@pytest.fixture
def roster(course: Course) -> dict[str, Enrolment]:
    """Three students on the roster, none linked yet: by email, by student number, both."""
    return {
        "ada": Enrolment.objects.create(course=course, identifier="ada@school.edu", name="Ada"),
        "alan": Enrolment.objects.create(course=course, identifier="s1234567", name="Alan"),
        "grace": Enrolment.objects.create(
            course=course, identifier="s7654321", email="grace@school.edu", name="Grace"
        ),
    }
