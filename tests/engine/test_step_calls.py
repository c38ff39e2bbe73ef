"""The Docker Hub steps make the fewest calls the API allows: no read right after our own
write, and a read only where an answer could differ from what the row records."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.credentials import dockerhub_client_for
from accounts.models import Course
from repositories.models import StudentRepository
from repositories.services import repository_ensure, repository_grant_permissions
from sandbox.dockerhub import team_grants
from tests.engine.support import make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)

REPO = "/v2/namespaces/<namespace>/repositories"


def _calls(sandbox: Any, method: str, part: str) -> int:
    return requests_to(sandbox, method, part)


def test_a_new_repository_costs_one_create_and_no_read(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    reads_before = _calls(sandbox, "GET", "/repositories/<")

    repository = repository_ensure(enrolment_id=enrolment.pk)

    assert repository is not None and repository.created_at is not None
    assert _calls(sandbox, "POST", REPO) == 1
    assert _calls(sandbox, "GET", "/repositories/<") == reads_before


def test_a_repository_made_by_hand_is_not_taken_over_when_the_create_says_it_exists(
    sandbox: Any, hub_course: Course
) -> None:
    from accounts import managed

    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    dockerhub_client_for(hub_course).create_repository(
        "revelare", "docker-101-student000", is_private=True
    )

    with pytest.raises(managed.NotOurs):
        repository_ensure(enrolment_id=enrolment.pk)

    # The hand-made one and ours (refused: it exists); nothing read or changed after that.
    assert _calls(sandbox, "POST", REPO) == 2
    assert _calls(sandbox, "GET", REPO + "/<repository>") == 0
    assert managed.found(hub_course, "repository", "revelare/docker-101-student000")


def test_first_grants_on_a_new_repository_are_two_writes_and_no_list(
    sandbox: Any, hub_course: Course
) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository_ensure(enrolment_id=enrolment.pk)

    repository_grant_permissions(enrolment_id=enrolment.pk)

    assert _calls(sandbox, "POST", "/repositories/<namespace>/<repository>/groups") == 2
    assert _calls(sandbox, "GET", "/repositories/<namespace>/<repository>/groups") == 0
    row = StudentRepository.objects.get(enrolment=enrolment)
    assert row.permission_granted_at and row.instructors_permission_at


def test_only_the_grant_the_row_lacks_is_sent(sandbox: Any, hub_course: Course) -> None:
    (enrolment,) = make_class(sandbox, hub_course, 1, checked=True)
    repository_ensure(enrolment_id=enrolment.pk)
    repository_grant_permissions(enrolment_id=enrolment.pk)
    # The reconcile's observation found the course team's grant gone.
    StudentRepository.objects.filter(enrolment=enrolment).update(permission_granted_at=None)

    repository_grant_permissions(enrolment_id=enrolment.pk)

    assert _calls(sandbox, "POST", "/repositories/<namespace>/<repository>/groups") == 3
    granted = team_grants(sandbox.world, "revelare", "docker-101-student000")
    assert granted == {"students": "read", "instructors": "admin"}
