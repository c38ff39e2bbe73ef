"""``/api/v1/``: where the API starts. Its description, its documentation pages and the
lists a client usually begins with, as absolute links (Django's debug list of URL patterns
answered here before, and a 404 in production)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# (name in the answer, URL name): the lists that need no course or id to read.
STARTING_POINTS = (
    ("courses", "api:course-list"),
    ("builds", "api:build-list"),
    ("audit", "api:audit-list"),
    ("my-enrolments", "api:my-enrolment-list"),
    ("invite-jobs", "api:invite-job-list"),
)
DOCUMENTATION = (
    ("schema", "api:schema"),
    ("docs", "api:docs"),
    ("redoc", "api:redoc"),
)


class ApiIndexSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(help_text="The API's version: v1.")
    documentation = serializers.DictField(
        child=serializers.URLField(),
        help_text="The OpenAPI description (schema) and its pages (docs, redoc).",
    )
    endpoints = serializers.DictField(
        child=serializers.URLField(), help_text="The lists a client usually starts from."
    )
    authentication = serializers.CharField(help_text="How to send credentials.")


class ApiIndex(APIView):
    # Only addresses, the same for everyone: nobody needs to sign in to find the way in.
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where the API starts",
        responses=ApiIndexSerializer,
    )
    def get(self, request: Request) -> Response:
        def links(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
            return {name: request.build_absolute_uri(reverse(url)) for name, url in pairs}

        return Response(
            {
                "version": "v1",
                "documentation": links(DOCUMENTATION),
                "endpoints": links(STARTING_POINTS),
                "authentication": (
                    "Send a personal API token (made on the API tokens page) as "
                    "'Authorization: Bearer <token>'."
                ),
            }
        )
