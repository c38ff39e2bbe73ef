"""Re-encrypt every stored secret under the newest key in FERNET_KEYS.

Run it after putting a new key first in FERNET_KEYS; when it reports success the old keys
can be removed from the end of the list.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from hubcourse.secrets import SecretDecryptError, SecretValue, encrypted_fields, rotate


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the newest key in FERNET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        try:
            # One transaction: either every secret moves to the new key or none does.
            with transaction.atomic():
                for model, name in encrypted_fields():
                    rows = model._default_manager.exclude(**{name: ""}).only("pk", name)
                    for row in rows.select_for_update().iterator():
                        value = getattr(row, name)
                        if not isinstance(value, SecretValue):
                            continue
                        new = SecretValue(rotate(value.ciphertext))
                        model._default_manager.filter(pk=row.pk).update(**{name: new})
                        total += 1
        except SecretDecryptError as exc:
            raise CommandError(f"Nothing was changed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {total} secret(s) under the newest key.")
        )
