"""A GitHub repository name goes into the path of every call made with the course's token;
``.`` and ``..`` would walk that path to another endpoint (HTTP clients resolve dot segments),
and GitHub allows neither as a name. The one validator (used by the roster, the correction
form, the student's own form and the API) refuses them."""

from __future__ import annotations

import pytest

from accounts.identifiers import github_repo
from hubcourse.errors import ValidationError


@pytest.mark.parametrize(
    "typed",
    [
        "alice/..",
        "alice/.",
        "alice/...git",
        "alice/..git",
        "https://github.com/alice/..",
        "https://github.com/alice/../x",
    ],
)
def test_a_dot_segment_is_refused_as_a_repository_name(typed: str) -> None:
    with pytest.raises(ValidationError, match="not a valid GitHub repository"):
        github_repo(typed)


def test_names_with_dots_inside_are_still_repositories() -> None:
    assert github_repo("alice/my.docker..lab").value == "alice/my.docker..lab"
    assert github_repo("https://github.com/alice/.dotfiles.git").value == "alice/.dotfiles"
