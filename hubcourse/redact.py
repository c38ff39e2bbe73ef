"""Webhook URLs carry the course's secret token (Docker Hub signs nothing): it never reaches
a log line. A logging filter for Django's own request logging (and everything else through
the root handler), and a gunicorn logger class for its access log."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

# /hooks/<service>/<token>/ anywhere in a text (a path, a full URL, a request line).
HOOK_TOKEN = re.compile(r"(/hooks/[A-Za-z0-9_-]+/)[^/\s\"'?]+")
MASK = r"\1[redacted]"


def redact(text: str) -> str:
    return HOOK_TOKEN.sub(MASK, text)


class RedactHookTokens(logging.Filter):
    """Rewrites the record's message, arguments included, without the tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # Django's request logging keeps the request on the record for other handlers.
        request = getattr(record, "request", None)
        if request is not None and HOOK_TOKEN.search(getattr(request, "path", "")):
            record.request = None
        return True


class GunicornLogger(Logger):  # type: ignore[misc]  # untyped library
    """gunicorn's logger with the request line and path atoms redacted
    (``--logger-class hubcourse.redact.GunicornLogger``)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
