"""A Docker Hub organisation's name as Docker Hub spells it: its namespace, in lowercase.

Docker Hub namespaces are 4 to 30 lowercase letters and digits; its API takes any case in a
path but always answers in lowercase. hubcourse stores and shows the name that one way, so no
page reads "Revelare" where Docker Hub and another page read "revelare".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    _CharField = models.CharField[str | int | Combinable, str]
else:
    _CharField = models.CharField


def dockerhub_spelling(name: str) -> str:
    """The organisation's name as Docker Hub spells it."""
    return name.strip().lower()


class NamespaceField(_CharField):
    """An organisation's name, stored (and looked up) as Docker Hub spells it."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return dockerhub_spelling(value) if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = dockerhub_spelling(value)
            setattr(model_instance, self.attname, value)
        return value
