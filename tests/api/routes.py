"""Every API route, read from the URL configuration, for tests that must cover them all."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    name: str  # the URL name, without the "api:" namespace
    pattern: str  # Django's route, e.g. "api/v1/courses/<slug:slug>/"
    methods: tuple[str, ...]

    @property
    def openapi_path(self) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.pattern)

    def url(self, **kwargs: object) -> str:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), self.pattern)
        return "/" + path


def _walk(patterns: list[URLPattern | URLResolver], prefix: str) -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for item in patterns:
        if isinstance(item, URLResolver):
            found += _walk(item.url_patterns, prefix + str(item.pattern))
        else:
            found.append((prefix + str(item.pattern), item))
    return found


def api_routes() -> list[Route]:
    """Routes under /api/v1/, with the HTTP methods their view answers (HEAD/OPTIONS aside)."""
    routes = []
    for pattern, item in _walk(get_resolver().url_patterns, ""):
        if not pattern.startswith("api/v1/"):
            continue
        view_class = getattr(item.callback, "view_class", None)
        assert view_class is not None, f"{pattern} is not a class-based API view"
        methods = tuple(
            m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)
        )
        assert item.name, f"{pattern} has no URL name"
        routes.append(Route(item.name, pattern, methods))
    return routes
