"""Typed access to what a backend keeps per student: ``StudentRepository.build_data``.

The column belongs to the build backends alone (nothing else reads or writes it). Each
backend keeps its own part under its own key as a :class:`BackendData` model, so what only
one backend needs lives with that backend and a new backend needs no migration.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from django.db import transaction
from django.db.models import Q
from pydantic import BaseModel, ConfigDict

from repositories.models import StudentRepository


class BackendData(BaseModel):
    """One backend's part of ``build_data``; ``key`` names it in the column."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    key: ClassVar[str]


_D = TypeVar("_D", bound=BackendData)


def read(repository: StudentRepository, model: type[_D]) -> _D:
    raw = (repository.build_data or {}).get(model.key)
    return model.model_validate(raw) if isinstance(raw, dict) else model()


def update(repository: StudentRepository, model: type[_D], **changes: Any) -> _D:
    """Change some values of ``model``'s part at once, and on ``repository`` in memory."""
    with transaction.atomic():
        # Locked, so two workers writing different parts never lose one another's write.
        current = (
            StudentRepository.objects.select_for_update()
            .filter(pk=repository.pk)
            .values_list("build_data", flat=True)
            .first()
        )
        data: dict[str, Any] = dict(current or {})
        part = model.model_validate({**(data.get(model.key) or {}), **changes})
        data[model.key] = part.model_dump(mode="json")
        StudentRepository.objects.filter(pk=repository.pk).update(build_data=data)
    repository.build_data = data
    return part


def clear(repository: StudentRepository, *models: type[BackendData]) -> None:
    """Forget the parts of ``models`` (all parts when none is named)."""
    with transaction.atomic():
        current = (
            StudentRepository.objects.select_for_update()
            .filter(pk=repository.pk)
            .values_list("build_data", flat=True)
            .first()
        )
        data: dict[str, Any] = dict(current or {}) if models else {}
        for model in models:
            data.pop(model.key, None)
        StudentRepository.objects.filter(pk=repository.pk).update(build_data=data)
    repository.build_data = data


class AppliedBuild(BackendData):
    """What the student's build was last set up to do, whatever the backend: the course's
    build settings as ``configure`` last made them so. The plan compares them with the
    course's to say what a settings change moves (``tag latest -> week1``); blank
    ``backend`` means nothing recorded yet (a build set up before this was kept)."""

    key: ClassVar[str] = "applied"
    # Set (by a migration) on builds set up before this was kept: the next plan checks them
    # once against the course, since nobody knows what they were set up with.
    verify: bool = False
    backend: str = ""
    branch: str = ""
    dockerfile: str = ""
    context: str = ""
    tag: str = ""


class PushHooks(BackendData):
    """hubcourse's webhooks on the student's repositories (both backends may add them)."""

    key: ClassVar[str] = "hooks"
    github_hook_id: int | None = None
    dockerhub_webhook: str = ""


def without_github_hook() -> Q:
    """Repositories with no webhook of hubcourse's on GitHub (for queries: the key missing
    from ``build_data``, or stored empty)."""
    return Q(build_data__hooks__github_hook_id__isnull=True) | Q(
        build_data__hooks__github_hook_id=None
    )
