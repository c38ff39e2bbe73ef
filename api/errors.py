"""One shape for every API error, made in one place.

``{"error": {"code": "invalid", "message": "a sentence a person can act on",
"fields": {"docker_id": ["..."]}}}``: ``code`` is stable for scripts, ``message`` is for
people, ``fields`` names what to fix (empty unless the input was at fault). Services raise
``hubcourse.errors.ValidationError`` when a value breaks a domain rule (its ``key`` names
the field), Django's own exceptions, or ``hubcourse.errors.ExternalServiceError`` when Docker
Hub or GitHub refused; nothing else needs a try/except in the endpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hubcourse.errors import ExternalServiceError, RateLimited, sentence
from hubcourse.errors import ValidationError as DomainValidationError
from onboarding.courses import ActionRefused

log = logging.getLogger(__name__)

# DRF's default sentences, replaced by ones that say what to do.
MESSAGES: dict[str, str] = {
    "not_authenticated": (
        "Sign in, or send a personal API token in the header 'Authorization: Bearer hc_...'; "
        "create one at /settings/tokens/."
    ),
    "permission_denied": "You do not have permission to do this.",
    "not_found": "Nothing was found at this address. Check the course slug and ids in it.",
    "unsupported_media_type": "Send the request body as JSON (Content-Type: application/json).",
}
_MESSAGE_MAX = 600


class ApiError(exceptions.APIException):
    """An error a service or endpoint raises with its own code, message and status."""

    def __init__(
        self, message: str, *, code: str, status_code: int = status.HTTP_400_BAD_REQUEST
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code


def error_body(
    code: str, message: str, fields: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:

    if isinstance(exc, ActionRefused):
        # The pages' "cannot do this as asked" (already confirmed, checks still running...).
        exc = ApiError(str(exc), code="refused", status_code=status.HTTP_409_CONFLICT)
    if isinstance(exc, SuspiciousOperation):
        # Django's own limits on a request (too many fields, too big a body).
        exc = ApiError(
            "The request is too large or has too many fields; send less at once.",
            code="request_too_large",
        )
    if isinstance(exc, DomainValidationError):
        exc = exceptions.ValidationError(domain_errors(exc))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, ExternalServiceError):
        return _external_error(exc)
    elif isinstance(exc, Http404):
        # get_object_or_404 speaks of models ("No ApplyRun matches the given query.").
        text = str(exc)
        exc = exceptions.NotFound(None if not text or "matches the given query" in text else text)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug: the traceback goes to the log, the caller gets the same shape as ever.
        log.error("API request failed", exc_info=exc)
        return Response(
            error_body(
                "server_error",
                "Something went wrong on hubcourse's side. Try again; if it keeps failing, "
                "tell the site administrator the time of the request.",
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        general = fields.pop("non_field_errors", []) + fields.pop("", [])
        response.data = error_body("invalid", _validation_message(general, fields), fields)
        return response
    code = _code(exc)
    if isinstance(exc, exceptions.Throttled):
        seconds = getattr(exc, "wait", None)
        wait = int(seconds) + 1 if seconds is not None else 60
        message = f"Too many requests with this API token: wait {wait} seconds and try again."
    elif _is_default(exc):
        message = MESSAGES.get(code, str(exc.detail))
    else:
        message = str(exc.detail)
    response.data = error_body(code, message)
    return response


def domain_errors(error: DomainValidationError) -> dict[str, list[str]]:
    """The domain's broken rules as the API's ``fields`` (the input as a whole under
    ``non_field_errors``), in the same sentences the pages show."""
    fields: dict[str, list[str]] = {}
    for problem in error.problems:
        fields.setdefault(problem.key or "non_field_errors", []).append(sentence(problem))
    return fields


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _is_default(exc: exceptions.APIException) -> bool:
    return str(exc.detail) == str(exc.default_detail)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as ``{"a.0.b": ["..."]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, (Mapping, list)) for item in detail):
        for index, value in enumerate(detail):
            if value:
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, list):
        out[prefix] = [str(item) for item in detail]
    else:
        out[prefix] = [str(detail)]
    return out


def _validation_message(general: list[str], fields: Mapping[str, list[str]]) -> str:
    parts = list(general)
    parts += [f"{name}: {' '.join(messages)}" for name, messages in fields.items()]
    if not parts:
        return "The request was not valid."
    if general and not fields:
        message = " ".join(general)
    else:
        message = "Fix these and send it again: " + "; ".join(parts)
    return message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 1] + "…"


def _external_error(exc: ExternalServiceError) -> Response:
    """Docker Hub or GitHub refused: 502 when a person must change something, 503 when
    trying again later will do (with ``Retry-After`` when the service said when)."""
    if exc.permanent:
        return Response(
            error_body("external_service_refused", str(exc)), status=status.HTTP_502_BAD_GATEWAY
        )
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(int(exc.seconds_to_wait()) + 1)
    return Response(
        error_body("external_service_unavailable", f"{exc}. Try again in a few minutes."),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers=headers,
    )
