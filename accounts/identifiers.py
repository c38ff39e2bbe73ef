"""The one set of rules for what people type or paste about a student: a Docker ID, an email,
a GitHub repository, a roster identifier, a name, or a bulk-add entry (Docker ID or email).

Every function takes the text as given and returns a :class:`Cleaned` value: the normalised
value and the list of what was changed on the way (before -> after, and why), plus warnings
(kept, but worth a look). A value that breaks a rule raises ``hubcourse.errors.ValidationError``
naming the field, the value and the rule. Nothing here touches the database or the network;
the roster import, the join form, bulk add, the API and ``bulk_invite`` all call these, so they
never disagree about what a Docker ID or a repository is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from hubcourse.errors import ValidationError

# Docker Hub's sign-up rule: 4 to 30 lower-case letters and digits.
DOCKER_ID_RE = re.compile(r"^[a-z0-9]{4,30}$")
DOCKER_ID_RULE = "Docker IDs are 4 to 30 lower-case letters and digits"
# GitHub's rules: an owner is letters, digits and single hyphens, neither first nor last, at
# most 39 characters; a repository name is letters, digits, '.', '_' and '-', at most 100.
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
GITHUB_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
GITHUB_RULE = (
    "write it as owner/repository (or paste its GitHub address); owners are letters, digits "
    "and single hyphens, up to 39, repository names letters, digits, '.', '_' and '-', up to 100"
)
# The columns an enrolment stores these in (accounts.models.Enrolment); checked here so a
# value never reaches the database too long for its column.
EMAIL_MAX = 254
IDENTIFIER_MAX = 254
NAME_MAX = 200
GITHUB_REPO_MAX = 140

# Explicit direction controls (embeddings, overrides, isolates and marks): they can make a
# name read differently from how it is stored ("Trojan Source").
BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")
_NAME_IN_ANGLES_RE = re.compile(
    r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<plain>[^<>"]*?))\s*<(?P<addr>[^<>]*)>\s*$'
)


@dataclass(frozen=True)
class Change:
    """One thing a validator changed: ``before`` -> ``after``, and ``why`` in words."""

    before: str
    after: str
    why: str

    def __str__(self) -> str:
        return f"{self.why}: {self.before!r} -> {self.after!r}"


@dataclass(frozen=True)
class Cleaned:
    value: str
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class _Steps:
    """Collects the changes made to one value, step by step."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.changes: list[Change] = []
        self.warnings: list[str] = []

    def apply(self, new: str, why: str) -> None:
        if new != self.value:
            self.changes.append(Change(self.value, new, why))
            self.value = new

    def result(self, value: str | None = None) -> Cleaned:
        return Cleaned(
            self.value if value is None else value, tuple(self.changes), tuple(self.warnings)
        )


def _refuse(field_name: str, value: str, rule: str, message: str | None = None) -> ValidationError:
    shown = _shown(value)
    return ValidationError(
        message or f"{field_name} {shown} is not valid: {rule}",
        field=field_name,
        value=value,
        rule=rule,
    )


def _shown(value: str, limit: int = 60) -> str:
    """The value as a person can read it in a message: quoted, escaped, never endless."""
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)


def _strip_controls(steps: _Steps, *, keep_line_breaks: bool = False) -> None:
    """Remove control and format characters (NUL included: no database text column holds
    it); line breaks and tabs become spaces unless kept."""
    if not keep_line_breaks:
        steps.apply(
            re.sub(r"[\r\n\t\v\f\u2028\u2029\x85]+", " ", steps.value),
            "line break or tab replaced by a space",
        )
    text = steps.value
    if any(ch in BIDI_CONTROLS for ch in text):
        steps.warnings.append(
            "it held bidirectional control characters, which can make text read differently "
            "from how it is stored; they were removed"
        )
        text = "".join(ch for ch in text if ch not in BIDI_CONTROLS)
    cleaned = "".join(
        ch
        for ch in text
        if not (unicodedata.category(ch) in ("Cc", "Cs") and ch not in ("\n", "\t"))
        and ch not in ("\ufeff", "\u200b")
    )
    if not keep_line_breaks:
        cleaned = cleaned.replace("\n", " ").replace("\t", " ")
    steps.apply(cleaned, "control characters removed")


def _trim(steps: _Steps) -> None:
    steps.apply(steps.value.strip(), "trimmed")


