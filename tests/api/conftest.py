"""API test helpers: a client that sends a personal token, as scripts do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import token_create


@pytest.fixture
def token_client(db: Any) -> Callable[[User], APIClient]:
    """``token_client(user)``: an APIClient that authenticates with a new token of ``user``."""

    def make(user: User) -> APIClient:
        _, raw = token_create(user=user, name="test script")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> None:
    # Throttle counters live in the cache, which outlives a test's database.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def queued_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Celery tasks are recorded, not run: API tests check what is asked, not the engine."""
    from celery.app.task import Task

    queued: list[tuple[str, tuple[Any, ...]]] = []

    def record(self: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        queued.append((self.name, tuple(args or ())))

    monkeypatch.setattr(Task, "apply_async", record)
    return queued
