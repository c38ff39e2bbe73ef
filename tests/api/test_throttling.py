"""Token requests are rate-limited per token; the browser's session is not."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.throttling import TokenRateThrottle
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api_token": "3/minute"})


def test_a_token_past_its_rate_gets_429_with_retry_after(
    three_per_minute, token_client, course, instructor
):
    client = token_client(instructor)
    statuses = [client.get("/api/v1/courses/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/courses/")
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert "seconds" in error["message"]
    # Each token has its own budget.
    assert token_client(instructor).get("/api/v1/courses/").status_code == 200


def test_the_browser_session_is_not_throttled(three_per_minute, course, instructor):
    client = APIClient()
    client.login(email=instructor.email, password=PASSWORD)
    assert {client.get("/api/v1/courses/").status_code for _ in range(5)} == {200}
