"""The one set of rules for Docker IDs, emails, GitHub repositories, names and bulk-add
entries (accounts.identifiers): every spelling people write, and every refusal in words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts import identifiers
from hubcourse.errors import ValidationError


@pytest.mark.parametrize(
    "typed",
    [
        "ada/docker-course",
        "github.com/ada/docker-course",
        "www.github.com/ada/docker-course",
        "https://github.com/ada/docker-course",
        "http://www.github.com/ada/docker-course/",
        "https://github.com/ada/docker-course.git",
        "https://github.com/ada/docker-course/tree/main",
        "https://github.com/ada/docker-course/tree/main/app",
        "git@github.com:ada/docker-course.git",
        "ssh://git@github.com/ada/docker-course",
        "  ada/docker-course/  ",
    ],
)
def test_a_github_repository_is_read_in_every_usual_spelling(typed: str) -> None:
    cleaned = identifiers.github_repo(typed)

    assert cleaned.value == "ada/docker-course"
    assert cleaned.changed == (typed != "ada/docker-course")


def test_a_repository_url_says_what_was_changed() -> None:
    cleaned = identifiers.github_repo("https://github.com/ada/docker-course/tree/main")

    assert [(c.before, c.after, c.why) for c in cleaned.changes] == [
        (
            "https://github.com/ada/docker-course/tree/main",
            "ada/docker-course",
            "address -> owner/repo",
        )
    ]


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("https://gitlab.com/ada/docker-course", "gitlab.com"),
        ("gitlab.com/ada/docker-course", "gitlab.com"),
        ("git@bitbucket.org:ada/docker-course.git", "bitbucket.org"),
    ],
)
def test_another_host_is_refused_by_its_name(typed: str, host: str) -> None:
    with pytest.raises(ValidationError, match=f"{host} is not GitHub") as raised:
        identifiers.github_repo(typed)
    assert raised.value.field == "GitHub repository" and raised.value.value == typed


@pytest.mark.parametrize(
    "typed",
    [
        "ada-/docker-course",  # an owner ends with a hyphen
        "-ada/docker-course",  # or starts with one
        "ad--a/docker-course",  # two hyphens in a row
        "a" * 40 + "/docker-course",  # over 39
        "ada\nlovelace/docker-course",  # a line break inside
        "ada/" + "r" * 101,  # a name over 100
        "ada/docker course",
        "ada/..",
        "docker-course",
        "ada/",
    ],
)
def test_github_owner_and_repository_rules_are_githubs(typed: str) -> None:
    with pytest.raises(ValidationError):
        identifiers.github_repo(typed)


@pytest.mark.parametrize("typed", ["https://[github.com/ada/docker-course", "[x.y/ada/app"])
def test_an_address_no_browser_would_open_is_refused_in_words(typed: str) -> None:
    # urlsplit raises ValueError ("Invalid IPv6 URL") on an unbalanced [ (found by hypothesis).
    with pytest.raises(ValidationError, match="not an address a browser would open"):
        identifiers.github_repo(typed)


def test_github_owners_follow_githubs_rule() -> None:
    assert identifiers.github_owner("a-b-c") == "a-b-c"
    assert identifiers.github_owner("a" * 39) == "a" * 39
    for bad in ("a-", "-a", "a--b", "a" * 40, "a_b", ""):
        with pytest.raises(ValidationError):
            identifiers.github_owner(bad)


def test_a_docker_id_is_lower_cased_and_trimmed_with_the_changes_said() -> None:
    cleaned = identifiers.docker_id("  AdaLovelace ")

    assert cleaned.value == "adalovelace"
    assert [c.why for c in cleaned.changes] == ["trimmed", "lower-cased"]


@pytest.mark.parametrize("typed", ["ab", "a" * 31, "ada_lovelace", "ada lovelace", "adä1234"])
def test_a_docker_id_breaking_docker_hubs_rule_is_refused_with_the_rule(typed: str) -> None:
    with pytest.raises(ValidationError, match="4 to 30 lower-case letters and digits"):
        identifiers.docker_id(typed)


def test_an_email_longer_than_its_column_is_refused_before_the_database_sees_it() -> None:
    address = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"  # 320-ish, valid shape

    with pytest.raises(ValidationError, match="at most 254 fit"):
        identifiers.email(address)


def test_nul_and_control_characters_are_removed_and_said() -> None:
    cleaned = identifiers.name("Ada\x00 Love\x07lace")

    assert cleaned.value == "Ada Lovelace"
    assert "control characters removed" in [c.why for c in cleaned.changes]


def test_bidirectional_controls_are_removed_with_a_warning() -> None:
    cleaned = identifiers.name("Ada \u202eecalevol")

    assert "\u202e" not in cleaned.value
    assert cleaned.warnings and "bidirectional" in cleaned.warnings[0]


def test_a_name_that_looks_like_a_formula_is_kept_with_a_warning() -> None:
    cleaned = identifiers.name('=HYPERLINK("x")')

    assert cleaned.value == '=HYPERLINK("x")'
    assert "formula" in cleaned.warnings[0]


def test_a_name_longer_than_its_column_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most 200 fit"):
        identifiers.name("x" * 201)


@pytest.mark.parametrize(
    ("typed", "invitee"),
    [
        ("Alice Example <alice@example.edu>", "alice@example.edu"),
        ('"Example, Alice" <Alice@Example.EDU>', "alice@example.edu"),
        ("AdaLovelace", "adalovelace"),
        ("<ada@example.edu>", "ada@example.edu"),
    ],
)
def test_a_bulk_entry_gives_the_email_of_name_and_email(typed: str, invitee: str) -> None:
    assert identifiers.invitee(typed).value == invitee


def test_a_bulk_entry_with_a_space_is_one_refused_entry() -> None:
    with pytest.raises(ValidationError, match="holds a space"):
        identifiers.invitee("Bad ID!")


VALIDATORS = [
    identifiers.docker_id,
    identifiers.github_repo,
    identifiers.email,
    identifiers.name,
    identifiers.identifier,
    identifiers.invitee,
]


@pytest.mark.django_db
@given(value=st.text(), which=st.sampled_from(VALIDATORS))
def test_no_text_makes_a_validator_fail_other_than_in_words(value: str, which: object) -> None:
    assert callable(which)
    try:
        cleaned = which(value)
    except ValidationError as error:
        assert str(error)
        return
    # Whatever is accepted fits a database text column and is said to be what it is.
    assert "\x00" not in cleaned.value
    assert cleaned.value == cleaned.value.strip()
    # Normalising twice changes nothing more.
    assert which(cleaned.value).value == cleaned.value
