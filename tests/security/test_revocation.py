"""Taking an account back takes back what its earlier holder had (issue 21).

A password reset, an email change and a role taken away end the account's sessions and
revoke its API tokens; tokens also expire on their own.
"""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, CourseRole, User
from accounts.tokens import token_create
from onboarding import courses
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-password-7731"


def _api_status(raw: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return int(api.get("/api/v1/courses/").status_code)


def _reset_password_through_the_emailed_link(client, user: User) -> None:
    user.refresh_from_db()  # the key covers last_login
    key = default_token_generator.make_token(user)
    url = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": key},
    )
    form_page = client.get(url, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else url,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code in (200, 302)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_after_a_password_reset_the_old_api_token_answers_401(client, instructor):
    _, raw = token_create(user=instructor, name="left behind")
    assert _api_status(raw) == 200
    _reset_password_through_the_emailed_link(client, instructor)
    assert _api_status(raw) == 401
    assert ApiToken.objects.get(user=instructor).revoked_at is not None


def test_a_password_reset_ends_the_other_sessions(client, instructor):
    from django.test import Client

    earlier = Client()
    assert earlier.login(email=instructor.email, password=PASSWORD)
    assert earlier.get(reverse("api:tokens")).status_code == 200
    _reset_password_through_the_emailed_link(client, instructor)
    assert earlier.get(reverse("api:tokens")).status_code == 302


def test_an_email_change_ends_sessions_and_revokes_tokens(instructor):
    from django.test import Client

    _, raw = token_create(user=instructor, name="script")
    earlier = Client()
    assert earlier.login(email=instructor.email, password=PASSWORD)
    instructor.email = "someone.else@example.edu"
    instructor.save()
    assert _api_status(raw) == 401
    assert earlier.get(reverse("api:tokens")).status_code == 302


def test_removing_a_role_revokes_the_accounts_sessions_and_tokens(course, instructor, ta):
    from django.test import Client

    _, raw = token_create(user=ta, name="ta script")
    earlier = Client()
    assert earlier.login(email=ta.email, password=PASSWORD)
    role = CourseRole.objects.get(course=course, user=ta)
    courses.role_revoke(course=course, actor=instructor, role_id=role.pk)
    assert _api_status(raw) == 401
    assert earlier.get(reverse("api:tokens")).status_code == 302
    # The instructor who removed it keeps theirs.
    _, mine = token_create(user=instructor, name="mine")
    assert _api_status(mine) == 200


def test_a_signin_that_only_upgrades_the_password_hash_revokes_nothing(instructor):
    _, raw = token_create(user=instructor, name="script")
    # What check_password does when the hasher's parameters changed: the same password,
    # hashed again and saved without the raw password kept.
    instructor.password = instructor.password + "x"
    instructor.save(update_fields=["password"])
    assert _api_status(raw) == 200


def test_an_expired_token_answers_401_and_the_list_says_expired(client, instructor):
    token, raw = token_create(user=instructor, name="old script")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _api_status(raw) == 401
    client.login(email=instructor.email, password=PASSWORD)
    assert "Expired" in client.get(reverse("api:tokens")).content.decode()


def test_a_new_token_expires_after_the_configured_lifetime(settings, instructor):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    token, _ = token_create(user=instructor, name="script")
    left = token.expires_at - timezone.now()
    assert dt.timedelta(days=29) < left <= dt.timedelta(days=30)


def test_a_site_admin_lists_and_revokes_anyones_tokens(client, site_admin, instructor):
    token, raw = token_create(user=instructor, name="script")
    client.force_login(site_admin)
    listing = client.get(reverse("admin:accounts_apitoken_changelist"))
    assert listing.status_code == 200 and token.prefix in listing.content.decode()
    assert raw not in listing.content.decode()
    client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert _api_status(raw) == 401
