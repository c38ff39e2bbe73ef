"""Registered organisations: which Docker Hub organisation a course may run on, and with
which credentials hubcourse acts in it.

A site admin registers an organisation with its Docker Hub credentials and its paid seats,
and grants instructors the right to run courses on it. The settings' organisation
(DOCKERHUB_ORG) is registered on first use, so a fresh deployment, ``make run`` and the demo
keep working; the site-wide credentials act for it and for no other.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Course, Organisation, User
from hubcourse.errors import PermanentError, ValidationError
from hubcourse.text import counted
from integrations.dockerhub.client import SERVICE


class OrganisationNotUsable(PermanentError):
    """hubcourse may not act in this organisation until a site admin registers it (or gives
    it credentials); retrying will not help."""

    def __init__(self, organisation: str, message: str) -> None:
        super().__init__(SERVICE, f"act in {organisation}", None, message)

    def __str__(self) -> str:
        return self.message


def _is_site_organisation(name: str) -> bool:
    return bool(name) and name.lower() == str(settings.DOCKERHUB_ORG).lower()


def site_organisation() -> Organisation:
    """The settings' organisation, registered now if it is not yet (with the seats of the
    DOCKERHUB_SEATS setting, when given)."""
    name = str(settings.DOCKERHUB_ORG)
    found = Organisation.objects.filter(name__iexact=name).first()
    if found is not None:
        return found
    seats = int(settings.DOCKERHUB_SEATS or 0) or None
    try:
        with transaction.atomic():
            return Organisation.objects.create(name=name, seats=seats)
    except IntegrityError:  # registered at the same moment by another request
        return Organisation.objects.get(name__iexact=name)


def registered(name: str) -> Organisation | None:
    """The registered organisation of this name (any case), or ``None``."""
    if _is_site_organisation(name):
        return site_organisation()
    return Organisation.objects.filter(name__iexact=name).first()


def dockerhub_credentials(organisation: str) -> tuple[str, str]:
    """(identifier, secret) that act in a registered organisation: its own stored token, or
    the site-wide credentials for the settings' organisation only.

    Raises ``OrganisationNotUsable`` (a permanent error, in words) otherwise."""
    org = registered(organisation)
    if org is None:
        raise OrganisationNotUsable(
            organisation,
            f"The organisation {organisation} is not registered in hubcourse, so hubcourse "
            "does not act in it: a site administrator registers it with its Docker Hub "
            "credentials, or the course stores its own token.",
        )
    secret = org.dockerhub_token.reveal() if org.dockerhub_token else ""
    if secret:
        return (org.dockerhub_username or org.name, secret)
    if _is_site_organisation(org.name):
        return (str(settings.DOCKERHUB_USERNAME), str(settings.DOCKERHUB_TOKEN))
    raise OrganisationNotUsable(
        organisation,
        f"The organisation {org.name} is registered without Docker Hub credentials: a site "
        "administrator stores its access token on its registration.",
    )


def organisations_for(user: User) -> list[Organisation]:
    """The organisations this person may run courses on: every registered one for a site
    admin, the granted ones for anyone else."""
    if not (user.is_authenticated and user.is_active):
        return []
    if user.is_site_admin:
        site_organisation()
        return list(Organisation.objects.order_by("name"))
    return list(user.granted_organisations.order_by("name"))


def may_run_courses_on(user: User, organisation: Organisation) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_site_admin or organisation.instructors.filter(pk=user.pk).exists()


def grant(organisation: Organisation, user: User) -> None:
    organisation.instructors.add(user)


def organisation_choose(*, actor: User, value: str, course: Course | None) -> str:
    """The organisation a course will run on, as registered, or ``ValidationError`` (key
    ``organisation``) saying why not: not registered, not granted to the actor, or a course
    that has students already (their invitations, teams and repositories are in the old one).

    A stored course that keeps its organisation is not checked again."""
    value = (value or "").strip()
    if course is not None and value.lower() == course.organisation.lower():
        return str(course.organisation)
    org = registered(value) if value else None
    if org is None:
        raise ValidationError(
            f"{value or 'An empty name'} is not a registered organisation: choose one of "
            "those a site administrator granted you.",
            key="organisation",
            value=value,
        )
    if not may_run_courses_on(actor, org):
        raise ValidationError(
            f"You may not run courses on {org.name}: a site administrator grants that right "
            "per organisation.",
            key="organisation",
            value=value,
        )
    if course is not None:
        students = course.enrolments.count()
        if students:
            raise ValidationError(
                f"The organisation cannot change: the course has {counted(students, 'student')}, "
                f"whose invitations, teams and repositories are in {course.organisation}. "
                "Offboard them first, or start a new course on the other organisation.",
                key="organisation",
                value=value,
            )
    return str(org.name)
