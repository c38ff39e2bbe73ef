"""Removing an automated build when Docker Hub has no ``DELETE`` for its source (issue 18).

Nobody has seen ``DELETE /api/build/v1/{ns}/source/{uuid}/`` work (notes §11.1). When it
answers 404 or 405, hubcourse switches every rule off with the recorded ``PATCH``; when that
is refused too, it says the build must be removed on Docker Hub's page, and names the page.
The sandbox's ``unconfirmed_routes_405`` switch answers 405 on the unconfirmed routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from accounts.models import Course, Enrolment
from builds.backends import backend_for
from builds.services import build_configure
from hubcourse.models import AuditEvent
from tests.builds.support import make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"


def _remove(enrolment: Enrolment) -> str | None:
    fresh = Enrolment.objects.select_related("course").get(pk=enrolment.pk)
    return backend_for(fresh.course).remove(fresh)


def _configured(sandbox: Any, course: Course, settings: Any) -> Enrolment:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "adalovelace")
    build_configure(enrolment_id=student.pk)
    assert sandbox.world.dockerhub["builds"]["sources"]
    return student


def _audit(student: Enrolment) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(
            enrolment=student,
            action__in=("autobuild.delete", "autobuild.disable", "autobuild.manual"),
        )
        .order_by("id")
        .values_list("action", "outcome", "message")
    )


@pytest.fixture
def refuse_patch(sandbox: Any) -> Iterator[None]:
    """Docker Hub refusing the PATCH of a build source as well (a WSGI layer in front)."""
    app = sandbox.server.app

    def refusing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] == "PATCH" and path.startswith("/api/build/v1/"):
            start_response("405 METHOD NOT ALLOWED", [("Content-Type", "application/json")])
            return [b'{"detail": "Method \\"PATCH\\" not allowed."}']
        answer: Iterable[bytes] = app(environ, start_response)
        return answer

    sandbox.server.app = refusing
    try:
        yield
    finally:
        sandbox.server.app = app


def test_a_source_that_cannot_be_deleted_has_its_rules_switched_off(
    sandbox: Any, course: Course, settings: Any
) -> None:
    student = _configured(sandbox, course, settings)
    sandbox.world.config.update({"unconfirmed_routes_405": True})

    done = _remove(student)

    builds = sandbox.world.dockerhub["builds"]
    assert len(builds["sources"]) == 1, "the source stays: it could not be deleted"
    assert builds["settings"] and all(not s["autobuild"] for s in builds["settings"].values())
    assert done is not None and "switched off" in done
    ((action, outcome, message),) = _audit(student)
    assert (action, outcome) == ("autobuild.disable", AuditEvent.Outcome.OK)
    assert "refused to remove" in message


def test_a_source_that_can_be_neither_deleted_nor_changed_names_the_page(
    sandbox: Any, course: Course, settings: Any, refuse_patch: None
) -> None:
    student = _configured(sandbox, course, settings)
    sandbox.world.config.update({"unconfirmed_routes_405": True})

    done = _remove(student)

    builds = sandbox.world.dockerhub["builds"]
    assert all(s["autobuild"] for s in builds["settings"].values()), "nothing was changed"
    image = f"{sandbox.seeded['dockerhub']['org']}/docker-101-adalovelace"
    page = f"{settings.DOCKERHUB_WEB_URL.rstrip('/')}/repository/docker/{image}/builds"
    assert done is not None and page in done and "remove it on Docker Hub's page" in done
    ((action, outcome, message),) = _audit(student)
    assert (action, outcome) == ("autobuild.manual", AuditEvent.Outcome.ERROR)
    assert page in message


def test_a_source_that_can_be_deleted_is_deleted_and_the_record_says_so(
    sandbox: Any, course: Course, settings: Any
) -> None:
    student = _configured(sandbox, course, settings)

    done = _remove(student)

    assert sandbox.world.dockerhub["builds"]["sources"] == {}
    assert done is not None and "removed" in done
    ((action, outcome, _),) = _audit(student)
    assert (action, outcome) == ("autobuild.delete", AuditEvent.Outcome.OK)
