"""What each course made on Docker Hub, and what a site admin told it to adopt.

Every creation point records here (``record_created``); anything hubcourse finds already
there is recorded as ``found`` (``record_found``) and is neither changed nor removed until a
site admin adopts it (``adopt``). ``owned`` is the one question the engine and offboarding
ask before touching a repository or a member.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Course, ManagedResource, User
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import PermanentError

Kind = ManagedResource.Kind
Origin = ManagedResource.Origin


class AdoptionRefused(PermissionError):
    """Only a site admin may tell hubcourse to take over something it did not make."""


class NotOurs(PermanentError):
    """Something by the name the course wants already exists, and the course did not make it."""

    def __init__(self, service: str, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(service, f"create {kind} {name}", None, "already exists")

    def __str__(self) -> str:
        return (
            f"{self.service} already has a {self.kind} named {self.name}, which this course "
            "did not create: hubcourse leaves it alone until a site admin adopts it for the "
            "course (Django admin, Managed resources)."
        )


def _key(name: str) -> str:
    return name.strip().lower()


def record_created(course: Course, kind: str, name: str, external_id: str = "") -> None:
    """The course made ``name``: it may change and remove it from now on.

    A row already there (found, or made before) becomes ``created`` only when it was not
    found first: something found stays found until adopted, even if a later create call
    happens to succeed against a name freed in between.
    """
    key = _key(name)
    try:
        with transaction.atomic():
            row, made = ManagedResource.objects.get_or_create(
                course=course,
                kind=kind,
                name=key,
                defaults={"external_id": external_id, "origin": Origin.CREATED},
            )
    except IntegrityError:  # a concurrent creator recorded it first
        return
    if not made and external_id and row.external_id != external_id:
        ManagedResource.objects.filter(pk=row.pk).update(external_id=external_id)


def record_intent(course: Course, kind: str, name: str) -> bool:
    """The course is about to create ``name``: recorded as made before the call, and
    committed (call it outside a transaction), so a worker killed before Docker Hub's answer
    arrives leaves the name known as this course's and the next attempt reads it back
    instead of stopping on its own creation. True when this call recorded it (nothing was
    recorded for the name before): then an "already exists" answer means someone else's,
    and ``forget_intent`` takes the record back.
    """
    try:
        with transaction.atomic():
            _, made = ManagedResource.objects.get_or_create(
                course=course, kind=kind, name=_key(name), defaults={"origin": Origin.CREATED}
            )
    except IntegrityError:  # a concurrent attempt recorded it first
        return False
    return made


def forget_intent(course: Course, kind: str, name: str) -> None:
    """The create that ``record_intent`` announced made nothing (refused, or the name was
    someone else's)."""
    ManagedResource.objects.filter(
        course=course, kind=kind, name=_key(name), origin=Origin.CREATED
    ).delete()


def record_found(course: Course, kind: str, name: str, external_id: str = "") -> None:
    """``name`` already existed and the course did not make it: it waits for adoption."""
    try:
        with transaction.atomic():
            ManagedResource.objects.get_or_create(
                course=course,
                kind=kind,
                name=_key(name),
                defaults={"external_id": external_id, "origin": Origin.FOUND},
            )
    except IntegrityError:
        return


def owned(course: Course, kind: str, name: str) -> bool:
    return ManagedResource.objects.filter(
        course=course, kind=kind, name=_key(name), origin__in=(Origin.CREATED, Origin.ADOPTED)
    ).exists()


def owned_names(course: Course, kind: str, names: Iterable[str] | None = None) -> set[str]:
    """The names (lower case) of this kind the course made or adopted, among ``names``."""
    rows = ManagedResource.objects.filter(
        course=course, kind=kind, origin__in=(Origin.CREATED, Origin.ADOPTED)
    )
    if names is not None:
        rows = rows.filter(name__in={_key(n) for n in names})
    return set(rows.values_list("name", flat=True))


def found(course: Course, kind: str, name: str) -> bool:
    return ManagedResource.objects.filter(
        course=course, kind=kind, name=_key(name), origin=Origin.FOUND
    ).exists()


def adopt(resource: ManagedResource, *, by: User) -> None:
    """A site admin's confirmation that the course may take ``resource`` over."""
    if not (by.is_active and by.is_superuser):
        raise AdoptionRefused(
            f"Only a site admin can let {resource.course} take over {resource.kind} "
            f"{resource.name}, which it did not create."
        )
    now = timezone.now()
    ManagedResource.objects.filter(pk=resource.pk).update(
        origin=Origin.ADOPTED, adopted_by=by, adopted_at=now
    )
    audit_record(
        service="hubcourse",
        action=f"{resource.kind}.adopt",
        target=resource.name,
        outcome=Outcome.OK,
        course=resource.course,
        actor=by,
        message="adopted: it existed before and a site admin confirmed the course may manage it",
    )
