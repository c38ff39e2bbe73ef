"""Personal API tokens: made on the settings page, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tokens import token_authenticate, token_create
from hubcourse.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(r"hc_[A-Za-z0-9_-]{43}")


def test_the_settings_page_shows_a_new_token_once_and_stores_only_its_hash(client, instructor):
    client.login(email=instructor.email, password=PASSWORD)
    response = client.post(reverse("api:tokens"), {"name": "grading script"})
    assert response.status_code == 200
    shown = TOKEN_RE.findall(response.content.decode())
    assert len(set(shown)) == 1
    raw = shown[0]
    token = ApiToken.objects.get(user=instructor)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.name, token.prefix, token.digest}
    assert raw.startswith(token.prefix)
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    # Shown once: the list page afterwards shows only its beginning.
    again = client.get(reverse("api:tokens")).content.decode()
    assert raw not in again and token.prefix in again
    assert AuditEvent.objects.filter(action="api_token.create", actor=instructor).exists()


def test_a_token_needs_a_name(client, instructor):
    client.login(email=instructor.email, password=PASSWORD)
    response = client.post(reverse("api:tokens"), {"name": " "})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert "This field is required" in response.content.decode()


def test_the_settings_page_needs_a_signed_in_user(client):
    response = client.get(reverse("api:tokens"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_bearer_token_authenticates_as_its_owner_and_notes_its_use(instructor, course):
    token, raw = token_create(user=instructor, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/api/v1/courses/")
    assert response.status_code == 200
    assert [c["slug"] for c in response.json()["results"]] == [course.slug]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused_at_once(client, instructor):
    token, raw = token_create(user=instructor, name="script")
    client.login(email=instructor.email, password=PASSWORD)
    response = client.post(reverse("api:token-revoke", args=[token.pk]))
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    refused = api.get("/api/v1/courses/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert "/settings/tokens/" in refused.json()["error"]["message"]


def test_nobody_revokes_another_persons_token(client, instructor, ta):
    token, raw = token_create(user=instructor, name="script")
    client.login(email=ta.email, password=PASSWORD)
    assert client.post(reverse("api:token-revoke", args=[token.pk])).status_code == 404
    assert token_authenticate(raw) is not None


def test_a_deactivated_users_token_stops_working(instructor):
    _, raw = token_create(user=instructor, name="script")
    instructor.is_active = False
    instructor.save()
    assert token_authenticate(raw) is None


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer hc_a hc_b", "Bearer hc_not-a-real-token", "Bearer ghp_foreign"],
)
def test_a_malformed_or_unknown_token_is_refused_with_a_message(header, instructor):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/courses/")
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "authentication_failed" and body["message"]
