"""Passwords are hashed with Argon2; a password stored with PBKDF2 before the switch is
re-hashed with Argon2 when its owner next signs in (the tests themselves use MD5 for speed:
these tests put the production list back)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PRODUCTION_HASHERS = [
    "hubcourse.hashers.OWASPArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]


def test_the_production_settings_hash_with_argon2_first() -> None:
    import hubcourse.settings as production

    assert production.PASSWORD_HASHERS == PRODUCTION_HASHERS


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_a_new_password_is_hashed_with_argon2(db: Any) -> None:
    user = User.objects.create_user("new.person@example.edu", PASSWORD)

    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_a_pbkdf2_password_becomes_argon2_at_the_next_sign_in(db: Any) -> None:
    user = User.objects.create_user("old.hash@example.edu")
    # As stored before the switch: PBKDF2 with Django's iterations.
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    assert user.password.startswith("pbkdf2_sha256$")

    response = Client().post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    # The new hash still opens with the same password, and only with it.
    assert user.check_password(PASSWORD)
    assert not user.check_password("wrong " + PASSWORD)


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_a_hash_with_djangos_argon2_parameters_is_cheapened_at_the_next_sign_in(db: Any) -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    user = User.objects.create_user("argon.default@example.edu")
    # As Django's own Argon2 hasher stores it: 100 MiB and 8 lanes.
    user.password = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    user.save(update_fields=["password"])
    assert "m=102400" in user.password and "p=8" in user.password

    response = Client().post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password(PASSWORD)
