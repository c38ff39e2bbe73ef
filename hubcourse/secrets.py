"""Secrets at rest: Fernet encryption with keys from the environment, and a model field.

A value read from the database is a :class:`SecretValue`: it prints as a mask, so a token
cannot leak into a template, a log line or an error report by accident, and it decrypts only
when code asks for it with :meth:`SecretValue.reveal`. A wrong key raises
:class:`SecretDecryptError`; the ciphertext is never handed on as if it were the secret.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import HttpResponse


class SecretDecryptError(Exception):
    """A stored secret cannot be decrypted with any key in FERNET_KEYS."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FERNET_KEYS entry {position} is not a Fernet key (32 url-safe base64 bytes); "
                "generate one with cryptography.fernet.Fernet.generate_key()."
            ) from None
    if not fernets:
        raise ImproperlyConfigured("FERNET_KEYS is empty: at least one key is needed.")
    return MultiFernet(fernets)


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptError(
            "A stored secret cannot be decrypted with the keys in FERNET_KEYS. Was a key "
            "removed before `manage.py rotate_secrets` re-encrypted everything? Put the old "
            "key back at the end of FERNET_KEYS, or enter the secret again."
        ) from None


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (the first in FERNET_KEYS)."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptError("A stored secret cannot be decrypted for rotation.") from None


class SecretValue:
    """An encrypted value as stored; decrypts only on :meth:`reveal`."""

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    def reveal(self) -> str:
        return decrypt(self.ciphertext)

    def __str__(self) -> str:
        return "••••••••"

    def __repr__(self) -> str:
        return "<SecretValue: hidden>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A TextField whose database value is Fernet ciphertext.

    Assign a plain ``str`` to set a secret, ``""`` to clear it; read back a
    :class:`SecretValue` (or ``""`` when unset).
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return ""
        return SecretValue(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, SecretValue) or not value:
            return value or ""
        return value  # a plain string about to be saved

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, SecretValue):
            return value.ciphertext
        if not value:
            return ""
        return encrypt(str(value))

    def formfield(self, *args: Any, **kwargs: Any) -> None:
        # No model form (the Django admin's included) gets this field: it would show the mask
        # and save the mask back as the new secret. Secrets are set through write-only fields.
        return None

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisers (dumpdata) get the ciphertext, never the secret.
        value = self.value_from_object(obj)
        return value.ciphertext if isinstance(value, SecretValue) else ""


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that holds an encrypted secret."""

    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, EncryptedTextField):
                found.append((model, field.name))
    return found


class SecretDecryptErrorMiddleware:
    """A stored secret that the keys cannot open is a configuration problem: say so in words
    (503), never as a bare 500. The start-up check (hubcourse.checks) reports it first."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)

    def process_exception(self, request: Any, exception: Exception) -> Any:

        if not isinstance(exception, SecretDecryptError):
            return None
        return HttpResponse(
            f"hubcourse cannot read a stored secret: {exception}",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
