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
