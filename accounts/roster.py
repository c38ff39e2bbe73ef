"""Reading a roster: bytes from an upload or pasted text, into rows classified for a preview.

Accepted layouts, recognised by their headers:

* ours: ``identifier`` (or ``email``), ``name``, optional ``docker_id``, ``github_repo``
  (common spellings of each are accepted; without a header row, columns are taken in this
  order);
* a GitHub Classroom roster export: ``identifier, github_username, github_id, name``;
* a Canvas gradebook export: ``Student, ID, SIS User ID, SIS Login ID, Section, ...``;
* a Moodle gradebook export: ``First name, Surname, ID number, ..., Email address, ...``.

Files may be UTF-8 (with or without a byte-order mark), UTF-16 with a mark (Excel's "Unicode
text") or Latin-1/Windows-1252; the delimiter is guessed among comma, semicolon, tab and
pipe. Nothing here touches the database or the outside world: :func:`classify` compares the
rows with the course's current enrolments, passed in.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
DELIMITERS = ",;\t|"
# Docker Hub: 4 to 30 characters, lower-case letters and digits only.
DOCKER_ID_RE = re.compile(r"^[a-z0-9]{4,30}$")
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
GITHUB_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
GITHUB_HOSTS = {"github.com", "www.github.com"}


class RosterError(ValueError):
    """The whole file cannot be read; ``str()`` says what to fix."""


class Format(StrEnum):
    OURS = "ours"
    CLASSROOM = "classroom"
    CANVAS = "canvas"
    MOODLE = "moodle"


FORMAT_LABELS = {
    Format.OURS: "hubcourse columns",
    Format.CLASSROOM: "GitHub Classroom roster",
    Format.CANVAS: "Canvas gradebook",
    Format.MOODLE: "Moodle gradebook",
}


class RowStatus(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    DOCKER_ID_NOT_FOUND = "docker_id_not_found"
    REPO_MISSING = "repo_missing"
    IGNORED = "ignored"


# What the preview says of each kind of row, and what confirming does with it.
STATUS_TEXT: dict[RowStatus, tuple[str, str]] = {
    RowStatus.NEW: ("New", "added to the roster"),
    RowStatus.UPDATED: ("Updated", "the student's details are changed"),
    RowStatus.UNCHANGED: ("Unchanged", "already on the roster like this; nothing to do"),
    RowStatus.DUPLICATE: ("Duplicate", "skipped: the same student or Docker ID appears earlier"),
    RowStatus.INVALID: ("Invalid", "skipped: fix the file and import it again"),
    RowStatus.DOCKER_ID_NOT_FOUND: (
        "Docker ID not found",
        "imported without the Docker ID; the student gives theirs when they join",
    ),
    RowStatus.REPO_MISSING: (
        "GitHub repository missing",
        "imported; the pre-flight check reports it until the repository exists",
    ),
    RowStatus.IGNORED: ("Not a student", "skipped: a summary row of the gradebook export"),
}
# Rows that change the roster when the import is confirmed.
SAVED = frozenset(
    {
        RowStatus.NEW,
        RowStatus.UPDATED,
        RowStatus.DOCKER_ID_NOT_FOUND,
        RowStatus.REPO_MISSING,
    }
)


@dataclass
class Row:
    line: int
    identifier: str = ""
    name: str = ""
    email: str = ""
    docker_id: str = ""
    github_repo: str = ""
    # GitHub Classroom: the student's GitHub login, used to name their assignment repository.
    github_username: str = ""
    status: str = RowStatus.NEW
    reason: str = ""
    enrolment_id: int | None = None
    # Field -> (old, new) for updated rows.
    changes: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Row:
        return cls(**data)  # type: ignore[arg-type]


@dataclass
class Parsed:
    format: Format
    encoding: str
    delimiter: str
    rows: list[Row]


# -- decoding ------------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding; ``RosterError`` if it is too big or binary."""
    if len(data) > MAX_BYTES:
        raise RosterError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; rosters up to "
            f"{MAX_BYTES // 1024 // 1024} MB are accepted. Split it into smaller files."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 (with BOM)"
    if b"\x00" in data:
        raise RosterError(
            "This does not look like a text file. Export the roster as CSV and upload that."
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        # Windows-1252 is Latin-1 plus curly quotes and the euro sign; every byte decodes
        # except five unassigned ones, which Latin-1 maps to control characters.
        try:
            return data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "Latin-1"


def _sniff_delimiter(text: str) -> str:
    sample_lines = [line for line in text.splitlines() if line.strip()][:20]
    if not sample_lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(sample_lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column, or a sniff that could not decide: the most frequent candidate wins.
        first = sample_lines[0]
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


# -- headers -------------------------------------------------------------------------------------


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().strip('"').lower()).strip()


OUR_HEADERS: dict[str, tuple[str, ...]] = {
    "identifier": ("identifier", "student id", "student number", "id", "username", "login"),
    "email": ("email", "email address", "e mail", "mail"),
    "name": ("name", "full name", "student name", "student"),
    "first_name": ("first name", "given name", "firstname"),
    "last_name": ("last name", "surname", "family name", "lastname"),
    "docker_id": ("docker id", "dockerid", "docker hub id", "docker username", "docker"),
    "github_repo": (
        "github repo",
        "github repository",
        "repository",
        "repo",
        "github url",
        "github",
    ),
}


def detect_format(headers: list[str]) -> Format | None:
    """Which layout a header row belongs to; None when it is not a header row at all."""
    names = {_norm(h) for h in headers}
    if {"identifier", "github username"} <= names:
        return Format.CLASSROOM
    if "student" in names and ({"sis login id", "sis user id"} & names):
        return Format.CANVAS
    if ({"first name", "surname"} <= names or {"first name", "last name"} <= names) and (
        {"email address", "id number"} & names
    ):
        return Format.MOODLE
    known = {alias for aliases in OUR_HEADERS.values() for alias in aliases}
    if names & known:
        return Format.OURS
    return None


def _column_map(headers: list[str]) -> dict[str, int]:
    """Our field -> column index, first matching header wins."""
    found: dict[str, int] = {}
    normalised = [_norm(h) for h in headers]
    for field_name, aliases in OUR_HEADERS.items():
        for alias in aliases:
            if alias in normalised:
                found[field_name] = normalised.index(alias)
                break
    return found


# -- parsing -------------------------------------------------------------------------------------


def parse(data: bytes | str, *, classroom_repo_template: str = "") -> Parsed:
    """Rows from a roster; ``RosterError`` when the file as a whole cannot be used.

    ``classroom_repo_template`` (like ``my-org/docker-lab-{github_username}``) names each
    student's GitHub Classroom assignment repository from their GitHub login.
    """
    if isinstance(data, str):
        if len(data.encode()) > MAX_BYTES:
            raise RosterError(
                f"The pasted text is too long; up to {MAX_BYTES // 1024 // 1024} MB is accepted."
            )
        text, encoding = data, "UTF-8"
    else:
        text, encoding = decode(data)
    text = text.lstrip("\ufeff")
    delimiter = _sniff_delimiter(text)
    # strict: a quote left open swallows the rest of the file otherwise, silently.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append((reader.line_num, [cell.strip() for cell in record]))
            if len(records) > MAX_ROWS + 1:
                raise RosterError(
                    f"The roster has more than {MAX_ROWS} rows; import it in parts of up to "
                    f"{MAX_ROWS} students."
                )
    except csv.Error as error:
        raise RosterError(
            f"Line {reader.line_num} cannot be read as CSV ({error}). Check its quotes."
        ) from None
    if not records:
        raise RosterError("The roster is empty: there is no student row in it.")

    headers = records[0][1]
    fmt = detect_format(headers)
    if fmt is None:
        rows = [_positional(line, cells) for line, cells in records]
        return Parsed(Format.OURS, encoding, delimiter, rows)
    body = records[1:]
    if not body:
        raise RosterError("The roster has a header row but no student rows.")
    normalised = [_norm(h) for h in headers]
    if fmt is Format.CLASSROOM:
        rows = [
            _classroom(line, cells, normalised, classroom_repo_template) for line, cells in body
        ]
    elif fmt is Format.CANVAS:
        rows = [_canvas(line, cells, normalised) for line, cells in body]
    elif fmt is Format.MOODLE:
        rows = [_moodle(line, cells, normalised) for line, cells in body]
    else:
        columns = _column_map(headers)
        if "identifier" not in columns and "email" not in columns:
            raise RosterError(
                "No column says who the student is: add a column headed identifier or email."
            )
        rows = [_ours(line, cells, columns) for line, cells in body]
    return Parsed(fmt, encoding, delimiter, rows)


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _named(cells: list[str], headers: list[str], *names: str) -> str:
    for name in names:
        if name in headers:
            value = _cell(cells, headers.index(name))
            if value:
                return value
    return ""


def _positional(line: int, cells: list[str]) -> Row:
    padded = [*cells, "", "", "", ""]
    row = Row(line, identifier=padded[0], name=padded[1], docker_id=padded[2])
    row.github_repo = padded[3]
    return row


def _ours(line: int, cells: list[str], columns: dict[str, int]) -> Row:
    name = _cell(cells, columns.get("name"))
    if not name:
        name = " ".join(
            part
            for part in (
                _cell(cells, columns.get("first_name")),
                _cell(cells, columns.get("last_name")),
            )
            if part
        )
    email = _cell(cells, columns.get("email"))
    identifier = _cell(cells, columns.get("identifier")) or email
    return Row(
        line,
        identifier=identifier,
        name=name,
        email=email,
        docker_id=_cell(cells, columns.get("docker_id")),
        github_repo=_cell(cells, columns.get("github_repo")),
    )


def _classroom(line: int, cells: list[str], headers: list[str], template: str) -> Row:
    login = _named(cells, headers, "github username")
    repo = ""
    if template and login:
        repo = template.replace("{github_username}", login)
    row = Row(
        line,
        identifier=_named(cells, headers, "identifier"),
        name=_named(cells, headers, "name"),
        github_username=login,
        github_repo=repo,
    )
    if not row.identifier and login:
        # Classroom leaves the identifier empty for students linked by GitHub account only.
        row.identifier = login
    return row


def _canvas(line: int, cells: list[str], headers: list[str]) -> Row:
    student = _named(cells, headers, "student")
    # The export's second line is "Points Possible"; newer exports add muted/posting rows
    # with an empty student cell; Canvas's "Test Student" belongs to the teacher.
    if student.lower() in ("points possible", "student, test", "test student") or not student:
        return Row(line, name=student, status=RowStatus.IGNORED, reason="not a student row")
    if "," in student:
        last, first = (part.strip() for part in student.split(",", 1))
        student = f"{first} {last}".strip()
    identifier = _named(cells, headers, "sis login id", "sis user id", "id")
    email = identifier if "@" in identifier else ""
    return Row(line, identifier=identifier, name=student, email=email)


def _moodle(line: int, cells: list[str], headers: list[str]) -> Row:
    email = _named(cells, headers, "email address")
    name = " ".join(
        p
        for p in (
            _named(cells, headers, "first name"),
            _named(cells, headers, "surname", "last name"),
        )
        if p
    )
    return Row(
        line,
        identifier=email or _named(cells, headers, "id number", "username"),
        name=name,
        email=email,
    )


# -- validation ----------------------------------------------------------------------------------


def normalise_github_repo(value: str) -> str:
    """``owner/name`` from the forms people paste; ``ValueError`` with a reason otherwise."""
    value = value.strip()
    if not value:
        return ""
    if value.startswith("git@"):
        value = value.split(":", 1)[-1]
    elif "://" in value or value.lower().startswith(("github.com/", "www.github.com/")):
        parts = urlsplit(value if "://" in value else f"https://{value}")
        from django.conf import settings

        allowed = GITHUB_HOSTS | {urlsplit(str(settings.GITHUB_URL)).hostname or ""}
        if (parts.hostname or "").lower() not in allowed:
            raise ValueError(f"{value} is not a GitHub address")
        value = parts.path
    segments = [s for s in value.strip("/").split("/") if s]
    if len(segments) != 2:
        raise ValueError(f"{value} is not a GitHub repository: write it as owner/name")
    owner, name = segments
    if name.endswith(".git"):
        name = name[:-4]
    # "." and ".." are no repository on GitHub, and in a URL path they walk to another one.
    if not GITHUB_OWNER_RE.match(owner) or not GITHUB_NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(f"{owner}/{name} is not a valid GitHub repository name")
    return f"{owner}/{name}"


def validate_docker_id(value: str) -> str:
    """The Docker ID in Docker Hub's spelling (lower case); ``ValueError`` with a reason."""
    docker_id = value.strip().lower()
    if not docker_id:
        return ""
    if not DOCKER_ID_RE.match(docker_id):
        raise ValueError(
            f"{value} is not a Docker ID: they are 4 to 30 lower-case letters and digits"
        )
    return docker_id


def _validate(row: Row) -> str:
    """The reason the row cannot be imported, or ""; normalises the row's values in place."""
    if not row.identifier:
        return "no identifier or email"
    if len(row.identifier) > 254:
        return "the identifier is longer than 254 characters"
    if any(ch in row.identifier for ch in "\r\n\t"):
        return "the identifier contains a line break or tab"
    if "@" in row.identifier:
        try:
            validate_email(row.identifier)
        except ValidationError:
            return f"{row.identifier} is not a valid email address"
        row.identifier = row.identifier.lower()
        row.email = row.email or row.identifier
    if row.email:
        try:
            validate_email(row.email)
        except ValidationError:
            return f"{row.email} is not a valid email address"
        row.email = row.email.lower()
    if len(row.name) > 200:
        return "the name is longer than 200 characters"
    try:
        row.docker_id = validate_docker_id(row.docker_id)
        row.github_repo = normalise_github_repo(row.github_repo)
    except ValueError as error:
        return str(error)
    return ""


@dataclass(frozen=True)
class Existing:
    """What the roster already holds for one student."""

    enrolment_id: int
    identifier: str
    name: str
    email: str
    docker_id: str
    github_repo: str


def classify(rows: Iterable[Row], existing: Iterable[Existing]) -> list[Row]:
    """Validate each row and say what confirming would do with it (status and reason)."""
    by_identifier = {e.identifier.lower(): e for e in existing}
    docker_owner = {
        e.docker_id: e.identifier.lower() for e in by_identifier.values() if e.docker_id
    }
    seen_identifiers: dict[str, int] = {}
    seen_docker_ids: dict[str, int] = {}
    result: list[Row] = []
    for row in rows:
        result.append(row)
        if row.status == RowStatus.IGNORED:
            continue
        reason = _validate(row)
        if reason:
            row.status, row.reason = RowStatus.INVALID, reason
            continue
        key = row.identifier.lower()
        if key in seen_identifiers:
            row.status = RowStatus.DUPLICATE
            row.reason = f"{row.identifier} is already on line {seen_identifiers[key]}"
            continue
        seen_identifiers[key] = row.line
        if row.docker_id:
            if row.docker_id in seen_docker_ids:
                row.status = RowStatus.DUPLICATE
                row.reason = (
                    f"the Docker ID {row.docker_id} is already on line "
                    f"{seen_docker_ids[row.docker_id]}"
                )
                continue
            seen_docker_ids[row.docker_id] = row.line
            owner = docker_owner.get(row.docker_id)
            if owner is not None and owner != key:
                row.status = RowStatus.DUPLICATE
                row.reason = f"the Docker ID {row.docker_id} belongs to {owner} on the roster"
                continue
        current = by_identifier.get(key)
        if current is None:
            row.status, row.reason = RowStatus.NEW, ""
            continue
        row.enrolment_id = current.enrolment_id
        # The saved spelling of the identifier wins, so matching stays case-insensitive.
        row.identifier = current.identifier
        row.changes = {
            name: [old, new]
            for name, old, new in (
                ("name", current.name, row.name),
                ("email", current.email, row.email),
                ("docker_id", current.docker_id, row.docker_id),
                ("github_repo", current.github_repo, row.github_repo),
            )
            # An empty cell says nothing: it never erases what is already known.
            if new and new != old
        }
        if row.changes:
            row.status = RowStatus.UPDATED
            row.reason = "changes " + ", ".join(
                f"{FIELD_LABELS[n]} {old or '(none)'} → {new}"
                for n, (old, new) in row.changes.items()
            )
        else:
            row.status, row.reason = RowStatus.UNCHANGED, ""
    return result


FIELD_LABELS = {
    "name": "name",
    "email": "email",
    "docker_id": "Docker ID",
    "github_repo": "GitHub repository",
}
