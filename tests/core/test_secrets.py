"""Secrets at rest: encrypted in the database, masked when printed, rotated by command."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from hubcourse.models import Heartbeat
from hubcourse.secrets import EncryptedTextField, SecretDecryptError, SecretValue, decrypt, encrypt

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


@pytest.mark.django_db
def test_rotate_secrets_moves_every_secret_to_the_newest_key(settings, monkeypatch):
    """The command walks every EncryptedTextField; here one on a scratch table."""
    settings.FERNET_KEYS = [OLD]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_secret (id integer primary key, token text)")
        cursor.execute("INSERT INTO scratch_secret VALUES (1, %s), (2, '')", [encrypt("ghp_one")])

    from django.db import models

    class ScratchSecret(models.Model):
        token = EncryptedTextField(blank=True)
        objects: models.Manager[ScratchSecret]

        class Meta:
            app_label = "hubcourse"
            db_table = "scratch_secret"
            managed = False

    monkeypatch.setattr(
        "hubcourse.management.commands.rotate_secrets.encrypted_fields",
        lambda: [(ScratchSecret, "token")],
    )
    settings.FERNET_KEYS = [NEW, OLD]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))
    settings.FERNET_KEYS = [NEW]
    assert ScratchSecret.objects.get(pk=1).token.reveal() == "ghp_one"
    assert ScratchSecret.objects.get(pk=2).token == ""

    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_secrets")
    assert Heartbeat.objects.count() == 0  # unrelated tables untouched
