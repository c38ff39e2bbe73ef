"""Loading the published descriptions; what happens when one is missing.

GitHub's description is fetched by ``scripts/fetch_github_openapi.sh`` (npm). Locally, a
machine without npm skips the tests that need it, saying why; under CI (``CI`` set to true)
a missing description fails them, so a green CI run always means they ran.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GITHUB_SPEC = ROOT / ".cache" / "octokit" / "api.github.com.deref.json"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip locally, fail under CI."""
    if under_ci():
        pytest.fail(f"{what} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(what)


@functools.cache
def _read_github(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def github_spec() -> dict[str, Any]:
    if not GITHUB_SPEC.is_file():
        missing(
            f"GitHub's OpenAPI description is absent ({GITHUB_SPEC.relative_to(ROOT)}); "
            "run scripts/fetch_github_openapi.sh (needs npm)"
        )
    return _read_github(str(GITHUB_SPEC))
