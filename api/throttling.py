"""Rate limits for API tokens: a runaway script slows down, the browser is untouched."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken

# DRF imports this module from its settings while rest_framework.views is half-loaded, maybe
# before the apps are ready: models and views are imported late.
if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TokenRateThrottle(SimpleRateThrottle):
    """Counts requests per token in the cache (shared by every web process)."""

    scope = "api_token"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:

        if not isinstance(request.auth, ApiToken):
            return None  # session requests come from a person at a browser
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
