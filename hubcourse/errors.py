"""The one exception family for calls to the outside world (Docker Hub, GitHub), and the
domain's validation error for values people give (``ValidationError``, at the end).

Callers decide what to do from the class alone: a ``PermanentError`` will fail the same way
again until a person changes something (credentials, a name, a permission), so it is recorded
and shown; a ``TransientError`` is worth retrying later, and ``RateLimited`` says exactly when.
``str(error)`` is a sentence meant for the instructor's status board, so it never contains a
URL, a header or a secret: only the service, what we tried, the service's own words and the
HTTP status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError as DjangoValidationError


class ExternalServiceError(Exception):
    """A call to an external service failed.

    ``service`` names it for a person ("Docker Hub"), ``operation`` is what we tried, written
    as a verb phrase ("create repository revelare/alice"), ``status`` is the HTTP status or
    ``None`` when no response came back, ``message`` the service's own explanation.
    """

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        message: str,
        *,
        permanent: bool,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        self.operation = operation
        self.status = status
        self.message = message
        self.permanent = permanent
        # Response headers, kept so the rate-limit governor can learn from failed calls too;
        # never part of the text.
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.service} refused to {self.operation}: {self._detail()}{self._status_suffix()}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Celery pickles exceptions into task results; the keyword-only arguments need help.
        return (_rebuild, (type(self), self.__dict__.copy()))

    def _detail(self) -> str:
        return self.message.rstrip(".") or "no explanation given"

    def _status_suffix(self) -> str:
        return f" (HTTP {self.status})" if self.status is not None else ""


def _rebuild(cls: type[ExternalServiceError], state: dict[str, object]) -> ExternalServiceError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class PermanentError(ExternalServiceError):
    """Retrying will not help until a person changes something."""

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(service, operation, status, message, permanent=True, headers=headers)


class AuthenticationFailed(PermanentError):
    """401: the credentials are wrong, revoked or expired beyond renewal."""


class Forbidden(PermanentError):
    """403: the credentials are valid but may not do this (role, scope, plan)."""


class NotFound(PermanentError):
    """404 or 410: the thing does not exist (or is hidden from these credentials)."""


class Invalid(PermanentError):
    """400 or 422: the service rejected what we sent."""


class Conflict(Invalid):
    """409: the request clashes with what exists (a name already taken, an invite already sent)."""


class UnexpectedResponse(PermanentError):
    """The service answered, but not in a shape this client understands."""

    def __str__(self) -> str:
        return (
            f"{self.service} gave an answer hubcourse does not understand to {self.operation}: "
            f"{self._detail()}{self._status_suffix()}"
        )


class TransientError(ExternalServiceError):
    """Worth retrying later: the service was busy, slow, down or unreachable."""

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(service, operation, status, message, permanent=False, headers=headers)


class RateLimited(TransientError):
    """429 (or GitHub's rate-limit 403): do not use this credential again before ``retry_at``."""

    def __init__(
        self,
        service: str,
        operation: str,
        status: int | None,
        message: str,
        *,
        retry_at: dt.datetime,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.retry_at = retry_at
        super().__init__(service, operation, status, message, headers=headers)

    def __str__(self) -> str:
        return (
            f"{self.service} rate-limited the request to {self.operation}; "
            f"try again after {_clock(self.retry_at)}{self._status_suffix()}"
        )

    def seconds_to_wait(self, now: dt.datetime | None = None) -> float:
        """Seconds to wait from ``now``, never negative: a Celery task's ``countdown``."""
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (self.retry_at - now).total_seconds())


class Throttled(RateLimited):
    """hubcourse itself held the call back to stay under the service's limit; nothing was sent."""

    def __init__(self, service: str, operation: str, *, retry_at: dt.datetime) -> None:
        super().__init__(service, operation, None, "rate-limit budget spent", retry_at=retry_at)

    def __str__(self) -> str:
        return (
            f"hubcourse held back the request to {self.operation} on {self.service} to stay "
            f"under its rate limit; it will try again after {_clock(self.retry_at)}"
        )


class ServiceUnavailable(TransientError):
    """5xx: the service failed on its side."""

    def __str__(self) -> str:
        return (
            f"{self.service} failed on its side while trying to {self.operation}: "
            f"{self._detail()}{self._status_suffix()}"
        )


class ServiceTimeout(TransientError):
    """No answer within the timeout. A write may or may not have been applied: re-read first."""

    def __str__(self) -> str:
        return f"{self.service} did not answer in time to {self.operation}: {self._detail()}"


class ConnectionFailed(TransientError):
    """No connection could be made or it broke before an answer came."""

    def __str__(self) -> str:
        return f"Could not reach {self.service} to {self.operation}: {self._detail()}"


def _clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ValidationError(DjangoValidationError):
    """A value a person gave breaks a rule of the domain (a Docker ID, an email, a repository).

    Raised by the validators in ``accounts.identifiers`` and the roster parser; pages, forms
    and serializers translate it into their own shapes and never decide the rule themselves.
    A subclass of Django's, so a form's ``clean_<field>`` may let it through as it is.
    ``field`` names what was checked ("Docker ID"), ``value`` is what was given and ``rule``
    the rule it broke, in words; ``str()`` is the whole sentence.

    ``key`` names the input the rule is about, in the callers' spelling ("slug",
    "docker_id"), so a form shows the sentence next to that field and the API under that
    name in ``fields``; empty means the input as a whole.
    """

    def __init__(
        self, message: str, *, field: str = "", value: str = "", rule: str = "", key: str = ""
    ) -> None:
        super().__init__(message, code="invalid")
        self.field = field
        self.value = value
        self.rule = rule
        self.key = key

    def __str__(self) -> str:
        return str(self.message)

    def keyed(self, key: str) -> ValidationError:
        """The same refusal, about the input ``key`` (an identifier rule serves many inputs)."""
        return ValidationError(
            str(self), field=self.field, value=self.value, rule=self.rule, key=key
        )

    @property
    def problems(self) -> tuple[ValidationError, ...]:
        """Every broken rule this error carries (one, unless it is a ``ValidationErrors``)."""
        return (self,)


def sentence(error: ValidationError) -> str:
    """The error's words as a sentence (identifier rules leave the full stop to the caller)."""
    text = str(error).rstrip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


class ValidationErrors(ValidationError):
    """Several rules broken at once (a course's settings are checked together), each a
    ``ValidationError`` with its ``key``; ``str()`` joins their sentences."""

    def __init__(self, problems: Sequence[ValidationError]) -> None:
        self._problems = tuple(p for problem in problems for p in problem.problems)
        super().__init__(" ".join(str(p) for p in self._problems))

    @property
    def problems(self) -> tuple[ValidationError, ...]:
        return self._problems

    @classmethod
    def raise_any(cls, problems: Sequence[ValidationError]) -> None:
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise cls(problems)
