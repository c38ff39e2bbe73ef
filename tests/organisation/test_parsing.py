from __future__ import annotations

import pytest

from accounts.parsing import ParseError, parse_csv, parse_file, parse_text


@pytest.mark.parametrize(
    "text",
    [
        "adalovelace,alanturing,gracehopper",
        "adalovelace;alanturing;gracehopper",
        "adalovelace alanturing\tgracehopper",
        "adalovelace\nalanturing\r\ngracehopper\n",
        " adalovelace ,; alanturing\n\n;gracehopper ",
    ],
)
def test_it_splits_on_every_separator(text):
    rows = parse_text(text)
    assert [r.invitee for r in rows] == ["adalovelace", "alanturing", "gracehopper"]
    assert all(r.ok for r in rows)
    assert [r.line for r in rows] == [1, 2, 3]


def test_it_lowercases_docker_ids_and_emails():
    rows = parse_text("AdaLovelace Grace@Example.EDU")
    assert [r.invitee for r in rows] == ["adalovelace", "grace@example.edu"]


def test_it_marks_bad_rows_with_a_reason_and_keeps_their_place():
    rows = parse_text("ok1234 ab not-a-name way@ x@y.z")
    assert [(r.line, r.problem) for r in rows] == [
        (1, ""),
        (2, "invalid"),  # too short for a Docker ID
        (3, "invalid"),  # a dash is not allowed
        (4, "invalid"),  # an email without a domain
        (5, ""),
    ]
    assert "Docker ID" in rows[1].message


def test_it_marks_repeats_as_duplicates_of_the_first_row_whatever_the_case():
    rows = parse_text("adalovelace alanturing ADALOVELACE adalovelace")
    assert [r.problem for r in rows] == ["", "", "duplicate", "duplicate"]
    assert rows[2].message == "The same as row 1."


def test_a_csv_with_a_header_uses_the_named_column():
    data = b"name,email,student number\nAda,ada@example.edu,1\nAlan,alan@example.edu,2\n"
    rows = parse_csv(data)
    assert [r.invitee for r in rows] == ["ada@example.edu", "alan@example.edu"]


def test_a_csv_without_a_header_uses_the_first_column_and_reports_empty_cells():
    rows = parse_csv("adalovelace,Ada\n,Nobody\nalanturing,Alan\n")
    assert [(r.invitee, r.problem) for r in rows] == [
        ("adalovelace", ""),
        ("", "invalid"),
        ("alanturing", ""),
    ]
    assert rows[1].message == "This row is empty."


def test_a_csv_with_semicolons_and_a_bom_is_read():
    rows = parse_csv("\ufeffDocker ID;Name\nadalovelace;Ada\nalanturing;Alan\n".encode())
    assert [r.invitee for r in rows] == ["adalovelace", "alanturing"]


def test_a_file_that_is_not_utf8_is_refused_with_a_sentence():
    with pytest.raises(ParseError, match="UTF-8"):
        parse_file("adalovelace\né".encode("latin-1"), "list.txt")


def test_a_text_file_is_read_like_pasted_text():
    rows = parse_file(b"adalovelace, alanturing\ngracehopper", "list.txt")
    assert [r.invitee for r in rows] == ["adalovelace", "alanturing", "gracehopper"]


def test_a_list_too_long_is_refused():
    with pytest.raises(ParseError, match="at most"):
        parse_text(" ".join(f"user{i:06d}" for i in range(20_001)))


def test_a_binary_file_is_refused_with_what_to_do():
    from accounts.parsing import ParseError, parse_csv, parse_text

    advice = r"spreadsheet \(\.xlsx\)\? Save it as CSV"
    with pytest.raises(ParseError, match=advice):
        parse_csv(b"PK\x03\x04\x00\x00xl/workbook")
    with pytest.raises(ParseError, match=advice):
        parse_text("ada\x00bob")
