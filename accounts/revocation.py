"""A password or email change takes back everything the account's earlier holder had.

Watched on the model, so every way in counts: allauth's password reset and change, an email
made primary, Django admin. Django ends other sessions on a password change by itself; the
API tokens (and, on an email change, the sessions) need this.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from accounts.tokens import revoke_access

_REASON = "_hubcourse_revoke_reason"


@receiver(pre_save, sender=User, dispatch_uid="accounts.revocation.pre_save")
def _note_credential_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    if instance.pk is None or kwargs.get("raw"):
        return
    before = User.objects.filter(pk=instance.pk).values("password", "email").first()
    if before is None:
        return
    # ``_password`` holds the new raw password only after set_password(): a hash upgraded at
    # sign-in (same password) is not a change of who holds the account.
    if before["password"] != instance.password and getattr(instance, "_password", None):
        setattr(instance, _REASON, "password changed")
    elif before["email"].lower() != instance.email.lower():
        setattr(instance, _REASON, "email address changed")


@receiver(post_save, sender=User, dispatch_uid="accounts.revocation.post_save")
def _revoke_after_credential_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    reason = getattr(instance, _REASON, None)
    if not reason:
        return
    delattr(instance, _REASON)

    revoke_access(user=instance, reason=reason)
    # Keep the object in step with the row, so a session renewed with this object (Django's
    # update_session_auth_hash after one's own password change) carries the new epoch.
    instance.session_epoch = User.objects.values_list("session_epoch", flat=True).get(
        pk=instance.pk
    )
