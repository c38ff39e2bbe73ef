"""Small helpers for sentences shown to people."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str = "") -> str:
    """ "1 student", "3 students": messages read as sentences, not "3 student(s)"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
