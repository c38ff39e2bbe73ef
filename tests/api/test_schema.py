"""The OpenAPI description comes from the code, and its documentation pages need no CDN."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_and_describes_every_v1_route(schema):
    from tests.api.routes import api_routes

    assert schema["openapi"].startswith("3.")
    documented = set(schema["paths"])
    for route in api_routes():
        assert route.openapi_path in documented, route.openapi_path


def test_credentials_are_write_only_in_the_schema(schema):
    components = schema["components"]["schemas"]
    assert "dockerhub_token" not in components["CourseOutput"]["properties"]
    assert "dockerhub_token" in components["CourseInputRequest"]["properties"]
    assert "dockerhub_token_set_at" in components["CourseOutput"]["properties"]


def test_every_operation_documents_the_error_shape_and_token_auth(schema):
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code in ("400", "401", "403", "404", "429"):
                content = operation["responses"][code]["content"]["application/json"]
                assert content["schema"]["$ref"].endswith("/Error"), (method, path, code)
            assert {"apiToken": []} in operation["security"]


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_documentation_pages_load_their_scripts_from_this_server(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_the_roster_confirm_documents_its_apply_choice_defaulting_to_true(schema):
    operation = schema["paths"]["/api/v1/courses/{slug}/roster-imports/{import_id}/confirm/"]
    body = operation["post"]["requestBody"]
    assert not body.get("required", False)  # no body confirms and applies, as before
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    field = schema["components"]["schemas"][ref]["properties"]["apply"]
    assert field["type"] == "boolean" and field["default"] is True
    assert "“Import and apply”" in field["description"]
