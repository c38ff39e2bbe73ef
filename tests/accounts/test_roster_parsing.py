"""The one reader of rosters and pasted lists (accounts.roster_parsing), one test per case
of issue 17, and arbitrary bytes and text fed to it."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.roster_parsing import (
    Existing,
    RosterError,
    Row,
    Status,
    classify,
    decode,
    parse_invitees,
    parse_roster,
)

SIX = {s.value for s in Status}


def _rows(data: bytes | str) -> dict[int, Row]:
    return {row.line: row for row in classify(parse_roster(data).rows, [])}


# -- bulk add ------------------------------------------------------------------------------------


def test_bulk_add_takes_one_entry_per_line_and_spaces_never_split_one() -> None:
    entries = parse_invitees(
        "Alice Example <alice@example.edu>\nBad ID!\nadalovelace\n", as_csv=False
    )

    assert [(e.line, e.invitee, e.status) for e in entries] == [
        (1, "alice@example.edu", Status.CHANGED),  # never "alice" and "example"
        (2, "", Status.ERROR),  # one error row, not two
        (3, "adalovelace", Status.OK),
    ]
    assert "Line 2" in entries[1].message and "holds a space" in entries[1].message


def test_commas_and_semicolons_also_separate_and_rows_keep_the_pasted_line() -> None:
    entries = parse_invitees(
        '\nada12345, alan1234; grace123\n\n"Doe, Jane" <jane@uni.example>', as_csv=False
    )

    assert [(e.line, e.position, e.invitee) for e in entries] == [
        (2, 1, "ada12345"),
        (2, 2, "alan1234"),
        (2, 3, "grace123"),
        (4, 1, "jane@uni.example"),
    ]


def test_a_repeat_in_a_bulk_list_names_both_lines() -> None:
    entries = parse_invitees("ada12345\nADA12345", as_csv=False)

    assert entries[1].status == Status.DUPLICATE
    assert "lines 1 and 2" in entries[1].message


def test_a_pasted_header_line_is_not_invited_as_a_docker_id() -> None:
    entries = parse_invitees("email\nada@uni.example", as_csv=False)

    assert [e.invitee for e in entries] == ["ada@uni.example"]


def test_a_bulk_csv_prefers_the_docker_id_column_and_counts_lines_of_the_file() -> None:
    entries = parse_invitees(
        b"ID,E-mail Address,Docker ID\n1,a@uni.example,ada12345\n", as_csv=True
    )

    assert [(e.line, e.invitee) for e in entries] == [(2, "ada12345")]


# -- every row gets a status ------------------------------------------------------------------------


def test_changed_rows_say_before_and_after() -> None:
    rows = _rows(
        "identifier,name,docker_id,github_repo\n A@Uni.example ,Ann,ANN12345,https://github.com/ann/lab\n"
    )

    row = rows[2]
    assert row.status == Status.CHANGED
    assert (row.identifier, row.docker_id, row.github_repo) == (
        "a@uni.example",
        "ann12345",
        "ann/lab",
    )
    whys = {(column, why) for column, _, _, why in row.changes}
    assert {
        ("identifier", "trimmed"),
        ("identifier", "lower-cased"),
        ("Docker ID", "lower-cased"),
    } <= whys
    assert [
        "GitHub repository",
        "https://github.com/ann/lab",
        "ann/lab",
        "address -> owner/repo",
    ] in row.changes


def test_control_characters_are_removed_and_said() -> None:
    row = _rows("identifier,name\ns1,Ann\x07 Student\n")[2]

    assert row.name == "Ann Student" and row.status == Status.CHANGED
    assert any(why == "control characters removed" for *_, why in row.changes)


def test_bidirectional_characters_are_a_warning() -> None:
    row = _rows("identifier,name\ns1,Ann \u202eStudent\n")[2]

    assert row.status == Status.WARNING and "\u202e" not in row.name
    assert "bidirectional" in row.warnings[0]


def test_a_name_that_looks_like_a_formula_is_a_warning() -> None:
    row = _rows("identifier,name\ns1,=1+2\n")[2]

    assert row.status == Status.WARNING and row.name == "=1+2"


def test_a_classroom_student_not_linked_to_github_is_a_warning() -> None:
    text = "identifier,github_username,github_id,name\ns1,,,Ann\ns2,bob-gh,42,Bob\n"
    rows = {
        row.line: row
        for row in classify(
            parse_roster(text, classroom_repo_template="c/lab-{github_username}").rows, []
        )
    }

    assert rows[2].status == Status.WARNING and "not linked to GitHub yet" in rows[2].warnings[0]
    assert (rows[3].status, rows[3].github_repo) == (Status.OK, "c/lab-bob-gh")


def test_an_error_names_the_line_the_column_the_value_and_the_rule() -> None:
    row = _rows("identifier,name,docker_id\ns1,Ann,no\n")[2]

    assert row.status == Status.ERROR
    assert row.reason == (
        "line 2, column 3 (docker_id): 'no' is not a Docker ID: they are 4 to 30 lower-case "
        "letters and digits"
    )


def test_a_duplicate_names_both_lines_and_is_never_a_second_student() -> None:
    rows = _rows("identifier,name\ns1,Ann\nS1,Ann again\n")

    assert rows[2].status == Status.OK and rows[3].status == Status.DUPLICATE
    assert "lines 2 and 3" in rows[3].reason


def test_a_duplicate_of_a_docker_id_on_the_roster_names_its_owner() -> None:
    rows = classify(
        parse_roster("identifier,docker_id\ns2,ann12345\n").rows,
        [Existing(1, "s1", "Ann", "", "ann12345", "")],
    )

    assert rows[0].status == Status.DUPLICATE and "belongs to s1" in rows[0].reason


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("identifier,name\n\ns1,Ann\n", 2, "blank line"),
        ("sep=,\nidentifier,name\ns1,Ann\n", 1, "Excel's sep=, line"),
        ("identifier,name\n-----,-----\ns1,Ann\n", 2, "a separator line"),
        ("identifier,name\n=====\ns1,Ann\n", 2, "a separator line"),
    ],
)
def test_blank_sep_and_separator_lines_are_skipped_and_said(text: str, line: int, why: str) -> None:
    rows = _rows(text)

    assert (rows[line].status, rows[line].reason) == (Status.SKIPPED, why)
    assert [r.identifier for r in rows.values() if r.status == Status.OK] == ["s1"]


def test_a_sep_line_names_the_delimiter() -> None:
    parsed = parse_roster("sep=;\nidentifier;name\ns1;Doe, Ann\n")

    assert parsed.delimiter == ";"
    assert [r.name for r in parsed.rows if r.identifier] == ["Doe, Ann"]


def test_an_lms_points_and_test_student_rows_are_skipped() -> None:
    text = (
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "Points Possible,,,,\n"
        '"Student, Test",9,,,S1\n'
        '"Lovelace, Ada",1,2023001,ada@uni.example,S1\n'
    )
    rows = _rows(text)

    assert rows[2].status == rows[3].status == Status.SKIPPED
    assert (rows[4].status, rows[4].name) == (Status.OK, "Ada Lovelace")


def test_a_row_with_more_cells_than_the_header_is_an_error_not_silent() -> None:
    row = _rows("identifier,name,docker_id\ns1,Doe, Ann,ann12345\n")[2]

    assert row.status == Status.ERROR
    assert "4 cells where the header has 3" in row.reason


def test_empty_extra_cells_are_fine() -> None:
    assert _rows("identifier,name\ns1,Ann,,\n")[2].status == Status.OK


def test_a_quoted_multi_line_record_is_reported_where_it_starts_without_its_line_break() -> None:
    rows = _rows('identifier,name\ns1,"Ann\nStudent"\ns2,no\x00\n')

    assert rows[2].name == "Ann Student"
    assert rows[2].status == Status.CHANGED
    assert rows[4].identifier == "s2"  # the next record starts on line 4


def test_an_e_mail_address_header_is_recognised() -> None:
    row = _rows("Name,E-mail Address\nAnn,Ann@Uni.example\n")[2]

    assert (row.identifier, row.email, row.name) == ("ann@uni.example", "ann@uni.example", "Ann")


def test_a_semicolon_inside_a_comma_separated_paste_is_not_one_identifier() -> None:
    rows = _rows("s11111, Ann Student\ns12345 ; Sam Student\n")

    assert rows[1].identifier == "s11111"
    assert rows[2].status == Status.ERROR
    assert "separated by a comma" in rows[2].reason


def test_a_value_too_long_for_its_column_is_an_error_at_preview_time() -> None:
    address = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"
    row = _rows(f"identifier,email\ns1,{address}\n")[2]

    assert row.status == Status.ERROR and "at most 254 fit" in row.reason


# -- decoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + "identifier,name\ns1,Zoë\n".encode("utf-16-le"), "UTF-16"),
        (codecs.BOM_UTF16_BE + "identifier,name\ns1,Zoë\n".encode("utf-16-be"), "UTF-16"),
        (codecs.BOM_UTF32_LE + "identifier,name\ns1,Zoë\n".encode("utf-32-le"), "UTF-32"),
        ("identifier,name\ns1,Zoë\n".encode("utf-16-le"), "UTF-16"),  # no mark
    ],
)
def test_utf16_and_utf32_files_are_read(data: bytes, encoding: str) -> None:
    parsed = parse_roster(data)

    assert parsed.encoding == encoding
    assert [r.name for r in parsed.rows] == ["Zoë"]


def test_a_utf16_mark_before_bytes_that_are_not_utf16_is_a_notice_not_a_crash() -> None:
    parsed = parse_roster(
        codecs.BOM_UTF16_LE + "identifier,name\ns1,Ann\n".encode("utf-16-le") + b"\x00\xd8"
    )

    assert parsed.notices and "not UTF-16" in parsed.notices[0]


def test_a_utf8_mark_before_invalid_utf8_is_a_notice_and_a_row_warning() -> None:
    parsed = parse_roster(b"\xef\xbb\xbfidentifier,name\ns1,Zo\xeb\n")
    rows = classify(parsed.rows, [])

    assert "not UTF-8" in parsed.notices[0] and "line 2" in parsed.notices[0]
    assert rows[0].status == Status.WARNING


def test_latin1_is_read_with_a_notice() -> None:
    decoded = decode("identifier,name\ns1,Zoë\n".encode("latin-1"))

    assert decoded.text.endswith("Zoë\n") and "not UTF-8" in decoded.notices[0]


def test_a_binary_file_is_refused_in_words() -> None:
    with pytest.raises(RosterError, match="spreadsheet"):
        parse_roster(b"PK\x03\x04\x00\x00xl/workbook\x00")


def test_the_limits_are_stated_together() -> None:
    with pytest.raises(RosterError, match="up to 2 MB and 5,000 rows"):
        parse_roster(b"x" * (2 * 1024 * 1024 + 1))
    with pytest.raises(RosterError, match="up to 2 MB and 5,000 rows"):
        parse_roster("identifier\n" + "".join(f"s{i}\n" for i in range(5002)))


def test_an_unclosed_quote_is_refused_naming_the_line_where_it_opens() -> None:
    with pytest.raises(RosterError, match="Line 3"):
        parse_roster('identifier,name\ns1,Ann\ns2,"Bob\n' + "s3,C\n" * 3 + 'x"y\n')


# -- anything at all ---------------------------------------------------------------------------------

ROSTERISH = st.lists(
    st.sampled_from(
        [
            "identifier,name,docker_id,github_repo",
            "E-mail Address,Name",
            "sep=;",
            "a@uni.example,Ann,ann12345,ann/lab",
            "s1;Sam",
            '"Doe, Jane",x',
            "Points Possible",
            "-----",
            "",
            "\ufeff",
            '"unclosed',
            "git@github.com:o/r.git",
            "\u202e=cmd",
            "\x00",
        ]
    )
    | st.text(max_size=40),
    max_size=12,
).map("\n".join)


@pytest.mark.django_db
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | ROSTERISH.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_give_rows_with_one_of_six_statuses_or_a_refusal_in_words(data: bytes) -> None:
    try:
        parsed = parse_roster(data)
    except RosterError as error:
        assert str(error)
        return
    rows = classify(parsed.rows, [])
    assert {row.status for row in rows} <= SIX
    for row in rows:
        for value in (row.identifier, row.name, row.email, row.docker_id, row.github_repo):
            assert "\x00" not in value
        assert len(row.identifier) <= 254 and len(row.name) <= 200 and len(row.github_repo) <= 140


@pytest.mark.django_db
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300) | ROSTERISH, as_csv=st.booleans())
def test_any_pasted_text_gives_entries_with_one_of_six_statuses(text: str, as_csv: bool) -> None:
    try:
        entries = parse_invitees(text, as_csv=as_csv)
    except RosterError as error:
        assert str(error)
        return
    assert {e.status.value for e in entries} <= SIX
    assert all(len(e.raw) <= 320 and len(e.invitee) <= 320 for e in entries)
    assert all(e.line >= 1 for e in entries)
