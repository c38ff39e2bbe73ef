"""The one reader of rosters and pasted lists: bytes -> decoded text -> records with their line
numbers -> one row per record, each with a status.

Used by the roster import (:func:`parse_roster`, then :func:`classify` against the course's
current enrolments) and by bulk add and ``bulk_invite`` (:func:`parse_invitees`). The values in
them are checked by ``accounts.identifiers``. Nothing here touches the database or the outside
world, and no input makes it raise anything but :class:`RosterError` (the input as a whole is
refused, with a sentence saying what to do).

Every row gets one of six statuses (:class:`Status`): ok; changed (imported, with each change
before -> after); warning (imported but flagged); error (not imported, the message names the
line where the record starts, the column, the value and the rule); duplicate (not imported, both
lines named); skipped (blank, separator, ``sep=`` or an LMS's summary rows).

Roster layouts, recognised by their headers:

* ours: ``identifier`` (or ``email``), ``name``, optional ``docker_id``, ``github_repo``
  (common spellings of each are accepted; without a header row, columns are taken in this
  order);
* a GitHub Classroom roster export: ``identifier, github_username, github_id, name``;
* a Canvas gradebook export: ``Student, ID, SIS User ID, SIS Login ID, Section, ...``;
* a Moodle gradebook export: ``First name, Surname, ID number, ..., Email address, ...``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

from accounts import identifiers
from hubcourse.errors import ValidationError

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
LIMITS = "up to 2 MB and 5,000 rows"
# Bulk add: far above a class, below what would make one request a problem.
INVITE_MAX_BYTES = 5 * 1024 * 1024
INVITE_MAX_ENTRIES = 20_000
INVITE_LIMITS = "up to 5 MB and 20,000 entries"
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a bar"}
REPLACEMENT = "\ufffd"


class RosterError(ValueError):
    """The input as a whole cannot be used; ``str()`` says what to do."""


class Status(StrEnum):
    OK = "ok"
    CHANGED = "changed"
    WARNING = "warning"
    ERROR = "error"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


STATUS_TEXT: dict[Status, tuple[str, str]] = {
    Status.OK: ("OK", "imported as it is"),
    Status.CHANGED: ("Changed", "imported with the changes shown (before → after)"),
    Status.WARNING: ("Warning", "imported, but look at what is flagged"),
    Status.ERROR: ("Error", "not imported: fix the line and import the file again"),
    Status.DUPLICATE: ("Duplicate", "not imported: the same student appears on another line"),
    Status.SKIPPED: ("Skipped", "not a student: blank, separator or summary line"),
}
IMPORTED = frozenset({Status.OK, Status.CHANGED, Status.WARNING})


class Action(StrEnum):
    """What confirming does with an imported row."""

    NONE = ""
    NEW = "new"
    UPDATE = "update"
    UNCHANGED = "unchanged"


ACTION_TEXT = {
    Action.NEW: "added",
    Action.UPDATE: "updated",
    Action.UNCHANGED: "already on the roster",
    Action.NONE: "",
}


class Check(StrEnum):
    """Where a row stands with the outside checks (Docker Hub, GitHub)."""

    NONE = ""  # nothing to check
    PENDING = "pending"
    DONE = "done"
    NOT_CHECKED = "not_checked"


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
FIELD_LABELS = {
    "identifier": "identifier",
    "name": "name",
    "email": "email",
    "docker_id": "Docker ID",
    "github_repo": "GitHub repository",
}


# -- decoding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    notices: tuple[str, ...] = ()


_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 (with BOM)"),  # the label the preview has always shown
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def _too_big(size: int, max_bytes: int, limits: str) -> RosterError:
    return RosterError(
        f"The file is {size / 1024 / 1024:.1f} MB; files {limits} are accepted. "
        "Split it into smaller files."
    )


def decode(data: bytes, *, max_bytes: int = MAX_BYTES, limits: str = LIMITS) -> Decoded:
    """Text from any bytes, or ``RosterError`` for a file too big or not text at all.

    A byte-order mark says the encoding (UTF-8, UTF-16, UTF-32); without one, UTF-8 is tried,
    then Windows-1252 and Latin-1, which decode anything, with a notice to check accents.
    Bytes the announced encoding cannot read become '�' and a notice names their lines.
    """
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes, limits)
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return Decoded(body.decode(codec), label)
            except UnicodeDecodeError:
                text = body.decode(codec, errors="replace")
                return Decoded(text, label, (_unreadable_notice(text, label.split(" ")[0]),))
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return utf16
        raise RosterError(
            "This does not look like a text file (is it a spreadsheet, .xlsx?). Export the "
            "list as CSV and upload that."
        )
    try:
        return Decoded(data.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError:
        pass
    notice = (
        "The file is not UTF-8; it was read as {label}. Check that accented names look right, "
        "or save the file as CSV UTF-8 and import it again."
    )
    try:
        return Decoded(
            data.decode("cp1252"), "Windows-1252", (notice.format(label="Windows-1252"),)
        )
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "Latin-1", (notice.format(label="Latin-1"),))


def _utf16_without_bom(data: bytes) -> Decoded | None:
    """UTF-16 without a mark: text in Latin letters has a NUL in every other byte."""
    if len(data) < 4 or len(data) % 2:
        return None
    odd, even = data[1::2], data[0::2]
    for zeros, codec in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if zeros.count(0) >= len(zeros) * 0.9:
            try:
                return Decoded(
                    data.decode(codec),
                    "UTF-16",
                    ("The file is UTF-16 without a byte-order mark; check that names look right.",),
                )
            except UnicodeDecodeError:
                return None
    return None


def _unreadable_notice(text: str, label: str) -> str:
    lines = [n for n, line in enumerate(_split_lines(text), start=1) if REPLACEMENT in line]
    shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
    return (
        f"The file starts with a {label} byte-order mark, but some of its bytes are not "
        f"{label}: they show as {REPLACEMENT} (line{'s' if len(lines) != 1 else ''} "
        f"{shown or '?'}). Check those names, or save the file again as CSV UTF-8."
    )


def _split_lines(text: str) -> list[str]:
    # Only the three line ends a person's editor shows; str.splitlines also splits on form
    # feeds and other separators, which would make line numbers drift from what they see.
    return re.split(r"\r\n|\r|\n", text)


def _text_of(data: bytes | str, *, max_bytes: int, limits: str) -> Decoded:
    if isinstance(data, bytes):
        decoded = decode(data, max_bytes=max_bytes, limits=limits)
    else:
        size = len(data.encode("utf-8", errors="replace"))
        if size > max_bytes:
            raise RosterError(
                f"The pasted text is {size / 1024 / 1024:.1f} MB; {limits} are accepted. "
                "Paste it in parts."
            )
        decoded = Decoded(data, "UTF-8")
    return Decoded(decoded.text.removeprefix("\ufeff"), decoded.encoding, decoded.notices)


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts in the file (a quoted cell may span lines)
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


_SEP_RE = re.compile(r'^\s*"?sep=(.)"?\s*$', re.IGNORECASE)
_SEPARATOR_LINE_RE = re.compile(r"^[\s\-=_*#~+.|,;:]*$")


def _sep_directive(text: str) -> str | None:
    """Excel's ``sep=,`` first line names the delimiter."""
    first = _split_lines(text)[0] if text else ""
    match = _SEP_RE.match(first)
    return match.group(1) if match else None


