"""Conditional answers for the polled partials: a refresh where nothing changed costs a 304.

A live page asks for its partial every few seconds and the answer is mostly the same HTML.
Each page has one validator (next to the code that reads its data) that digests, in one
query, the whole content of every row the partial is rendered from, so a change by any path
(``save()`` or a bare ``QuerySet.update()``, which leaves ``updated_at`` alone) gives a new
ETag. Time words ("3 minutes ago") move with the clock and not with the rows, so the current
minute is part of every validator: a time word can read up to a minute late, and unchanged
refreshes within the minute are 304s.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags, quote_etag

CLOCK_SECONDS = 60


def clock_bucket(now: float | None = None) -> int:
    """The current minute: relative times on a page can change only when it does."""
    return int((time.time() if now is None else now) // CLOCK_SECONDS)


def rows_digest(sql: str, params: Sequence[int | str]) -> str | None:
    """The digest of the rows ``sql`` selects (one text column, one row), or ``None`` where
    the database cannot make one (only PostgreSQL's row-to-text is used): then there is no
    validator and every refresh renders."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return "" if row is None or row[0] is None else str(row[0])


def make_etag(*parts: object) -> str:
    """A quoted strong ETag from the parts: who is looking, the row digest, the minute, the
    template version... Only a digest leaves the server, never the data."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return quote_etag(digest)


def answer(
    request: HttpRequest,
    etag: Callable[[], str | None],
    render: Callable[[], HttpResponse],
) -> HttpResponse:
    """304 without rendering when the client already holds the current ETag, else the
    rendered page carrying it. ``etag()`` gives ``None`` when there is no validator (always
    render). It is read before rendering: a change landing during the render makes the
    page newer than its ETag, which costs one more render at the next refresh, never a
    stale page. The views stay ``never_cache``: our polling script keeps the ETag itself
    and sends it back."""
    current = etag() if request.method in ("GET", "HEAD") else None
    if current is not None:
        held = parse_etags(request.headers.get("If-None-Match", ""))
        # Weak comparison, as RFC 9110 asks of If-None-Match.
        if any(tag.removeprefix("W/") == current for tag in held):
            response: HttpResponse = HttpResponseNotModified()
            response.headers["ETag"] = current
            return response
    response = render()
    if current is not None and response.status_code == 200:
        response.headers["ETag"] = current
    return response
