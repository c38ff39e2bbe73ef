"""Headers and surfaces (issue 21): a Content-Security-Policy with no inline script on
every HTML page, the API's schema and docs for signed-in users in production, and a wrong
Fernet key said at start in words, never a 500 on a page."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Course
from hubcourse.checks import fernet_keys_check
from hubcourse.secrets import SecretDecryptError, SecretDecryptErrorMiddleware
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# A <script> without src (JSON data blocks do not run), or an on...= event attribute.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _assert_strict_page(response) -> None:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("style-src-attr")[0]
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body), INLINE_SCRIPT.search(body)
    assert not EVENT_ATTRIBUTE.search(body), EVENT_ATTRIBUTE.search(body)


def test_public_pages_carry_the_policy_and_no_inline_script(client):
    for url in ("/", reverse("account_login"), reverse("account_signup")):
        _assert_strict_page(client.get(url))


def test_staff_pages_carry_the_policy_and_no_inline_script(client, instructor, course):
    client.login(email=instructor.email, password=PASSWORD)
    for name in ("board", "settings", "roles"):
        _assert_strict_page(client.get(reverse(f"dashboard:{name}", args=[course.slug])))
    _assert_strict_page(client.get(reverse("api:tokens")))


def test_the_admin_and_the_api_docs_carry_the_policy_and_no_inline_script(client, site_admin):
    client.force_login(site_admin)
    _assert_strict_page(client.get(reverse("admin:index")))
    _assert_strict_page(client.get(reverse("admin:accounts_course_changelist")))
    _assert_strict_page(client.get("/api/docs/"))


def test_the_schema_and_docs_need_a_signed_in_user_in_production(client, settings, instructor):
    settings.API_DOCS_PUBLIC = False
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)
    client.login(email=instructor.email, password=PASSWORD)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_a_malformed_key_is_reported_at_start_in_words(settings):
    settings.FERNET_KEYS = ["not-a-key"]
    (error,) = fernet_keys_check()
    assert error.id == "hubcourse.E001"
    assert "not a Fernet key" in error.msg
    with pytest.raises(SystemCheckError, match="not a Fernet key"):
        call_command("check", "--deploy")


def test_a_key_that_cannot_open_the_stored_secrets_is_reported_at_start(settings):
    Course.objects.create(name="C", slug="c", dockerhub_token="dckr_pat_secret")
    assert fernet_keys_check() == []
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    (error,) = fernet_keys_check()
    assert error.id == "hubcourse.E002"
    assert "accounts.Course.dockerhub_token" in error.msg
    assert "dckr_pat_secret" not in error.msg + (error.hint or "")


def test_a_page_that_meets_an_unreadable_secret_answers_in_words_not_500():
    middleware = SecretDecryptErrorMiddleware(lambda request: None)
    response = middleware.process_exception(
        RequestFactory().get("/"), SecretDecryptError("put the old key back")
    )
    assert response is not None and response.status_code == 503
    assert "cannot read a stored secret" in response.content.decode()
