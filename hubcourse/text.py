"""Small helpers for sentences shown to people."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

MINUTE = dt.timedelta(minutes=1)


def counted(n: int, singular: str, plural: str = "") -> str:
    """ "1 student", "3 students": messages read as sentences, not "3 student(s)"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def duration(length: dt.timedelta | float | None) -> str:
    """How long something took, the one way every page says it: "2 s", "1 min 5 s",
    "1 h 3 min". Nothing is said of no length or of a negative one (clocks that disagree)."""
    if length is None:
        return ""
    seconds = int(length.total_seconds() if isinstance(length, dt.timedelta) else length)
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def ago(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """When something happened, the one way every page says it: "just now" under a minute
    (Django's ``timesince`` said "0 minutes"), then "3 minutes ago", "2 hours, 5 minutes ago".
    A moment ahead of the clock reads "in 3 minutes"."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if moment > now:
        return "in " + timeuntil(moment, now) if moment - now >= MINUTE else "in a moment"
    if now - moment < MINUTE:
        return "just now"
    return f"{timesince(moment, now)} ago"