def _check_length(field_name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise _refuse(
            field_name,
            value,
            f"at most {limit} characters",
            f"{field_name} is {len(value)} characters long; at most {limit} fit",
        )


# -- plain text: names and identifiers -----------------------------------------------------------


def text(value: str, *, field_name: str, max_length: int) -> Cleaned:
    """Free text on one line (a name): control characters removed, trimmed, length checked."""
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    steps.apply(re.sub(r" {2,}", " ", steps.value), "spaces collapsed")
    _check_length(field_name, steps.value, max_length)
    return steps.result()


def name(value: str) -> Cleaned:
    """A student's name: free text, with a warning when a spreadsheet would run it."""
    cleaned = text(value, field_name="name", max_length=NAME_MAX)
    if cleaned.value.startswith(FORMULA_STARTS):
        return Cleaned(
            cleaned.value,
            cleaned.changes,
            (
                *cleaned.warnings,
                "the name starts like a spreadsheet formula; hubcourse's CSV exports "
                "neutralise it, but check it is really a name",
            ),
        )
    return cleaned


def identifier(value: str) -> Cleaned:
    """The roster's name for a student: a student number, a login, or an email (then checked
    as one and lower-cased). Empty is an error."""
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    if not steps.value:
        raise _refuse(
            "identifier",
            value,
            "every student needs an identifier or an email",
            "no identifier or email",
        )
    _check_length("identifier", steps.value, IDENTIFIER_MAX)
    if "@" in steps.value:
        checked = email(steps.value)
        return Cleaned(checked.value, (*steps.changes, *checked.changes), tuple(steps.warnings))
    return steps.result()


# -- email ---------------------------------------------------------------------------------------


def email(value: str) -> Cleaned:
    """An email address, lower-cased, at most 254 characters (what the column holds)."""
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    steps.apply(steps.value.removeprefix("mailto:"), "mailto: removed")
    address = steps.value
    if len(address) > EMAIL_MAX:
        raise _refuse(
            "email",
            address,
            f"at most {EMAIL_MAX} characters",
            f"email {_shown(address)} is {len(address)} characters long; at most {EMAIL_MAX} fit",
        )
    try:
        validate_email(address)
    except DjangoValidationError:
        raise _refuse(
            "email",
            address,
            "an email address is name@domain",
            f"{_shown(address)} is not a valid email address",
        ) from None
    steps.apply(address.lower(), "lower-cased")
    return steps.result()


# -- Docker ID -----------------------------------------------------------------------------------


def docker_id(value: str) -> Cleaned:
    """A Docker ID in Docker Hub's spelling (lower case). Empty stays empty."""
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    # A profile address pasted instead of the name.
    match = re.match(r"^(?:https?://)?hub\.docker\.com/(?:u|r)/([^/?#]+)/?$", steps.value, re.I)
    if match:
        steps.apply(match.group(1), "Docker Hub address -> Docker ID")
    steps.apply(steps.value.lower(), "lower-cased")
    if steps.value and not DOCKER_ID_RE.match(steps.value):
        raise _refuse(
            "Docker ID",
            value,
            DOCKER_ID_RULE,
            f"{_shown(value.strip())} is not a Docker ID: they are 4 to 30 lower-case letters "
            "and digits",
        )
    return steps.result()


# -- GitHub --------------------------------------------------------------------------------------


def _github_hosts() -> frozenset[str]:

    own = (urlsplit(str(getattr(settings, "GITHUB_URL", "") or "")).hostname or "").lower()
    return GITHUB_HOSTS | ({own} if own else set())


def github_owner(value: str) -> str:
    """A GitHub user or organisation name, checked against GitHub's rule."""
    if not GITHUB_OWNER_RE.match(value):
        raise _refuse(
            "GitHub owner",
            value,
            "letters, digits and single hyphens, not first or last, at most 39",
            f"{_shown(value)} is not a GitHub user or organisation name: they are letters, "
            "digits and single hyphens (not first or last), at most 39 characters",
        )
    return value


def _address(value: str, address: str) -> SplitResult:
    """``address`` split, or the repository refused in words when it cannot be (an
    unbalanced ``[`` in the host makes ``urlsplit`` raise)."""
    try:
        return urlsplit(address)
    except ValueError:
        raise _refuse(
            "GitHub repository",
            value,
            GITHUB_RULE,
            f"{_shown(value.strip())} is not an address a browser would open: write the repository "
            "as owner/repository (for example ada/docker-course) or paste its GitHub address",
        ) from None


def github_repo(value: str) -> Cleaned:
    """``owner/repo`` from every form people write it in; empty stays empty.

    ``owner/repo``; ``github.com/owner/repo`` with or without ``https://`` or ``www.``;
    a trailing ``.git`` or slash; a link inside the repository (``/tree/<branch>``, a file);
    ``git@github.com:owner/repo.git`` and ``ssh://git@github.com/owner/repo``. An address on
    another host is refused by its name ("gitlab.com is not GitHub").
    """
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    text_value = steps.value
    if not text_value:
        return steps.result()
    host = ""
    path = text_value
    ssh = re.match(r"^(?:ssh://)?[A-Za-z0-9_.-]+@(?P<host>[^:/\s]+)[:/](?P<path>.*)$", text_value)
    if ssh:
        host, path = ssh.group("host"), ssh.group("path")
    elif "://" in text_value:
        parts = _address(value, text_value)
        host, path = parts.hostname or "", parts.path
    else:
        first = text_value.split("/", 1)[0]
        # A GitHub owner never holds a dot: a first segment with one is a host.
        if "." in first:
            parts = _address(value, "https://" + text_value)
            host, path = parts.hostname or first, parts.path
    if host:
        if host.lower() not in _github_hosts():
            raise _refuse(
                "GitHub repository",
                value,
                "a repository on GitHub",
                f"{host.lower()} is not GitHub: give the repository on GitHub, as owner/repository",
            )
        segments = [s for s in path.split("/") if s]
        # A link inside the repository (a branch, a file, its issues) names it by its first
        # two segments.
        segments = segments[:2]
    else:
        segments = path.split("/")
        if len(segments) == 3 and segments[2] == "":
            segments = segments[:2]  # owner/repo/
    if len(segments) != 2 or not all(segments):
        raise _refuse(
            "GitHub repository",
            value,
            GITHUB_RULE,
            f"{_shown(text_value)} is not a GitHub repository: write it as owner/repository "
            "(for example ada/docker-course) or paste its GitHub address",
        )
    owner, repo = segments
    if repo.endswith(".git"):
        repo = repo[:-4]
    if not GITHUB_OWNER_RE.match(owner) or not GITHUB_NAME_RE.match(repo) or repo in (".", ".."):
        raise _refuse(
            "GitHub repository",
            value,
            GITHUB_RULE,
            f"{_shown(owner + '/' + repo)} is not a valid GitHub repository name: {GITHUB_RULE}",
        )
    steps.apply(f"{owner}/{repo}", "address -> owner/repo")
    return steps.result()


# -- bulk add: one entry ---------------------------------------------------------------------------


def invitee(value: str) -> Cleaned:
    """A bulk-add entry: a Docker ID or an email, lower-cased. ``Name <email>`` and
    ``"Name" <email>`` (what a mail client copies) give the email."""
    steps = _Steps(value)
    _strip_controls(steps)
    _trim(steps)
    match = _NAME_IN_ANGLES_RE.match(steps.value)
    if match:
        steps.apply(match.group("addr").strip(), "name dropped, email kept")
    steps.apply(steps.value.strip("\"'").strip(), "quotes removed")
    entry = steps.value
    if not entry:
        raise _refuse("entry", value, "a Docker ID or an email", "This entry is empty.")
    if "@" in entry:
        try:
            checked = email(entry)
        except ValidationError as error:
            raise _refuse("entry", value, "a Docker ID or an email", str(error)) from None
        return Cleaned(checked.value, (*steps.changes, *checked.changes), tuple(steps.warnings))
    if any(ch.isspace() for ch in entry):
        raise _refuse(
            "entry",
            value,
            "one Docker ID or email per entry",
            f"{_shown(entry)} is not a Docker ID or an email: it holds a space. Put one Docker "
            "ID or email per line (commas and semicolons also separate them).",
        )
    steps.apply(entry.lower(), "lower-cased")
    if not DOCKER_ID_RE.match(steps.value):
        raise _refuse(
            "entry",
            value,
            "a Docker ID or an email",
            f"{_shown(entry)} is not a Docker ID (4 to 30 letters and digits) or an email address.",
        )
    return steps.result()
