"""``{{ moment|ago }}`` and ``{{ length|duration }}``: the one way pages say when and how long
(see hubcourse/text.py): "just now", "3 minutes ago"; "2 s", "1 min 5 s"."""

from __future__ import annotations

import datetime as dt

from django import template

from hubcourse import text
from hubcourse.audit import action_words as audit_action_words

register = template.Library()


@register.filter
def ago(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    return text.ago(moment, now)


@register.filter
def duration(length: dt.timedelta | float | None) -> str:
    return text.duration(length)


@register.filter
def action_words(action: str) -> str:
    """``{{ event.action|action_words }}``: the audit action in words (hubcourse.audit)."""
    return audit_action_words(action)