def sniff_delimiter(lines: Iterable[str]) -> str:
    sample = [line for line in lines if line.strip() and not _SEP_RE.match(line)][:20]
    if not sample:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(sample), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column, or a sniff that could not decide: the most frequent candidate wins.
        counts = {d: sample[0].count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def read_records(text: str, delimiter: str, *, max_records: int, limits: str) -> list[Record]:
    """Every record with the line it starts on; blank lines are records with no cells.

    ``RosterError`` for a quote that is never closed (it would swallow the rest of the file
    silently), naming the line where it opens, or for more records than ``max_records``.
    """
    # strict: a stray quote is an error, not a guess.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[Record] = []
    counted = 0
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise RosterError(
                f"Line {start} cannot be read as CSV ({error}): a quote there is not closed or "
                'is inside a cell. Quote the whole cell ("Doe, Jane") or remove the quote.'
            ) from None
        record = Record(start, cells)
        records.append(record)
        if not record.blank:
            counted += 1
            if counted > max_records + 1:  # one more for a header row
                raise RosterError(
                    f"The file has more than {max_records:,} rows; files {limits} are "
                    f"accepted. Import it in parts of up to {max_records:,}."
                )
    return records


def _is_separator(record: Record) -> bool:
    return not record.blank and all(_SEPARATOR_LINE_RE.match(cell) for cell in record.cells)


# -- roster rows -----------------------------------------------------------------------------------


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
    status: str = ""
    action: str = Action.NONE
    # Why a row is an error, a duplicate or skipped.
    reason: str = ""
    # [column, before, after, why] for every value this import changed.
    changes: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # For rows already on the roster: field -> [old, new].
    updates: dict[str, list[str]] = field(default_factory=dict)
    enrolment_id: int | None = None
    check: str = Check.NONE
    # The outside checks done for this row so far ("docker_id", "github_repo").
    checks_done: list[str] = field(default_factory=list)
    check_warnings: list[str] = field(default_factory=list)
    # Docker Hub has no such user: the row is imported without its Docker ID, which is kept
    # beside it (Enrolment.docker_id_not_found) for staff to see and correct.
    docker_id_unknown: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Row:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        legacy = _LEGACY_STATUSES.get(str(values.get("status", "")))
        if legacy is not None:
            # A preview saved before the six statuses: read in their terms.
            values["status"], values["action"] = legacy
            if data.get("status") == "docker_id_not_found":
                values["docker_id_unknown"] = True
            if isinstance(values.get("changes"), dict):
                values["updates"], values["changes"] = values["changes"], []
        return cls(**values)  # type: ignore[arg-type]

    @property
    def imported(self) -> bool:
        return self.status in IMPORTED and self.action in (Action.NEW, Action.UPDATE)

    @property
    def all_warnings(self) -> list[str]:
        return [*self.warnings, *self.check_warnings]


_LEGACY_STATUSES: dict[str, tuple[str, str]] = {
    "new": (Status.OK, Action.NEW),
    "updated": (Status.OK, Action.UPDATE),
    "unchanged": (Status.OK, Action.UNCHANGED),
    "docker_id_not_found": (Status.WARNING, Action.NEW),
    "repo_missing": (Status.WARNING, Action.NEW),
    "invalid": (Status.ERROR, Action.NONE),
    "duplicate": (Status.DUPLICATE, Action.NONE),
    "ignored": (Status.SKIPPED, Action.NONE),
}


@dataclass
class Parsed:
    format: Format
    encoding: str
    delimiter: str
    rows: list[Row]
    notices: list[str] = field(default_factory=list)


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().strip('"').lower()).strip()


