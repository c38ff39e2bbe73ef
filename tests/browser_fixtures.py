"""Playwright fixtures shared by every browser test (dashboard, student, organisation).

One Chromium per test session (starting it costs more than most tests), one fresh browser
context per test so cookies never leak between tests. The fixtures ``browser`` and ``page``
are registered once, in tests/conftest.py (a second registration would start a second
Playwright in the same thread, which Playwright refuses); import only the helpers::

    from tests.browser_fixtures import login_as, save_screenshot

and mark the tests ``@pytest.mark.browser``. Pages are served by pytest-django's
``live_server``; ``login_as`` signs a user in without going through the login form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ARTIFACTS", "browser", "login_as", "page", "save_screenshot"]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Generous for a 2-core machine shared with other test runs, still bounded.
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, started once per test session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh page in its own context; ``page.base_url`` is the live server's address."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    new_page.base_url = live_server.url
    yield new_page
    context.close()


def login_as(page: Any, user: Any) -> None:
    """Give ``page``'s context a signed-in session for ``user`` (no login form round trip)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": cookie.value,
                "url": page.base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


def save_screenshot(page: Any, app: str, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<app>/<name>.png`` and return its path."""
    folder = ARTIFACTS / app
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
