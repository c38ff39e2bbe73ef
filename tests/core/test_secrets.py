"""Secrets at rest: encrypted in the database, masked when printed, rotated by command."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from hubcourse.secrets import (
    EncryptedTextField,
    SecretDecryptError,
    SecretValue,
    decrypt,
    encrypt,
    encrypted_fields,
)

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_it_round_trips_and_never_stores_the_plaintext(settings):
    settings.FERNET_KEYS = [OLD]
    ciphertext = encrypt("dckr_oat_secret")
    assert "dckr_oat_secret" not in ciphertext
    assert decrypt(ciphertext) == "dckr_oat_secret"


def test_a_wrong_key_raises_instead_of_returning_the_ciphertext(settings):
    settings.FERNET_KEYS = [OLD]
    ciphertext = encrypt("dckr_oat_secret")
    settings.FERNET_KEYS = [NEW]
    with pytest.raises(SecretDecryptError, match="cannot be decrypted"):
        decrypt(ciphertext)


def test_a_secret_value_prints_as_a_mask():
    value = SecretValue("gAAAA-not-real")
    assert str(value) == "••••••••"
    assert "gAAAA" not in repr(value)
    assert f"{value}" == "••••••••"


def test_older_keys_still_decrypt_until_rotation(settings):
    settings.FERNET_KEYS = [OLD]
    ciphertext = encrypt("ghp_token")
    settings.FERNET_KEYS = [NEW, OLD]
    assert decrypt(ciphertext) == "ghp_token"


def test_the_field_stores_ciphertext_and_reads_a_secret_value(settings):
    settings.FERNET_KEYS = [OLD]
    field = EncryptedTextField()
    stored = field.get_prep_value("ghp_token")
    assert stored != "ghp_token"
    value = field.from_db_value(stored, None, connection)
    assert isinstance(value, SecretValue)
    assert value.reveal() == "ghp_token"
    assert field.from_db_value("", None, connection) == ""
    assert field.get_prep_value(value) == stored  # saving again does not re-encrypt


def test_every_encrypted_field_is_found_for_rotation():
    from accounts.models import Course, Organisation

    fields = {(model, name) for model, name in encrypted_fields()}
    assert {
        (Course, "dockerhub_token"),
        (Course, "github_token"),
        (Course, "github_webhook_secret"),
        (Organisation, "dockerhub_token"),
    } <= fields


@pytest.mark.django_db
def test_rotation_changes_nothing_when_a_secret_cannot_be_read(settings, course):
    from accounts.models import Course

    settings.FERNET_KEYS = [OLD]
    course.dockerhub_token = "dckr_pat_course"
    course.save()
    before = Course.objects.values_list("dockerhub_token", flat=True).get(pk=course.pk)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # neither old nor new: unreadable
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_secrets")
    settings.FERNET_KEYS = [OLD]
    after = Course.objects.get(pk=course.pk).dockerhub_token
    assert after == before and after.reveal() == "dckr_pat_course"


@pytest.mark.django_db
def test_rotate_secrets_covers_the_course_credentials(settings, course):
    from accounts.models import Course

    settings.FERNET_KEYS = [OLD]
    course.dockerhub_token = "dckr_pat_course"
    course.github_token = "ghp_course"
    course.save()
    settings.FERNET_KEYS = [NEW, OLD]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))
    settings.FERNET_KEYS = [NEW]  # the old key is gone: everything must read under the new one
    fresh = Course.objects.get(pk=course.pk)
    assert fresh.dockerhub_token.reveal() == "dckr_pat_course"
    assert fresh.github_token.reveal() == "ghp_course"
    assert fresh.github_webhook_secret == ""
