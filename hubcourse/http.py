"""The one HTTP helper every outgoing call goes through.

What it guarantees, so no client has to remember it:

* connect and read timeouts are always set (``HTTP_CONNECT_TIMEOUT``/``HTTP_READ_TIMEOUT``,
  read from settings at call time);
* a User-Agent naming hubcourse and its version;
* no hidden retries at all: the adapter has ``max_retries=0``. A POST that timed out may have
  been applied, so only the caller, which can re-read state first, may decide to try again;
* redirects are followed for GET and HEAD only (GitHub answers a renamed repository with 301),
  unless the caller says otherwise (``allow_redirects``: to read a ``Location`` itself);
* every failure becomes one exception from ``hubcourse.errors``: ``PermanentError`` for
  4xx, ``TransientError`` for 5xx, 429, timeouts and broken connections.

A client adapts the error mapping to its service by subclassing ``ErrorTranslator`` (to read
the service's error body, or to classify a rate-limit 403) and passes an ``observer`` to see
every response, successful or not, which is how the rate-limit governor learns.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from hubcourse.errors import (
    AuthenticationFailed,
    Conflict,
    ConnectionFailed,
    ExternalServiceError,
    Forbidden,
    Invalid,
    NotFound,
    PermanentError,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/hubcourse/hubcourse"
# A 429 that says nothing about when to come back: wait one Docker Hub rate window.
DEFAULT_RATE_LIMIT_WAIT = dt.timedelta(seconds=60)
# Retry-After above this is a unix time, not a number of seconds (Docker Hub sent both, see
# specs/dockerhub-api-notes.md §10); no service asks for a 30-year wait.
_EPOCH_THRESHOLD = 10**9
# Service messages are quoted to a person; a whole HTML error page is not a message.
_MAX_MESSAGE_CHARS = 300

_local = threading.local()

Observer = Callable[[requests.Response], None]


def user_agent() -> str:
    version = getattr(settings, "HUBCOURSE_VERSION", "0")
    return f"hubcourse/{version} (+{PROJECT_URL})"


def timeouts() -> tuple[float, float]:
    return (
        float(getattr(settings, "HTTP_CONNECT_TIMEOUT", 5.0)),
        float(getattr(settings, "HTTP_READ_TIMEOUT", 30.0)),
    )


def session() -> requests.Session:
    """This thread's session: connection pooling without sharing a Session across threads."""
    current: requests.Session | None = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        # Explicit, so that nobody "improves" it with a urllib3 Retry later.
        adapter = HTTPAdapter(max_retries=0)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current


def close_session() -> None:
    """Close this thread's session (tests, worker shutdown)."""
    current: requests.Session | None = getattr(_local, "session", None)
    if current is not None:
        current.close()
        _local.session = None


class ErrorTranslator:
    """Turns a failed response into the right exception. Subclass per service."""

    def message(self, response: requests.Response) -> str:
        """The service's explanation, read from its error body; the reason phrase if none."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("message", "detail", "error", "text"):
                value = body.get(key)
                if isinstance(value, str) and value.strip():
                    return _shorten(value)
        text = (
            response.text.strip() if "html" not in response.headers.get("Content-Type", "") else ""
        )
        return _shorten(text) if text else (response.reason or "no explanation given")

    def retry_at(self, response: requests.Response, now: dt.datetime) -> dt.datetime:
        """When a rate-limited caller may try again, from whichever header the service sent."""
        for header in ("Retry-After", "X-Retry-After"):
            moment = parse_retry_after(response.headers.get(header), now)
            if moment is not None:
                return moment
        reset = response.headers.get("X-RateLimit-Reset")
        if reset is not None and response.headers.get("X-RateLimit-Remaining") == "0":
            moment = parse_retry_after(reset, now, epoch=True)
            if moment is not None:
                return moment
        return now + DEFAULT_RATE_LIMIT_WAIT

    def error(
        self, response: requests.Response, *, service: str, operation: str
    ) -> ExternalServiceError:
        status = response.status_code
        message = self.message(response)
        headers = response.headers
        if status == 429:
            return RateLimited(
                service,
                operation,
                status,
                message,
                retry_at=self.retry_at(response, dt.datetime.now(dt.UTC)),
                headers=headers,
            )
        if status >= 500:
            return ServiceUnavailable(service, operation, status, message, headers=headers)
        permanent_class: type[PermanentError] = {
            400: Invalid,
            401: AuthenticationFailed,
            403: Forbidden,
            404: NotFound,
            409: Conflict,
            410: NotFound,
            422: Invalid,
        }.get(status, PermanentError)
        return permanent_class(service, operation, status, message, headers=headers)


DEFAULT_TRANSLATOR = ErrorTranslator()


def request(
    method: str,
    url: str,
    *,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    translator: ErrorTranslator = DEFAULT_TRANSLATOR,
    observer: Observer | None = None,
    timeout: tuple[float, float] | None = None,
    allow_redirects: bool | None = None,
) -> requests.Response:
    """Send one request, once. Return the response if its status is 2xx (or 3xx not followed).

    Raise an ``ExternalServiceError`` subclass otherwise. ``operation`` is the verb phrase used
    in messages ("create repository revelare/alice"); keep secrets out of it.
    ``allow_redirects`` defaults to following for GET and HEAD only.
    """
    method = method.upper()
    all_headers = {"User-Agent": user_agent()}
    all_headers.update(headers or {})
    try:
        response = session().request(
            method,
            url,
            params=params,
            json=json,
            data=data,
            headers=all_headers,
            timeout=timeout or timeouts(),
            allow_redirects=(
                method in ("GET", "HEAD") if allow_redirects is None else allow_redirects
            ),
        )
    except requests.Timeout as exc:
        # ConnectTimeout is also a ConnectionError; a timeout is the more useful thing to say.
        raise ServiceTimeout(service, operation, None, _transport_message(exc)) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise ConnectionFailed(service, operation, None, _transport_message(exc)) from exc
    except requests.RequestException as exc:
        # Invalid URL, too many redirects: a configuration problem, not a passing one.
        raise PermanentError(service, operation, None, _transport_message(exc)) from exc

    # Path only: query strings may carry tokens on some services.
    logger.debug(
        "%s %s %s -> %s in %.3fs",
        service,
        method,
        response.request.path_url.split("?", 1)[0],
        response.status_code,
        response.elapsed.total_seconds(),
    )
    if observer is not None:
        observer(response)
    if response.status_code >= 400:
        raise translator.error(response, service=service, operation=operation)
    return response


def parse_retry_after(
    value: str | None, now: dt.datetime, *, epoch: bool = False
) -> dt.datetime | None:
    """Read a Retry-After style value: seconds, a unix time or an HTTP date; ``None`` if unreadable.

    ``epoch=True`` reads a plain number as a unix time (``X-RateLimit-Reset``). Otherwise a
    number is seconds, unless it is so large that it can only be a unix time (Docker Hub put
    one in ``Retry-After`` in 2025).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if number < 0:
        return None
    if epoch or number >= _EPOCH_THRESHOLD:
        return dt.datetime.fromtimestamp(number, dt.UTC)
    return now + dt.timedelta(seconds=number)


def _transport_message(exc: requests.RequestException) -> str:
    # urllib3's text repeats host and port; the kind of failure is what a person needs.
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke during the answer"
    if isinstance(exc, requests.ConnectionError):
        return "the connection was refused or broken"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects"
    return type(exc).__name__


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"
