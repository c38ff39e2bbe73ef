"""The project's sandbox fixture: hubcourse's settings point at a live, freshly reset sandbox."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.integration


def test_the_settings_point_at_the_running_sandbox(sandbox):
    response = requests.post(
        f"{settings.DOCKERHUB_API_URL}/v2/auth/token",
        json={"identifier": settings.DOCKERHUB_USERNAME, "secret": settings.DOCKERHUB_TOKEN},
        timeout=5,
    )
    assert response.status_code == 200
    assert "access_token" in response.json()


def test_each_test_starts_from_the_empty_seed(sandbox):
    response = requests.get(f"{settings.DOCKERHUB_API_URL}/v2/users/ada-lovelace-x/", timeout=5)
    assert response.status_code == 404
    assert sandbox.seeded["students"] == []
