"""Course roles are invitations: a signed, expiring link sent to the address.

The role attaches only to the account that opens the link signed in with that very address,
verified (allauth's ``EmailAddress``). An account registered in advance under someone else's
address, never verified, gains nothing; nor does anyone who merely learns the link.
"""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, CourseRole, Enrolment, RoleInvitation, User
from hubcourse.audit import Outcome, audit_record

SALT = "accounts.role_invitation"
HUBCOURSE = "hubcourse"


class InvitationRefused(ValueError):
    """The link cannot give a role (expired, used, revoked, or the wrong or unverified
    address); the message says which, in words."""


def invitation_lifetime() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "ROLE_INVITATION_DAYS", 7)))


def invitation_token(invitation: RoleInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "e": invitation.email}, salt=SALT)


def invitation_url(invitation: RoleInvitation) -> str:
    path = reverse("role_accept", args=[invitation_token(invitation)])
    return f"{str(settings.SITE_URL).rstrip('/')}{path}"


def invitation_from_token(token: str) -> RoleInvitation | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=invitation_lifetime())
    except signing.BadSignature:
        return None
    pk = data.get("i") if isinstance(data, dict) else None
    if not isinstance(pk, int):
        return None
    invitation = RoleInvitation.objects.select_related("course").filter(pk=pk).first()
    if invitation is None or invitation.email != data.get("e"):
        return None
    return invitation


def role_invite(*, course: Course, actor: User, email: str, role: str) -> RoleInvitation:
    """Offer ``role`` to ``email``: earlier pending offers for it are replaced, the link sent."""
    email = email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        RoleInvitation.objects.filter(
            course=course, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = RoleInvitation.objects.create(
            course=course,
            email=email,
            role=role,
            created_by=actor,
            expires_at=now + invitation_lifetime(),
        )
        audit_record(
            service=HUBCOURSE,
            action="role.invite",
            target=email,
            outcome=Outcome.OK,
            course=course,
            actor=actor,
            message=f"{invitation.get_role_display()}: invitation sent, valid until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M}",
        )
        link = invitation_url(invitation)
        transaction.on_commit(
            lambda: send_mail(
                f"You are invited to help run {course.name}",
                f"{actor} invited you to be {invitation.get_role_display().lower()} of "
                f"{course.name} on hubcourse.\n\nOpen this link and sign in as {email} "
                f"(the address must be verified) to accept:\n{link}\n\n"
                f"The link works until {invitation.expires_at:%Y-%m-%d %H:%M} UTC. If you "
                "did not expect it, ignore this email.",
                None,
                [email],
            )
        )
    return invitation


def _verified(user: User, email: str) -> bool:

    return bool(EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists())


def role_invitation_accept(*, token: str, user: User) -> CourseRole:
    """Attach the invitation's role to ``user``, who must hold its address, verified."""
    invitation = invitation_from_token(token)
    if invitation is None:
        raise InvitationRefused(
            "This invitation link is not valid or has expired: ask the instructor to send a "
            "new one."
        )
    if not invitation.is_pending:
        raise InvitationRefused(
            "This invitation was already used, withdrawn or has expired: ask the instructor "
            "to send a new one."
        )
    if user.email.lower() != invitation.email or not _verified(user, invitation.email):
        raise InvitationRefused(
            f"This invitation is for {invitation.email}: sign in with that address and verify "
            "it (the email settings page sends the link), then open the invitation again."
        )
    course = invitation.course
    with transaction.atomic():
        locked = RoleInvitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending:
            raise InvitationRefused("This invitation was used a moment ago.")
        if Enrolment.objects.filter(course=course, user=user).exists():
            raise InvitationRefused(
                "You are a student on this course, and a student cannot also be its staff."
            )
        role, _ = CourseRole.objects.update_or_create(
            course=course, user=user, defaults={"role": locked.role}
        )
        RoleInvitation.objects.filter(pk=locked.pk).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        audit_record(
            service=HUBCOURSE,
            action="role.accept",
            target=user.email,
            outcome=Outcome.OK,
            course=course,
            actor=user,
            message=role.get_role_display(),
        )
    return role
