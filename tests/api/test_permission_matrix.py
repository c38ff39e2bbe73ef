"""Every API endpoint by every role, generated from the URL configuration.

The expectations are written out below, one line per endpoint and method, in the pages'
terms: course staff (instructor or TA) see a course, only instructors manage it, anyone
else gets 404 for a course that is not theirs, and nobody gets anything without signing in.
A new endpoint without a line here fails ``test_every_endpoint_has_an_expectation``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import BulkInvite, BulkInviteRow, CourseRole, Enrolment
from accounts.tokens import token_create
from builds.models import Build, BuildState
from hubcourse.audit import audit_record
from hubcourse.models import JobStatus
from onboarding.models import ApplyRun, Offboarding, OffboardingItem, RosterImport
from tests.api.routes import Route, api_routes

pytestmark = pytest.mark.django_db

ROLES = ("site_admin", "instructor", "ta", "student", "outsider", "anonymous")
OK = "ok"  # allowed, and done: a 2xx answer to the valid request below

# Who may do what, as on the pages. Site administrators act as instructors everywhere.
STAFF = {
    "site_admin": OK,
    "instructor": OK,
    "ta": OK,
    "student": 404,
    "outsider": 404,
    "anonymous": 401,
}
MANAGE = {**STAFF, "ta": 403}
# Lists across courses answer everyone signed in, with only what they may see (tested
# in test_lists.py).
SCOPED = {**STAFF, "student": OK, "outsider": OK}
# Only instructors (of any course) and site administrators start a course.
CREATE_COURSE = {**STAFF, "ta": 403, "student": 403, "outsider": 403}
# A build is visible to its course's staff and to the student whose build it is.
OWN_BUILD = {**STAFF, "student": OK}
# A student's own enrolment: theirs alone, 404 for everyone else (staff included).
OWN = {**STAFF, "site_admin": 404, "instructor": 404, "ta": 404, "student": OK}
# The organisation's pages: site administrators only.
SITE_ADMIN = {**STAFF, "instructor": 403, "ta": 403, "student": 403, "outsider": 403}
# The index (/api/v1/): links to the documentation and the lists, for anyone.
EVERYONE = dict.fromkeys(ROLES, OK)

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("course-list", "GET"): SCOPED,
    ("course-list", "POST"): CREATE_COURSE,
    ("organisation-list", "GET"): SCOPED,  # each sees the organisations granted to them
    ("course-detail", "GET"): STAFF,
    ("course-detail", "PATCH"): MANAGE,
    ("enrolment-list", "GET"): STAFF,
    ("enrolment-list", "POST"): MANAGE,
    ("enrolment-actions", "POST"): STAFF,  # TAs retry and re-send, like on the board
    ("enrolment-detail", "GET"): STAFF,
    ("enrolment-detail", "PATCH"): MANAGE,
    ("enrolment-detail", "DELETE"): MANAGE,
    ("enrolment-retry", "POST"): STAFF,
    ("roster-import-list", "GET"): MANAGE,
    ("roster-import-list", "POST"): MANAGE,
    ("roster-import-detail", "GET"): MANAGE,
    ("roster-import-rows", "GET"): MANAGE,
    ("roster-import-confirm", "POST"): MANAGE,
    ("roster-import-discard", "POST"): MANAGE,
    ("plan", "GET"): STAFF,
    ("plan-apply", "POST"): MANAGE,
    ("apply-run-list", "GET"): STAFF,
    ("apply-run-detail", "GET"): STAFF,
    ("build-list", "GET"): SCOPED,
    ("build-detail", "GET"): OWN_BUILD,
    ("audit-list", "GET"): SCOPED,
    ("offboarding-preview", "GET"): MANAGE,
    ("offboarding-list", "GET"): MANAGE,
    ("offboarding-list", "POST"): MANAGE,
    ("offboarding-detail", "GET"): MANAGE,
    ("offboarding-items", "GET"): MANAGE,
    ("offboarding-resume", "POST"): MANAGE,
    ("invite-job-list", "GET"): SITE_ADMIN,
    ("invite-job-list", "POST"): SITE_ADMIN,
    ("invite-job-detail", "GET"): SITE_ADMIN,
    ("invite-job-rows", "GET"): SITE_ADMIN,
    ("invite-job-send", "POST"): SITE_ADMIN,
    ("invite-job-resume", "POST"): SITE_ADMIN,
    ("role-list", "GET"): STAFF,
    ("role-list", "POST"): MANAGE,
    ("role-detail", "DELETE"): MANAGE,
    ("my-enrolment-list", "GET"): SCOPED,
    ("my-enrolment-detail", "GET"): OWN,
    ("my-enrolment-detail", "PATCH"): OWN,
    ("index", "GET"): EVERYONE,  # addresses only, the same for everyone
}

# A request body that is valid for the role that may send it.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("course-list", "POST"): {"name": "Docker 102", "slug": "docker-102"},
    ("course-detail", "PATCH"): {"name": "Docker 101 (spring)"},
    ("enrolment-list", "POST"): {"identifier": "new.student@example.edu", "name": "New"},
    ("enrolment-actions", "POST"): {"action": "retry", "filter": {"errors": "true"}},
    ("enrolment-detail", "PATCH"): {"name": "Sam S. Student"},
    ("roster-import-list", "POST"): {"text": "ada@example.edu,Ada Lovelace"},
    ("offboarding-list", "POST"): {"repository_action": "archive", "confirmation": "Docker 101"},
    ("role-list", "POST"): {"email": "new.ta@example.edu", "role": "ta"},
    ("invite-job-list", "POST"): {"invitees": "adalovelace, alanturing", "team": "students"},
    # The Docker ID was checked on Docker Hub before, so the page does not ask again.
    ("my-enrolment-detail", "PATCH"): {"docker_id": "samstudent", "github_repo": "sam/docker-lab"},
}


def _cases() -> list[Any]:
    cases = []
    for route in api_routes():
        for method in route.methods:
            for role in ROLES:
                cases.append(pytest.param(route, method, role, id=f"{method} {route.name} {role}"))
    return cases


def test_every_endpoint_has_an_expectation():
    found = {(route.name, method) for route in api_routes() for method in route.methods}
    assert found - set(EXPECTED) == set(), "add these endpoints to EXPECTED"
    assert set(EXPECTED) - found == set(), "these endpoints are gone: remove them"


@pytest.fixture
def world(course, site_admin, instructor, ta, student, outsider, queued_tasks):
    enrolment = Enrolment.objects.get(user=student)
    Enrolment.objects.filter(pk=enrolment.pk).update(
        docker_id="samstudent", docker_id_verified_at=timezone.now()
    )
    build = Build.objects.create(
        enrolment=enrolment,
        backend="dockerhub-autobuild",
        external_id="b1",
        state=BuildState.SUCCESS,
    )
    preview = RosterImport.objects.create(
        course=course,
        created_by=instructor,
        source="pasted text",
        format="ours",
        encoding="UTF-8",
        delimiter=",",
        rows=[
            {
                "line": 1,
                "identifier": "zoe@example.edu",
                "name": "Zoe",
                "email": "zoe@example.edu",
                "docker_id": "",
                "github_repo": "",
                "github_username": "",
                "status": "new",
                "reason": "",
                "enrolment_id": None,
                "changes": {},
            }
        ],
        status=RosterImport.Status.READY,
    )
    run = ApplyRun.objects.create(course=course, created_by=instructor, total=3, students=1)
    # Stopped by an error, so that resuming them is allowed; the invite job awaits sending.
    offboarding = Offboarding.objects.create(
        course=course, repository_action="archive", status=JobStatus.FAILED, error="boom"
    )
    OffboardingItem.objects.create(offboarding=offboarding, identifier="sam.student@example.edu")
    invite_job = BulkInvite.objects.create(
        organisation="revelare", status=JobStatus.DONE, phase=BulkInvite.Phase.CHECK, total=1
    )
    BulkInviteRow.objects.create(job=invite_job, line=1, raw="adalovelace", dry_run="invite")
    failed_job = BulkInvite.objects.create(
        organisation="revelare", status=JobStatus.FAILED, phase=BulkInvite.Phase.SEND, total=1
    )
    audit_record(service="hubcourse", action="test", target="x", outcome="ok", course=course)
    return {
        "slug": course.slug,
        "enrolment_id": enrolment.pk,
        "build_id": build.pk,
        "import_id": preview.pk,
        "run_id": run.pk,
        "role_id": CourseRole.objects.get(course=course, user=ta).pk,
        "job_id": {"offboarding": offboarding.pk, "send": invite_job.pk, "resume": failed_job.pk},
        "users": {
            "site_admin": site_admin,
            "instructor": instructor,
            "ta": ta,
            "student": student,
            "outsider": outsider,
        },
    }


def _client(world: dict[str, Any], role: str) -> APIClient:
    client = APIClient()
    if role != "anonymous":
        _, raw = token_create(user=world["users"][role], name="matrix")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize(("route", "method", "role"), _cases())
def test_permission_matrix(world, route: Route, method: str, role: str):
    expected = EXPECTED.get((route.name, method))
    if expected is None:
        pytest.fail(f"{method} {route.name} has no expectation: add it to EXPECTED")
    job_id = world["job_id"]
    kind = "offboarding" if route.name.startswith("offboarding") else route.name.split("-")[-1]
    if (route.name, method) == ("offboarding-list", "POST"):
        # One unfinished offboarding per course: the stopped one would refuse a new start.
        Offboarding.objects.filter(pk=job_id["offboarding"]).update(status=JobStatus.DONE)
    url = route.url(**{**world, "job_id": job_id.get(kind, job_id["send"])})
    body = BODIES.get((route.name, method), {})
    response = _client(world, role).generic(
        method, url, data=json.dumps(body), content_type="application/json"
    )
    want = expected[role]
    error = response.json().get("error") if response.content else None
    if want == OK:
        assert 200 <= response.status_code < 300, (response.status_code, error)
    else:
        assert response.status_code == want, (response.status_code, error)
        assert error and error["message"]
