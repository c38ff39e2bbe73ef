"""Personal API tokens: make one (shown once), find its owner from a request, revoke it.

A token is ``hc_`` followed by 32 random bytes (base64url): the prefix makes a leaked token
recognisable to secret scanners and to people. The database holds only its SHA-256 digest,
so a stolen database copy grants nothing; 256 random bits need no slow hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiToken, User
from hubcourse.audit import Outcome, audit_record

TOKEN_PREFIX = "hc_"  # noqa: S105 (a marker, not a secret)
# Characters of the token kept in clear, prefix included, to tell tokens apart in a list.
SHOWN_CHARS = 10
# Recording every use would write to the database on every request; once a minute is enough
# to answer "is this token still used?".
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
HUBCOURSE = "hubcourse"  # the audit log's "service" for changes made inside hubcourse


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself (never stored, show it once)."""
    name = name.strip()
    if not name:
        raise ValueError("A token needs a name, so you can tell later what uses it.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:SHOWN_CHARS], digest=token_digest(raw)
        )
        audit_record(
            service=HUBCOURSE,
            action="api_token.create",
            target=f"{user.email}: {token.name}",
            outcome=Outcome.OK,
            actor=user,
        )
    return token, raw


def token_revoke(*, user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the user's own tokens at once; None when it is not theirs (or gone)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            return None
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                service=HUBCOURSE,
                action="api_token.revoke",
                target=f"{user.email}: {token.name}",
                outcome=Outcome.OK,
                actor=user,
            )
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token (with its user) that ``raw`` is, noting its use; None if unknown."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_access(*, user: User, reason: str, actor: User | None = None) -> int:
    """End every session of ``user`` and revoke all their API tokens; how many tokens.

    Called on a password reset or change, an email change and a role taken away: whoever
    held the account before keeps nothing that still works.
    """
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        audit_record(
            service=HUBCOURSE,
            action="account.revoke_access",
            target=user.email,
            outcome=Outcome.OK,
            actor=actor,
            message=f"{reason}: sessions ended, {revoked} API token(s) revoked",
        )
    return revoked