OUR_HEADERS: dict[str, tuple[str, ...]] = {
    "identifier": ("identifier", "student id", "student number", "id", "username", "login"),
    "email": ("email", "email address", "e mail", "e mail address", "mail", "emailaddress"),
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
_KNOWN_HEADERS = frozenset(alias for aliases in OUR_HEADERS.values() for alias in aliases)


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
    if names & _KNOWN_HEADERS:
        return Format.OURS
    return None


def _column_map(headers: list[str], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Our field -> column index, first matching header wins."""
    normalised = [_norm(h) for h in headers]
    found: dict[str, int] = {}
    for field_name, names in aliases.items():
        for alias in names:
            if alias in normalised:
                found[field_name] = normalised.index(alias)
                break
    return found


# Each layout: the header names of each of our fields (first non-empty wins).
_LAYOUTS: dict[Format, dict[str, tuple[str, ...]]] = {
    Format.CLASSROOM: {
        "identifier": ("identifier",),
        "github_username": ("github username",),
        "name": ("name",),
    },
    Format.CANVAS: {
        "name": ("student",),
        "login": ("sis login id",),
        "sis": ("sis user id",),
        "id": ("id",),
    },
    Format.MOODLE: {
        "email": ("email address",),
        "first_name": ("first name",),
        "last_name": ("surname", "last name"),
        "id_number": ("id number",),
        "username": ("username",),
    },
}
_POSITIONAL = ("identifier", "name", "docker_id", "github_repo")
# Canvas: the export's second line is "Points Possible"; Canvas's "Test Student" belongs to
# the teacher.
_NOT_STUDENTS = frozenset({"points possible", "student, test", "test student"})


def parse_roster(data: bytes | str, *, classroom_repo_template: str = "") -> Parsed:
    """Rows from a roster, each checked and with a status (duplicates and the roster's own
    matches come from :func:`classify`); ``RosterError`` when the input cannot be used.

    ``classroom_repo_template`` (like ``my-org/docker-lab-{github_username}``) names each
    student's GitHub Classroom assignment repository from their GitHub login.
    """
    decoded = _text_of(data, max_bytes=MAX_BYTES, limits=LIMITS)
    text = decoded.text
    directive = _sep_directive(text)
    delimiter = directive or sniff_delimiter(_split_lines(text)[:50])
    records = read_records(text, delimiter, max_records=MAX_ROWS, limits=LIMITS)
    rows: list[Row] = []
    header: Record | None = None
    fmt: Format | None = None
    body: list[Record] = []
    for index, record in enumerate(records):
        if record.blank:
            rows.append(Row(record.line, status=Status.SKIPPED, reason="blank line"))
        elif index == 0 and directive is not None:
            rows.append(
                Row(record.line, status=Status.SKIPPED, reason=f"Excel's sep={directive} line")
            )
        elif _is_separator(record):
            rows.append(Row(record.line, status=Status.SKIPPED, reason="a separator line"))
        elif header is None and fmt is None and not body:
            fmt = detect_format(record.cells)
            if fmt is None:
                fmt = Format.OURS
                body.append(record)
            else:
                header = record
        else:
            body.append(record)
    if fmt is None or (not body and header is None):
        raise RosterError("The roster is empty: there is no student row in it.")
    if not body:
        raise RosterError("The roster has a header row but no student rows.")
    if header is not None and fmt is Format.OURS:
        columns = _column_map(header.cells, OUR_HEADERS)
        if "identifier" not in columns and "email" not in columns:
            raise RosterError(
                "No column says who the student is: add a column headed identifier or email."
            )
    reader = _RowReader(
        fmt, header, delimiter, classroom_repo_template, max(len(r.cells) for r in body)
    )
    rows.extend(reader.row(record) for record in body)
    rows.sort(key=lambda row: row.line)
    return Parsed(fmt, decoded.encoding, delimiter, rows, list(decoded.notices))


class _RowReader:
    def __init__(
        self,
        fmt: Format,
        header: Record | None,
        delimiter: str,
        template: str,
        widest: int,
    ) -> None:
        self.fmt = fmt
        self.delimiter = delimiter
        self.template = template
        self.headers = list(header.cells) if header is not None else []
        if header is None:
            self.columns = {name: i for i, name in enumerate(_POSITIONAL)}
            self.width = min(widest, len(_POSITIONAL)) if widest > 1 else 1
        else:
            aliases = OUR_HEADERS if fmt is Format.OURS else _LAYOUTS[fmt]
            self.columns = _column_map(self.headers, aliases)
            self.width = len(self.headers)

    def label(self, index: int) -> str:
        if index < len(self.headers) and self.headers[index].strip():
            return f"column {index + 1} ({self.headers[index].strip()})"
        return f"column {index + 1}"

    def raw(self, cells: list[str], name: str) -> tuple[str, int | None]:
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return "", index
        return cells[index], index

    def row(self, record: Record) -> Row:
        row = Row(record.line)
        cells = record.cells
        problem = self._shape(record)
        if problem:
            row.status, row.reason = Status.ERROR, problem
            return row
        values: dict[str, tuple[str, int | None]] = {}
        if self.fmt is Format.CANVAS:
            student, at = self.raw(cells, "name")
            if (
                not student.strip()
                or _norm(student) in _NOT_STUDENTS
                or (student.strip().lower() in _NOT_STUDENTS)
            ):
                row.name = student.strip()[:200]
                row.status, row.reason = (
                    Status.SKIPPED,
                    "not a student (a summary row of the export)",
                )
                return row
            if "," in student:
                last, first = (part.strip() for part in student.split(",", 1))
                student = f"{first} {last}".strip()
            values["name"] = (student, at)
            ident = next(
                (
                    self.raw(cells, k)
                    for k in ("login", "sis", "id")
                    if self.raw(cells, k)[0].strip()
                ),
                ("", None),
            )
            values["identifier"] = ident
            if "@" in ident[0]:
                values["email"] = ident
        elif self.fmt is Format.MOODLE:
            email_value = self.raw(cells, "email")
            values["email"] = email_value
            values["identifier"] = (
                email_value
                if email_value[0].strip()
                else next(
                    (
                        self.raw(cells, k)
                        for k in ("id_number", "username")
                        if self.raw(cells, k)[0].strip()
                    ),
                    ("", None),
                )
            )
            first, _ = self.raw(cells, "first_name")
            last, at = self.raw(cells, "last_name")
            values["name"] = (" ".join(p for p in (first.strip(), last.strip()) if p), at)
        elif self.fmt is Format.CLASSROOM:
            login, login_at = self.raw(cells, "github_username")
            values["identifier"] = self.raw(cells, "identifier")
            if not values["identifier"][0].strip() and login.strip():
                # Classroom leaves the identifier empty for students linked by GitHub only.
                values["identifier"] = (login, login_at)
            values["name"] = self.raw(cells, "name")
            row.github_username = login.strip()
            if not login.strip():
                row.warnings.append(
                    "not linked to GitHub yet in Classroom: imported without a repository"
                )
            elif self.template:
                values["github_repo"] = (
                    self.template.replace("{github_username}", login.strip()),
                    login_at,
                )
        else:
            for name in ("identifier", "email", "name", "docker_id", "github_repo"):
                values[name] = self.raw(cells, name)
            if not values["name"][0].strip() and (
                "first_name" in self.columns or "last_name" in self.columns
            ):
                first, _ = self.raw(cells, "first_name")
                last, at = self.raw(cells, "last_name")
                values["name"] = (" ".join(p for p in (first.strip(), last.strip()) if p), at)
            if not values["identifier"][0].strip():
                values["identifier"] = values["email"]
        if any(REPLACEMENT in cell for cell in cells):
            row.warnings.append(
                f"holds characters the file's encoding could not read ({REPLACEMENT}): check it"
            )
        self._check(row, values)
        return row

    def _shape(self, record: Record) -> str:
        """Why the record's cells do not fit the columns, or ""."""
        cells = record.cells
        extra = [c for c in cells[self.width :] if c.strip()] if self.width else []
        if extra:
            return (
                f"line {record.line} has {len(cells)} cells where "
                + (
                    f"the header has {self.width}"
                    if self.headers
                    else f"at most {self.width} are read"
                )
                + f" (extra: {extra[0][:40]!r}): does a cell hold "
                f"{DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))} without quotes? "
                "Quote that cell, or remove the extra cells."
            )
        if self.width > 1 and len([c for c in cells if c.strip()]) <= 1:
            for other in DELIMITERS:
                if other != self.delimiter and any(other in c for c in cells if c.strip()):
                    return (
                        f"line {record.line} is one cell holding {DELIMITER_NAMES[other]} "
                        f"({cells[0].strip()[:60]!r}), but the file's cells are separated by "
                        f"{DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}: "
                        "separate this line's cells the same way."
                    )
        return ""

    def _check(self, row: Row, values: Mapping[str, tuple[str, int | None]]) -> None:
        validators: dict[str, Callable[[str], identifiers.Cleaned]] = {
            "identifier": identifiers.identifier,
            "name": identifiers.name,
            "email": lambda v: identifiers.email(v) if v.strip() else identifiers.Cleaned(""),
            "docker_id": identifiers.docker_id,
            "github_repo": identifiers.github_repo,
        }
        errors: list[str] = []
        for name, validate in validators.items():
            raw, index = values.get(name, ("", None))
            where = self.label(index) if index is not None else FIELD_LABELS[name]
            try:
                cleaned = validate(raw)
            except ValidationError as error:
                errors.append(f"line {row.line}, {where}: {error}")
                continue
            setattr(row, name, cleaned.value)
            for change in cleaned.changes:
                row.changes.append([FIELD_LABELS[name], change.before, change.after, change.why])
            row.warnings.extend(f"{FIELD_LABELS[name]}: {w}" for w in cleaned.warnings)
        if "@" in row.identifier and not row.email:
            row.email = row.identifier
        if errors:
            row.status, row.reason = Status.ERROR, "; ".join(errors)
        _merge_changes(row)


def _merge_changes(row: Row) -> None:
    """One change per column and reason is enough for a person (a cell trimmed and lower-cased
    shows as two steps)."""
    merged: dict[tuple[str, str], list[str]] = {}
    for column, before, after, why in row.changes:
        key = (column, why)
        if key in merged:
            merged[key][2] = after
        else:
            merged[key] = [column, before, after, why]
    row.changes = list(merged.values())


# -- comparing with the roster ----------------------------------------------------------------------


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
    """Say what confirming would do with each row: duplicates (both lines named), matches with
    the roster (action new / update / unchanged) and the final status. Errors and skipped rows
    are left as they are; running it again on its own result gives the same answer."""
    by_identifier = {e.identifier.lower(): e for e in existing}
    docker_owner = {e.docker_id: e.identifier for e in by_identifier.values() if e.docker_id}
    seen_identifiers: dict[str, int] = {}
    seen_docker_ids: dict[str, int] = {}
    result: list[Row] = []
    for row in rows:
        result.append(row)
        if row.status in (Status.ERROR, Status.SKIPPED):
            row.action = Action.NONE
            continue
        row.action, row.updates, row.enrolment_id, row.reason = Action.NONE, {}, None, ""
        key = row.identifier.lower()
        if key in seen_identifiers:
            first = seen_identifiers[key]
            row.status = Status.DUPLICATE
            row.reason = (
                f"{row.identifier} is on lines {first} and {row.line}: line {first} is "
                "imported, this one is not"
            )
            continue
        seen_identifiers[key] = row.line
        docker_id = "" if row.docker_id_unknown else row.docker_id
        if docker_id:
            if docker_id in seen_docker_ids:
                first = seen_docker_ids[docker_id]
                row.status = Status.DUPLICATE
                row.reason = (
                    f"the Docker ID {docker_id} is on lines {first} and {row.line}: line "
                    f"{first} is imported, this one is not"
                )
                continue
            seen_docker_ids[docker_id] = row.line
            owner = docker_owner.get(docker_id)
            if owner is not None and owner.lower() != key:
                row.status = Status.DUPLICATE
                row.reason = f"the Docker ID {docker_id} belongs to {owner} on the roster"
                continue
        current = by_identifier.get(key)
        if current is None:
            row.action = Action.NEW
        else:
            row.enrolment_id = current.enrolment_id
            # The saved spelling of the identifier wins, so matching stays case-insensitive.
            row.identifier = current.identifier
            row.updates = {
                name: [old, new]
                for name, old, new in (
                    ("name", current.name, row.name),
                    ("email", current.email, row.email),
                    ("docker_id", current.docker_id, docker_id),
                    ("github_repo", current.github_repo, row.github_repo),
                )
                # An empty cell says nothing: it never erases what is already known.
                if new and new != old
            }
            row.action = Action.UPDATE if row.updates else Action.UNCHANGED
        settle(row)
    return result


def settle(row: Row) -> None:
    """The status of a row that is imported: warning over changed over ok."""
    if row.status in (Status.ERROR, Status.SKIPPED, Status.DUPLICATE):
        return
    if row.all_warnings:
        row.status = Status.WARNING
    elif row.changes:
        row.status = Status.CHANGED
    else:
        row.status = Status.OK


def updates_text(row: Row) -> str:
    return ", ".join(
        f"{FIELD_LABELS[name]} {old or '(none)'} → {new}"
        for name, (old, new) in row.updates.items()
    )


# -- bulk add: Docker IDs and emails ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One Docker ID or email of a bulk-add list."""

    line: int  # the line it is on, as the admin sees the text or file
    position: int  # its place on that line (1 for the first), for lines of several entries
    raw: str
    invitee: str  # lower-cased Docker ID or email; "" unless imported
    status: Status
    message: str = ""
    changes: tuple[identifiers.Change, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in IMPORTED


# Header cells naming the column of invitees in a CSV (or a header line pasted by mistake).
INVITEE_HEADERS = frozenset(
    {
        "docker id",
        "dockerid",
        "docker hub id",
        "username",
        "user",
        "email",
        "e mail",
        "email address",
        "e mail address",
        "invitee",
        "id",
        "login",
    }
)


def split_entries(line: str) -> list[str]:
    """The entries of one line: commas and semicolons separate them, except inside double
    quotes or angle brackets (``"Doe, Jane" <jane@uni.example>``); spaces never do."""
    entries: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for ch in line:
        if ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        if ch in ",;" and not quoted and not angled:
            entries.append("".join(current))
            current = []
        else:
            current.append(ch)
    entries.append("".join(current))
    return entries


class Invitees(list[Entry]):
    """A list's entries, and what else was read: how many lines, and which of them were
    blank or separator lines (so "20 lines, 18 entries" adds up on the page)."""

    def __init__(
        self, entries: Iterable[Entry] = (), *, lines: int = 0, blank_lines: Sequence[int] = ()
    ) -> None:
        super().__init__(entries)
        self.lines = lines
        self.blank_lines = tuple(blank_lines)


def parse_invitees(
    data: bytes | str, *, as_csv: bool | None = None, filename: str = ""
) -> Invitees:
    """Entries of a pasted list (one per line; commas and semicolons also separate) or of a
    CSV (the column a header names, else the first). ``as_csv`` None: a CSV when the file's
    name ends in .csv or its first line is a header. Blank and separator lines are not
    entries; a repeat of an earlier entry (case does not matter) is a duplicate naming both
    lines."""
    decoded = _text_of(data, max_bytes=INVITE_MAX_BYTES, limits=INVITE_LIMITS)
    text = decoded.text
    lines = _split_lines(text)
    first = next((line for line in lines if line.strip() and not _SEP_RE.match(line)), "")
    if as_csv is None:
        as_csv = filename.lower().endswith(".csv") or (
            _norm(re.split(r"[,;\t|]", first)[0]) in INVITEE_HEADERS
            and bool(re.search(r"[,;\t|]", first))
        )
    cells: list[tuple[int, str]]  # (line, text that holds entries)
    if as_csv:
        cells = _invitee_cells_of_csv(text)
    else:
        cells = []
        for number, line in enumerate(lines, start=1):
            if _SEP_RE.match(line) or not line.strip() or _SEPARATOR_LINE_RE.match(line):
                continue
            if not cells and _norm(line) in INVITEE_HEADERS:
                continue  # a header line pasted along with the list
            cells.append((number, line))
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, cell in cells:
        parts = split_entries(cell) if cell.strip() else [""]
        # The spaces around a separator are not part of an entry.
        parts = [p.strip() for p in parts if p.strip()] or [""]
        for position, raw in enumerate(parts, start=1):
            if len(entries) >= INVITE_MAX_ENTRIES:
                raise RosterError(
                    f"The list has more than {INVITE_MAX_ENTRIES:,} entries; lists "
                    f"{INVITE_LIMITS} are accepted. Split it into several lists."
                )
            entries.append(_entry(number, position, raw, seen))
    # Lines up to the last one with text; trailing empty lines are not part of the list.
    read = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=0)
    blank = [n for n in range(1, read + 1) if _SEPARATOR_LINE_RE.match(lines[n - 1])]
    return Invitees(entries, lines=read, blank_lines=blank)


def _entry(line: int, position: int, raw: str, seen: dict[str, int]) -> Entry:
    shown = raw.strip()[:320]
    if not raw.strip():
        return Entry(
            line,
            position,
            shown,
            "",
            Status.ERROR,
            f"Line {line}: no Docker ID or email in this row.",
        )
    try:
        cleaned = identifiers.invitee(raw)
    except ValidationError as error:
        return Entry(line, position, shown, "", Status.ERROR, f"Line {line}: {error}")
    if cleaned.value in seen:
        first = seen[cleaned.value]
        return Entry(
            line,
            position,
            shown,
            cleaned.value,
            Status.DUPLICATE,
            f"The same as line {first}: {cleaned.value} is on lines {first} and {line}.",
        )
    seen[cleaned.value] = line
    status = Status.CHANGED if cleaned.changes else Status.OK
    message = "; ".join(f"{c.why}: {c.before!r} → {c.after!r}" for c in cleaned.changes)
    return Entry(line, position, shown, cleaned.value, status, message[:500], cleaned.changes)


def _invitee_cells_of_csv(text: str) -> list[tuple[int, str]]:
    directive = _sep_directive(text)
    lines = _split_lines(text)
    delimiter = directive or sniff_delimiter(lines[:50])
    records = [
        r
        for i, r in enumerate(
            read_records(text, delimiter, max_records=INVITE_MAX_ENTRIES, limits=INVITE_LIMITS)
        )
        if not r.blank and not (i == 0 and directive) and not _is_separator(r)
    ]
    if not records:
        return []
    column = 0
    named = [i for i, cell in enumerate(records[0].cells) if _norm(cell) in INVITEE_HEADERS]
    if named:
        # A Docker ID column first, then an email one: a student number headed "ID" is the
        # last choice.
        def rank(index: int) -> int:
            header = _norm(records[0].cells[index])
            return 0 if "docker" in header else 1 if "mail" in header else 2

        column = min(named, key=rank)
        records = records[1:]
    return [(r.line, r.cells[column] if column < len(r.cells) else "") for r in records]
