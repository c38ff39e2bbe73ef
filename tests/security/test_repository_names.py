"""A GitHub repository name goes into the path of every call made with the course's token;
``.`` and ``..`` would walk that path to another endpoint (HTTP clients resolve dot segments),
and GitHub allows neither as a name. The roster, the correction form and the student's own
form all refuse them."""

from __future__ import annotations

import pytest

from accounts.roster import normalise_github_repo
from onboarding.joining import parse_github_repo


@pytest.mark.parametrize("typed", ["alice/..", "alice/.", "alice/...git", "alice/..git"])
def test_the_roster_refuses_a_dot_segment_as_a_repository_name(typed: str) -> None:
    with pytest.raises(ValueError, match="not a valid GitHub repository"):
        normalise_github_repo(typed)


@pytest.mark.parametrize("typed", ["alice/..", "alice/.", "alice/...git", "alice/..git"])
def test_the_students_form_refuses_them_too(typed: str) -> None:
    assert parse_github_repo(typed) is None


def test_names_with_dots_inside_are_still_repositories() -> None:
    assert normalise_github_repo("alice/my.docker..lab") == "alice/my.docker..lab"
    assert normalise_github_repo("https://github.com/alice/.dotfiles.git") == "alice/.dotfiles"
