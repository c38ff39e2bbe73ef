"""Reading a list of people to invite: pasted text or a CSV file, into numbered rows.

Docker Hub's own page takes Docker IDs or emails separated by commas, semicolons or spaces;
hubcourse also takes one per line and a CSV of any length. Every entry becomes a row, in the
order given, so the admin can match each result to what they typed. Rows that cannot be a
Docker ID or an email are marked here and never sent; a repeat of an earlier entry (case
does not matter) is marked as a duplicate of that row.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

# Docker IDs: 4 to 30 lower-case letters and digits (Docker Hub's sign-up rule); users often
# type them with capitals, which Docker Hub ignores, so the check is on the lower-cased form.
DOCKER_ID_RE = re.compile(r"^[a-z0-9]{4,30}$")
EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
SEPARATORS_RE = re.compile(r"[,;\s]+")
# Header cells that name the column holding the invitees in a CSV.
HEADER_NAMES = frozenset(
    {"docker id", "docker_id", "dockerid", "username", "user", "email", "e-mail", "invitee", "id"}
)
# Far above a class, below what would make one request's form a problem.
MAX_ROWS = 20_000


class ParseError(ValueError):
    """The input as a whole cannot be used (empty, too long, not text)."""


@dataclass(frozen=True)
class ParsedRow:
    line: int  # 1-based position in the input, as the admin counts entries
    raw: str
    invitee: str  # lower-cased Docker ID or email; "" when invalid
    problem: str  # "" when fine, else "invalid" or "duplicate"
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _refuse_binary(text: str) -> None:
    # A NUL byte is never in a list of names; it is in a spreadsheet saved as .xlsx (and no
    # database text column can hold it).
    if "\x00" in text:
        raise ParseError(
            "The file holds binary data, not text: is it a spreadsheet (.xlsx)? "
            "Save it as CSV (UTF-8) and try again."
        )


def split_entries(text: str) -> list[str]:
    """Every entry of pasted text, in order: commas, semicolons, spaces and lines separate."""
    _refuse_binary(text)
    return [part for part in SEPARATORS_RE.split(text) if part]


def csv_entries(data: bytes | str) -> list[str]:
    """The invitees of a CSV: the column a header names, else the first column of every row.

    Extra columns (names, student numbers) are ignored, so a roster export works as is.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(
                "The file is not UTF-8 text. Save the CSV as UTF-8 and try again."
            ) from exc
    else:
        text = data.lstrip("\ufeff")
    _refuse_binary(text)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if not rows:
        return []
    column = 0
    header = [cell.strip().lower() for cell in rows[0]]
    named = [i for i, cell in enumerate(header) if cell in HEADER_NAMES]
    if named:
        column = named[0]
        rows = rows[1:]
    entries = []
    for row in rows:
        cell = row[column].strip() if column < len(row) else ""
        # A cell may itself hold several entries ("ada, alan"): split it like pasted text.
        entries.extend(split_entries(cell) or [""])
    return entries


def classify(entries: list[str]) -> list[ParsedRow]:
    """Number the entries and mark invalid ones and repeats."""
    if len(entries) > MAX_ROWS:
        raise ParseError(
            f"The list has {len(entries)} entries; hubcourse takes at most {MAX_ROWS} at once. "
            "Split it into several lists."
        )
    seen: dict[str, int] = {}
    rows: list[ParsedRow] = []
    for line, raw in enumerate(entries, start=1):
        value = raw.strip().strip("\"'<>").lower()
        if not value:
            rows.append(ParsedRow(line, raw, "", "invalid", "This row is empty."))
        elif not (DOCKER_ID_RE.match(value) or EMAIL_RE.match(value)):
            rows.append(
                ParsedRow(
                    line,
                    raw,
                    "",
                    "invalid",
                    "Not a Docker ID (4 to 30 letters and digits) or an email address.",
                )
            )
        elif value in seen:
            rows.append(ParsedRow(line, raw, value, "duplicate", f"The same as row {seen[value]}."))
        else:
            seen[value] = line
            rows.append(ParsedRow(line, raw, value, ""))
    return rows


def parse_text(text: str) -> list[ParsedRow]:
    return classify(split_entries(text))


def parse_csv(data: bytes | str) -> list[ParsedRow]:
    return classify(csv_entries(data))


def parse_file(data: bytes, filename: str = "") -> list[ParsedRow]:
    """A file from the command line or an upload: CSV when it looks like one, else text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("The file is not UTF-8 text. Save it as UTF-8 and try again.") from exc
    first_line = text.split("\n", 1)[0]
    looks_like_csv = filename.lower().endswith(".csv") or (
        first_line.strip().lower().split(",")[0].strip() in HEADER_NAMES
    )
    return parse_csv(text) if looks_like_csv else parse_text(text)
