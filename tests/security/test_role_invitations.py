"""Roles are invitations (issue 21): a role reaches only the person it was given to.

Sign-up is open and verification optional, so anyone can register first under a future
TA's address. Granting a role sends a signed, expiring link; it attaches only to the account
signed in with that address, verified.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import CourseRole, RoleInvitation, User
from hubcourse.models import AuditEvent
from onboarding import courses
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

FUTURE_TA = "nina.ta@example.edu"


def _grant(course, instructor, django_capture_on_commit_callbacks) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        invitation = courses.role_grant(
            course=course, actor=instructor, email=FUTURE_TA, role=CourseRole.Role.TA
        )
    assert isinstance(invitation, RoleInvitation)
    (message,) = [m for m in mail.outbox if FUTURE_TA in m.to]
    match = re.search(r"https?://\S+/roles/accept/(\S+)/", str(message.body))
    assert match, message.body
    return reverse("role_accept", args=[match.group(1)])


def _signed_in(email: str, *, verified: bool) -> tuple[User, Client]:
    user = User.objects.create_user(email, PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    client = Client()
    assert client.login(email=email, password=PASSWORD)
    return user, client


def test_a_pre_registered_account_never_gains_a_role(
    course, instructor, django_capture_on_commit_callbacks
):
    squatter, browser = _signed_in(FUTURE_TA, verified=False)
    link = _grant(course, instructor, django_capture_on_commit_callbacks)
    # Granting attaches nothing by itself...
    assert not CourseRole.objects.filter(course=course, user=squatter).exists()
    # ...and the link, opened by the unverified account, does not either.
    response = browser.post(link)
    assert response.status_code == 400
    assert "verify" in response.content.decode()
    assert not CourseRole.objects.filter(course=course, user=squatter).exists()
    assert browser.get(reverse("dashboard:settings", args=[course.slug])).status_code == 404


def test_the_verified_holder_of_the_address_accepts_the_role(
    course, instructor, django_capture_on_commit_callbacks
):
    link = _grant(course, instructor, django_capture_on_commit_callbacks)
    nina, browser = _signed_in(FUTURE_TA, verified=True)
    assert browser.get(link).status_code == 200
    response = browser.post(link)
    assert response.status_code == 302
    role = CourseRole.objects.get(course=course, user=nina)
    assert role.role == CourseRole.Role.TA
    assert AuditEvent.objects.filter(action="role.accept", target=FUTURE_TA).exists()
    # Used once: a second account cannot reuse the link.
    _, other = _signed_in("other@example.edu", verified=True)
    assert other.post(link).status_code == 400


def test_someone_else_who_learns_the_link_gains_nothing(
    course, instructor, django_capture_on_commit_callbacks
):
    link = _grant(course, instructor, django_capture_on_commit_callbacks)
    thief, browser = _signed_in("mallory@example.edu", verified=True)
    response = browser.post(link)
    assert response.status_code == 400
    assert FUTURE_TA in response.content.decode()
    assert not CourseRole.objects.filter(user=thief).exists()


def test_an_expired_invitation_gives_nothing(
    course, instructor, django_capture_on_commit_callbacks
):
    link = _grant(course, instructor, django_capture_on_commit_callbacks)
    RoleInvitation.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    nina, browser = _signed_in(FUTURE_TA, verified=True)
    assert browser.post(link).status_code == 400
    assert not CourseRole.objects.filter(user=nina).exists()


def test_a_tampered_link_gives_nothing(course, instructor, django_capture_on_commit_callbacks):
    link = _grant(course, instructor, django_capture_on_commit_callbacks)
    nina, browser = _signed_in(FUTURE_TA, verified=True)
    assert browser.post(link.replace(":", ";", 1)).status_code == 400
    assert not CourseRole.objects.filter(user=nina).exists()
