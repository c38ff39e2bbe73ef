"""The roster reader (accounts.roster_parsing) on real-world files: layouts, encodings,
delimiters, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts import roster_parsing as roster
from accounts.roster_parsing import Existing, Format, RosterError, Status, classify
from accounts.roster_parsing import parse_roster as parse

FILES = Path(__file__).parent / "files"


def _read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def _by_identifier(rows: list[roster.Row]) -> dict[str, roster.Row]:
    return {row.identifier: row for row in rows}


def test_it_reads_a_github_classroom_roster_and_names_assignment_repositories() -> None:
    parsed = parse(
        _read("classroom_roster.csv"), classroom_repo_template="docker-class/lab-{github_username}"
    )
    rows = _by_identifier(classify(parsed.rows, []))

    assert parsed.format is Format.CLASSROOM
    assert rows["ada@uni.example"].name == "Ada Lovelace"
    assert rows["ada@uni.example"].github_repo == "docker-class/lab-ada-lovelace"
    assert (rows["ada@uni.example"].status, rows["ada@uni.example"].action) == (Status.OK, "new")
    # A student linked by GitHub account only is known by their login.
    assert rows["grace-hopper"].github_repo == "docker-class/lab-grace-hopper"
    # Not linked to GitHub yet: imported without a repository, and flagged.
    assert rows["s1234567"].github_repo == ""
    assert rows["s1234567"].status == Status.WARNING
    assert "not linked to GitHub yet" in rows["s1234567"].warnings[0]


def test_a_classroom_roster_without_a_repository_template_imports_people_only() -> None:
    rows = classify(parse(_read("classroom_roster.csv")).rows, [])

    assert {row.github_repo for row in rows} == {""}
    assert [row.github_username for row in rows][:2] == ["ada-lovelace", "alan-turing"]


def test_it_reads_a_canvas_gradebook_and_skips_its_summary_rows() -> None:
    parsed = parse(_read("canvas_gradebook.csv"))
    rows = classify(parsed.rows, [])
    students = [row for row in rows if row.status != Status.SKIPPED]

    assert parsed.format is Format.CANVAS
    assert [(r.identifier, r.name) for r in students] == [
        ("ada@uni.example", "Ada Lovelace"),
        ("alan@uni.example", "Alan Turing"),
        # No SIS login: the SIS user id identifies her.
        ("2023003", "Grace Hopper"),
    ]
    ignored = [row for row in rows if row.status == Status.SKIPPED]
    assert len(ignored) == 2  # "Points Possible" and Canvas's test student
    assert students[0].email == "ada@uni.example"


def test_it_reads_a_latin1_moodle_export_with_semicolons_and_decimal_commas() -> None:
    parsed = parse(_read("moodle_grades.csv"))
    rows = classify(parsed.rows, [])

    assert parsed.format is Format.MOODLE
    assert parsed.delimiter == ";"
    assert parsed.encoding in ("Windows-1252", "Latin-1")
    assert [(r.identifier, r.name, r.status, r.action) for r in rows] == [
        ("jose.munoz@uni.example", "José Muñoz", Status.OK, "new"),
        ("zoe.brueck@uni.example", "Zoë Brück", Status.OK, "new"),
    ]
    # Not UTF-8: the preview says how it was read.
    assert parsed.notices and "not UTF-8" in parsed.notices[0]


def test_every_kind_of_bad_row_is_named_with_its_reason() -> None:
    rows = classify(parse(_read("every_bad_row.csv")).rows, [])
    by_line = {row.line: row for row in rows}

    # Stray spaces trimmed: imported, and the change is said.
    assert (by_line[2].status, by_line[2].action) == (Status.CHANGED, "new")
    assert by_line[2].name == "Ok One"
    assert ["name", "  Ok One  ", "Ok One", "trimmed"] in by_line[2].changes
    assert by_line[2].github_repo == "ok-one/docker-course"
    # Line 3 is blank: skipped, and said.
    assert (by_line[3].status, by_line[3].reason) == (Status.SKIPPED, "blank line")
    assert by_line[4].status == Status.ERROR and "no identifier or email" in by_line[4].reason
    assert by_line[5].status == Status.ERROR and "not a valid email" in by_line[5].reason
    assert by_line[6].status == Status.ERROR and "4 to 30" in by_line[6].reason
    # The error names the line, the column, the value and the rule.
    assert by_line[6].reason.startswith("line 6, column 3 (docker_id): 'ab' is not a Docker ID")
    # Docker IDs are lower case on Docker Hub; a GitHub address becomes owner/name.
    assert by_line[7].status == Status.CHANGED
    assert (by_line[7].docker_id, by_line[7].github_repo) == ("capsid42", "caps-id/docker-course")
    assert by_line[8].status == Status.ERROR and "owner/repository" in by_line[8].reason
    assert by_line[9].status == Status.ERROR and "gitlab.com is not GitHub" in by_line[9].reason
    assert by_line[10].status == Status.DUPLICATE and "lines 2 and 10" in by_line[10].reason
    assert by_line[11].status == Status.DUPLICATE and "okone1" in by_line[11].reason


def test_rows_are_compared_with_the_roster_case_insensitively() -> None:
    existing = [
        Existing(1, "Ada@Uni.example", "Ada", "ada@uni.example", "", ""),
        Existing(2, "alan@uni.example", "Alan Turing", "alan@uni.example", "alanturing", ""),
        Existing(3, "kept@uni.example", "Kept", "", "keptdocker", ""),
    ]
    text = (
        "email,name,docker_id,github_repo\n"
        "ada@uni.example,Ada Lovelace,adalovelace,\n"
        "ALAN@uni.example,,,\n"
        "new@uni.example,New,keptdocker,\n"
    )
    rows = classify(parse(text).rows, existing)

    assert (rows[0].status, rows[0].action) == (Status.OK, "update")
    assert rows[0].enrolment_id == 1
    assert rows[0].identifier == "Ada@Uni.example"  # the roster's spelling is kept
    assert rows[0].updates == {"name": ["Ada", "Ada Lovelace"], "docker_id": ["", "adalovelace"]}
    # Empty cells never erase what the roster knows; the identifier was lower-cased.
    assert (rows[1].status, rows[1].action) == (Status.CHANGED, "unchanged")
    # A Docker ID that belongs to someone else on the roster.
    assert rows[2].status == Status.DUPLICATE
    assert "kept@uni.example" in rows[2].reason


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("identifier,name\nzoë@uni.example,Zoë\n".encode(), "UTF-8"),
        (b"\xef\xbb\xbf" + "identifier,name\nzoë@uni.example,Zoë\n".encode(), "UTF-8 (with BOM)"),
        ("identifier,name\nzoë@uni.example,Zoë\n".encode("utf-16"), "UTF-16"),
        ("identifier,name\nzoë@uni.example,Zoë\n".encode("latin-1"), "Windows-1252"),
    ],
)
def test_it_decodes_the_usual_encodings(data: bytes, encoding: str) -> None:
    parsed = parse(data)

    assert parsed.encoding == encoding
    assert parsed.rows[0].name == "Zoë"
    assert parsed.format is Format.OURS


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_it_guesses_the_delimiter(delimiter: str) -> None:
    text = delimiter.join(["identifier", "name", "docker_id"]) + "\n"
    text += delimiter.join(["a@uni.example", "A", "adocker1"]) + "\n"
    text += delimiter.join(["b@uni.example", "B", "bdocker1"]) + "\n"

    parsed = parse(text)

    assert parsed.delimiter == delimiter
    assert [row.docker_id for row in parsed.rows] == ["adocker1", "bdocker1"]


def test_pasted_lines_without_a_header_are_taken_in_our_column_order() -> None:
    rows = classify(parse("  a@uni.example , Ann  ,  anndocker  , ann/docker-course\n\n").rows, [])

    imported = [r for r in rows if r.status != Status.SKIPPED]
    assert [(r.identifier, r.name, r.docker_id, r.github_repo) for r in imported] == [
        ("a@uni.example", "Ann", "anndocker", "ann/docker-course")
    ]


def test_a_file_over_the_size_limit_is_refused_with_the_limit_in_words() -> None:
    with pytest.raises(RosterError, match="up to 2 MB and 5,000 rows"):
        parse(b"identifier\n" + b"x@uni.example\n" * (roster.MAX_BYTES // 14 + 1))


def test_too_many_rows_are_refused() -> None:
    text = "identifier\n" + "".join(f"s{i}@uni.example\n" for i in range(roster.MAX_ROWS + 2))
    with pytest.raises(RosterError, match="more than 5,000 rows; files up to 2 MB and 5,000 rows"):
        parse(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"identifier,name\n", "no student rows"),
        (b"name,docker_id\nAnn,anndocker\n", "identifier or email"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "text file"),
    ],
)
def test_unusable_files_say_what_to_fix(data: bytes, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        parse(data)


def test_a_broken_quote_is_reported_with_its_line() -> None:
    with pytest.raises(RosterError, match="Line"):
        parse('identifier,name\n"a@uni.example,Ann\n' + "b@uni.example,B\n" * 3 + '"x""y\n')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("owner/repo", "owner/repo"),
        ("https://github.com/owner/repo", "owner/repo"),
        ("https://github.com/owner/repo.git", "owner/repo"),
        ("github.com/owner/repo/", "owner/repo"),
        ("git@github.com:owner/repo.git", "owner/repo"),
    ],
)
def test_github_repositories_are_written_as_owner_slash_name(value: str, expected: str) -> None:
    rows = parse(f"identifier,github_repo\na@uni.example,{value}\n").rows
    assert rows[0].github_repo == expected
