"""Property-based run of the OpenAPI schema against the API (schemathesis).

For every operation, schemathesis generates requests from the schema (bounded: a few
examples each) and checks that no answer is a server error and that every answer's status,
content type, headers and body are what the schema says. Path parameters point at real
objects most of the time, so the checks reach past the 404s into the endpoints' own work.
Celery tasks are recorded, not run: this tests the API, not the onboarding engine.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import token_create
from tests.api.test_permission_matrix import world  # noqa: F401  (a fixture)

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Schemathesis calls the WSGI handler itself, which closes the database connection at
    the end of each request (CONN_MAX_AGE on PostgreSQL): the test's transaction would go
    with it. Django's own test client unhooks the same two signals."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_header(world):  # noqa: F811
    _, raw = token_create(user=world["users"]["site_admin"], name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure can be replayed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_schema_says(case, world, admin_header):  # noqa: F811
    real = {
        "slug": world["slug"],
        "enrolment_id": world["enrolment_id"],
        "build_id": world["build_id"],
        "import_id": world["import_id"],
        "run_id": world["run_id"],
        "role_id": world["role_id"],
        "job_id": world["job_id"]["send"],
    }
    if case.path_parameters:
        for name in case.path_parameters:
            if name in real:
                case.path_parameters[name] = real[name]
        if case.path.startswith("/api/v1/courses/{slug}/offboardings/{job_id}"):
            case.path_parameters["job_id"] = world["job_id"]["offboarding"]
    case.call_and_validate(headers=admin_header, checks=CHECKS)
