"""The course refuses image tags Docker would refuse and branches Git would refuse, in
words, in the one home of the course rules (the page and the API say the same)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from accounts.course_rules import branch_problem, course_validate, tag_problem
from accounts.models import Course
from hubcourse.errors import ValidationError

BRANCHES = [
    "main",
    "week-1",
    "feature/login",
    "week+1",
    "release_2026.1",
    "é",
    "feature..x",
    "a.lock",
    "x/.hidden",
    "a@{b",
    "-x",
    "HEAD",
    "a/",
    "/a",
    "x.",
    "a//b",
    ".x",
    "x:y",
    "a~1",
    "a^b",
    "a?b",
    "a*b",
    "a[b",
    "a\\b",
    "a\x01b",
    "a\x7fb",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("branch", BRANCHES)
def test_a_branch_is_refused_exactly_when_git_refuses_it(branch: str) -> None:
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", branch],
        capture_output=True,
        check=False,
    )

    assert bool(branch_problem(branch)) == (git.returncode != 0), branch_problem(branch)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("latest", True),
        ("week1", True),
        ("_x", True),
        ("v1.2.3-rc_1", True),
        ("A" * 128, True),
        ("A" * 129, False),
        (".hidden", False),
        ("-x", False),
        ("week 1", False),
        ("a:b", False),
        ('x"y', False),
        ("x\ny", False),
        ("", False),
        ("é", False),
    ],
)
def test_a_tag_is_refused_exactly_when_docker_refuses_it(tag: str, ok: bool) -> None:
    assert (tag_problem(tag) == "") == ok


def test_a_course_names_the_broken_tag_and_branch_in_words(db: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        course_validate(
            {"name": "Networks", "build_tag": "week:1", "build_branch": "feature..x"},
            course=None,
        )

    problems = {p.key: str(p) for p in caught.value.problems}
    assert problems == {
        "build_tag": (
            "Docker refuses this tag: use letters, digits, _ . and -, not starting with . "
            "or -, like latest or week1."
        ),
        "build_branch": "Git refuses .. in a branch name.",
    }


def test_a_branch_with_a_space_is_told_once(course: Course) -> None:
    with pytest.raises(ValidationError) as caught:
        course_validate({"build_branch": "my branch"}, course=course)

    assert [(p.key, str(p)) for p in caught.value.problems] == [
        ("build_branch", "No spaces, please.")
    ]
