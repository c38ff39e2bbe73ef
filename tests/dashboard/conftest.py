from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import PASSWORD


@pytest.fixture
def as_user(client: Client) -> Any:
    """Sign the test client in as a cast member and return it."""

    def sign_in(user: Any) -> Client:
        assert client.login(email=user.email, password=PASSWORD)
        return client

    return sign_in


@pytest.fixture(autouse=True)
def applied(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Plans the pages asked to apply. Without the sandbox, applying is only recorded: in
    eager mode the engine would otherwise reach for a Docker Hub that is not running."""
    plans: list[Any] = []
    if "sandbox" in request.fixturenames:
        return plans
    from repositories import reconcile

    def record(plan: Any, **kwargs: Any) -> Any:
        plans.append(plan)
        return reconcile.Applied(course_tasks=[], chains=0, skipped_in_flight=0)

    monkeypatch.setattr(reconcile, "apply_plan", record)
    return plans
