"""System checks run at start (runserver, migrate, the web and worker processes' `check`)
and by `check --deploy`: a wrong or missing Fernet key is said in words there, before any
page needs a stored secret."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from hubcourse.secrets import SecretDecryptError, encrypted_fields, fernet

# Rows read per encrypted field: enough to notice a wrong key, cheap at every start.
SAMPLE = 20


@register(deploy=False)
def fernet_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:

    try:
        fernet()
    except ImproperlyConfigured as error:
        return [Error(str(error), hint="Set FERNET_KEYS.", id="hubcourse.E001")]
    errors: list[Error] = []
    for model, name in encrypted_fields():
        try:
            values = list(
                model._default_manager.exclude(**{name: ""})
                .exclude(**{f"{name}__isnull": True})
                .values_list(name, flat=True)[:SAMPLE]
            )
        except (DatabaseError, RuntimeError):
            # No database yet (before migrate), or none allowed here (a test without one).
            return errors
        failed = 0
        for value in values:
            try:
                value.reveal()
            except SecretDecryptError:
                failed += 1
        if failed:
            errors.append(
                Error(
                    f"{failed} stored secret(s) in {model._meta.label}.{name} cannot be "
                    "decrypted with the keys in FERNET_KEYS.",
                    hint="A key was changed or removed before `manage.py rotate_secrets` "
                    "re-encrypted everything: put the old key back at the end of "
                    "FERNET_KEYS, or enter those secrets again.",
                    id="hubcourse.E002",
                )
            )
    return errors
