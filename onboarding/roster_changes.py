"""Roster changes one student at a time (the API's; the pages add students through a roster
import and correct them with ``courses.enrolment_correct``, which these call too).

Every refusal is a ``hubcourse.errors.ValidationError`` whose ``key`` names the input.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts import identifiers
from accounts.models import Course, Enrolment, User
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ValidationError
from onboarding.courses import course_apply, enrolment_correct

HUBCOURSE = "hubcourse"


_VALIDATORS = {
    "docker_id": identifiers.docker_id,
    "github_repo": identifiers.github_repo,
    "email": lambda value: identifiers.email(value) if value.strip() else identifiers.Cleaned(""),
    "name": identifiers.name,
    "identifier": identifiers.identifier,
}


def _clean(field: str, value: str) -> str:
    """The value in the domain's spelling; the refusal names ``field`` as the input."""
    try:
        return _VALIDATORS[field](value).value
    except ValidationError as error:
        raise error.keyed(field) from None


def enrolment_create(
    *,
    course: Course,
    actor: User,
    identifier: str,
    name: str = "",
    email: str = "",
    docker_id: str = "",
    github_repo: str = "",
) -> Enrolment:
    """Add one student to the roster, then plan and apply their onboarding."""
    if not identifier.strip():
        raise ValidationError("Give the student's email or number.", key="identifier")
    identifier = _clean("identifier", identifier)
    enrolment = Enrolment(
        course=course,
        identifier=identifier,
        name=_clean("name", name),
        email=_clean("email", email),
        docker_id=_clean("docker_id", docker_id),
        github_repo=_clean("github_repo", github_repo),
    )
    enrolment.full_clean(validate_unique=False, validate_constraints=False)
    _check_unique(course, enrolment)
    try:
        with transaction.atomic():
            enrolment.save()
            audit_record(
                service=HUBCOURSE,
                action="enrolment.create",
                target=enrolment.identifier,
                outcome=Outcome.OK,
                enrolment=enrolment,
                actor=actor,
            )
            course_apply(course=course, actor=actor, enrolment_ids=[enrolment.pk])
    except IntegrityError:
        # Someone added the same student in the meantime.
        _check_unique(course, enrolment)
        raise
    return enrolment


def _check_unique(course: Course, enrolment: Enrolment) -> None:
    others = course.enrolments.exclude(pk=enrolment.pk)
    if others.filter(identifier__iexact=enrolment.identifier).exists():
        raise ValidationError(
            f"{enrolment.identifier} is already on this course's roster.",
            key="identifier",
            value=enrolment.identifier,
        )
    if enrolment.docker_id and others.filter(docker_id=enrolment.docker_id).exists():
        raise ValidationError(
            f"Another student on this course has the Docker ID {enrolment.docker_id}.",
            key="docker_id",
            value=enrolment.docker_id,
        )


def enrolment_update(
    *,
    enrolment: Enrolment,
    actor: User,
    values: dict[str, str],
    reason: str = "",
) -> list[str]:
    """Change a student's details; returns what changed.

    A new Docker ID or repository is the pages' correction (onboarding starts over for
    it, in the audit log with ``reason``); name and email are plain roster details.
    """
    changed: list[str] = []
    cleaned = {
        field: _clean(field, values[field]) for field in ("name", "email") if field in values
    }
    details = {
        field: value for field, value in cleaned.items() if value != getattr(enrolment, field)
    }
    if details:
        for field, value in details.items():
            setattr(enrolment, field, value)
        enrolment.full_clean(validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            Enrolment.objects.filter(pk=enrolment.pk).update(**details)
            audit_record(
                service=HUBCOURSE,
                action="enrolment.update",
                target=enrolment.identifier,
                outcome=Outcome.OK,
                enrolment=enrolment,
                actor=actor,
                message="changed " + ", ".join(details),
            )
        changed += list(details)
    if "docker_id" in values or "github_repo" in values:
        docker_id = _clean("docker_id", values.get("docker_id", enrolment.docker_id))
        github_repo = _clean("github_repo", values.get("github_repo", enrolment.github_repo))
        if docker_id != enrolment.docker_id:
            enrolment.docker_id = docker_id
            _check_unique(enrolment.course, enrolment)
            enrolment.refresh_from_db(fields=["docker_id"])
        changed += enrolment_correct(
            enrolment=enrolment,
            actor=actor,
            docker_id=docker_id,
            github_repo=github_repo,
            reason=reason,
        )
    return changed


def enrolment_delete(*, enrolment: Enrolment, actor: User) -> None:
    """Take a student off the roster. Docker Hub is left as it is: offboarding removes
    members and repositories, with its safeguards."""
    with transaction.atomic():
        audit_record(
            service=HUBCOURSE,
            action="enrolment.delete",
            target=enrolment.identifier,
            outcome=Outcome.OK,
            course=enrolment.course,
            actor=actor,
            message=f"Docker ID {enrolment.docker_id or '(none)'}",
        )
        enrolment.delete()
