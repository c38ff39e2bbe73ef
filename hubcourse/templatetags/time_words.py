"""``{{ moment|ago }}``: how long ago, in words, with "just now" under a minute.

Django's ``timesince`` says "0 minutes" for anything under a minute, which pages showed as
"0 minutes ago" right after every action.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if moment is None:
        return ""
    now = now or timezone.now()
    if now - moment < dt.timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now)} ago"
