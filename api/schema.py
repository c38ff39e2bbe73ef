"""The OpenAPI description: the token scheme, and the error shape on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers

# Every operation can answer these, in the one error shape (api.errors).
ERROR_RESPONSES: dict[str, str] = {
    "400": "The request was not valid: `fields` says what to fix.",
    "401": "Not signed in, or the API token is not valid.",
    "403": "Signed in, but your role on the course does not allow this.",
    "404": "No such object, or not one you can see.",
    "409": "Refused as asked, e.g. a preview already confirmed; the message says why.",
    "415": "The body is not in a format this endpoint reads (JSON, or multipart for files).",
    "429": "Too many requests with this API token; see `Retry-After`.",
}
# Operations that call Docker Hub or GitHub while answering can also answer these.
EXTERNAL_RESPONSES: dict[str, str] = {
    "502": "Docker Hub or GitHub refused; the message says what to change.",
    "503": "Docker Hub or GitHub is unavailable or rate-limited; try again later.",
}


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, for scripts: invalid, not_found, ...")
    message = serializers.CharField(help_text="A sentence for people: what went wrong, what to do.")
    # DRF's metaclass takes declared fields off the class, so this name is free at run time.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted for nested ones) to its problems; empty if none.",
    )


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


class AutoSchema(openapi.AutoSchema):
    def get_tags(self) -> list[str]:
        # "courses/{slug}/enrolments/..." is about enrolments, not courses.
        parts = [p for p in self.path.split("/") if p and p not in ("api", "v1")]
        if not parts:
            return ["index"]  # /api/v1/ itself
        if parts[0] == "courses" and len(parts) > 2:
            return [parts[2]]
        return [parts[0]]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = dict(ERROR_RESPONSES)
        if getattr(self.view, "calls_outside", False):
            codes.update(EXTERNAL_RESPONSES)
        for code, description in codes.items():
            if code not in responses:
                response = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorSerializer, code, direction=direction
                )
                responses[code] = {**response, "description": description}
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (hc_...), created at /settings/tokens/.",
        }
