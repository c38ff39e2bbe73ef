"""Counts in messages read as sentences."""

from __future__ import annotations

from hubcourse.text import counted


def test_one_is_singular_and_others_plural() -> None:
    assert [counted(n, "student") for n in (0, 1, 2)] == ["0 students", "1 student", "2 students"]


def test_an_irregular_plural_is_given() -> None:
    assert counted(3, "entry", "entries") == "3 entries"
