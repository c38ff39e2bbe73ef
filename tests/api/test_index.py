"""``/api/v1/`` says where the API starts instead of Django's debug list of URL patterns."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_api_index_links_its_documentation_and_starting_lists() -> None:
    response = APIClient().get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert body["documentation"]["schema"] == "http://testserver/api/schema/"
    assert body["documentation"]["docs"] == "http://testserver/api/docs/"
    assert body["endpoints"]["courses"] == "http://testserver/api/v1/courses/"
    assert body["endpoints"]["my-enrolments"] == "http://testserver/api/v1/me/enrolments/"
    assert "Bearer" in body["authentication"]
    # Every link answers (the lists ask for credentials; none is missing).
    for url in [*body["documentation"].values(), *body["endpoints"].values()]:
        assert APIClient().get(url).status_code in (200, 401), url
