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
    """Plans the pages asked to apply. Applying is only recorded unless the test asks for the
    ``engine``: in eager mode the engine would run every student's steps inside the request."""
    plans: list[Any] = []
    if "engine" in request.fixturenames:
        return plans
    from onboarding import engine

    def record(plan: Any, **kwargs: Any) -> Any:
        plans.append(plan)
        return engine.Applied(course_tasks=[], chains=0, skipped_in_flight=0)

    monkeypatch.setattr(engine, "apply_plan", record)
    return plans


@pytest.fixture
def engine(sandbox: Any) -> Any:
    """The real onboarding engine, run eagerly against the sandbox."""
    return sandbox


@pytest.fixture
def demo_class(sandbox: Any, settings: Any) -> dict[str, Any]:
    """The sandbox's demo world: a dozen students with Docker IDs and GitHub repositories."""
    seeded = sandbox.reset("demo")
    settings.GITHUB_TOKEN = seeded["github"]["instructor"]["token"]
    return dict(seeded)
