"""The container's health check: exit 0 when this container's /healthz answers 200.

``python -m hubcourse.healthcheck`` (the image's HEALTHCHECK). It asks as the public host
would, so Django's ALLOWED_HOSTS accepts it without listing 127.0.0.1 in production.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def public_host() -> str:
    """The first ALLOWED_HOSTS name (".example.org" means any subdomain: take the domain)."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    return first.lstrip(".") if first and first != "*" else "localhost"


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": public_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
