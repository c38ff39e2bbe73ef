"""A bad API_TOKEN_RATE stops the server at start-up, not the first API request."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

# DRF's SimpleRateThrottle.parse_rate reads "<n>/<period>" and keys the period by its
# first letter.
RATE_RE = re.compile(r"^[1-9][0-9]*/[smhd]")


@register()
def check_token_rate(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    rate = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get("api_token")
    if isinstance(rate, str) and RATE_RE.match(rate):
        return []
    return [
        Error(
            f"API_TOKEN_RATE is {rate!r}, which is not a rate.",
            hint="Write it as a number of requests per second, minute, hour or day, "
            "e.g. 300/minute.",
            id="api.E001",
        )
    ]
