"""The class board as data, roster changes one student at a time, retries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Enrolment, OnboardingState, PreflightState
from builds.models import Build, BuildState
from hubcourse.models import AuditEvent
from onboarding.models import ApplyRun

pytestmark = pytest.mark.django_db


def _url(course, suffix=""):
    return f"/api/v1/courses/{course.slug}/enrolments/{suffix}"


def test_the_list_gives_each_student_their_state_steps_and_latest_build(
    token_client, course, instructor, student
):
    sam = Enrolment.objects.get(user=student)
    Build.objects.create(enrolment=sam, backend="b", external_id="1", state=BuildState.FAILED)
    latest = Build.objects.create(
        enrolment=sam, backend="b", external_id="2", state=BuildState.RUNNING
    )
    Enrolment.objects.create(
        course=course,
        identifier="zoe@example.edu",
        error_step="invite",
        error_message="Docker Hub does not know the Docker ID zoe.",
        error_permanent=True,
        state=OnboardingState.ERROR,
    )
    body = token_client(instructor).get(_url(course)).json()
    assert body["count"] == 2
    sam_row, zoe_row = body["results"]
    assert sam_row["identifier"] == "sam.student@example.edu" and sam_row["joined"] is True
    assert sam_row["latest_build"]["id"] == latest.pk
    assert sam_row["latest_build"]["state"] == "running"
    assert len(sam_row["steps"]) == 5
    assert sam_row["steps"][0] == {"label": "Sign up for a Docker ID", "done": False}
    assert sam_row["error"] is None
    assert zoe_row["state"] == "error" and zoe_row["latest_build"] is None
    assert zoe_row["error"]["step"] == "invite" and zoe_row["error"]["permanent"] is True
    assert "zoe" in zoe_row["summary"]


def test_the_list_filters_and_orders_like_the_board(token_client, course, instructor, student):
    sam = Enrolment.objects.get(user=student)
    Build.objects.create(enrolment=sam, backend="b", external_id="1", state=BuildState.FAILED)
    Enrolment.objects.create(course=course, identifier="zoe@example.edu", error_step="team")
    Enrolment.objects.create(course=course, identifier="al@example.edu", name="Alan")
    client = token_client(instructor)

    def identifiers(query):
        response = client.get(_url(course) + "?" + query)
        assert response.status_code == 200, response.json()
        return [row["identifier"] for row in response.json()["results"]]

    assert identifiers("build=failed") == ["sam.student@example.edu"]
    assert identifiers("build=none") == ["al@example.edu", "zoe@example.edu"]
    assert identifiers("errors=true") == ["zoe@example.edu"]
    assert identifiers("q=alan") == ["al@example.edu"]
    assert identifiers("joined=true") == ["sam.student@example.edu"]
    assert identifiers("ordering=-identifier")[0] == "zoe@example.edu"
    assert identifiers("page_size=1&page=2") == ["sam.student@example.edu"]


def test_the_list_costs_the_same_queries_for_10_or_60_students(token_client, course, instructor):
    client = token_client(instructor)
    client.get(_url(course))  # the token's first use is written down once; not counted

    def count_for(n):
        existing = Enrolment.objects.filter(course=course).count()
        for i in range(existing, n):
            e = Enrolment.objects.create(course=course, identifier=f"s{i}@example.edu")
            Build.objects.create(enrolment=e, backend="b", external_id=str(i))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(_url(course) + "?page_size=100").status_code == 200
        return len(queries)

    assert count_for(10) == count_for(60)


def test_an_instructor_adds_a_student_and_their_onboarding_is_queued(
    token_client, course, instructor, queued_tasks
):
    response = token_client(instructor).post(
        _url(course),
        {
            "identifier": "ada@example.edu",
            "name": "Ada",
            "docker_id": "AdaLovelace",
            "github_repo": "https://github.com/ada/docker-lab",
        },
    )
    assert response.status_code == 201, response.json()
    row = response.json()
    assert row["docker_id"] == "adalovelace" and row["github_repo"] == "ada/docker-lab"
    enrolment = Enrolment.objects.get(pk=row["id"])
    assert AuditEvent.objects.filter(action="enrolment.create", enrolment=enrolment).exists()
    assert ApplyRun.objects.filter(course=course).count() == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"identifier": "sam.student@example.edu"}, "identifier", "already on"),
        ({"identifier": "x@example.edu", "docker_id": "no way"}, "docker_id", "not a Docker ID"),
        ({"identifier": "x@example.edu", "github_repo": "not a repo at all"}, "github_repo", ""),
        ({"name": "No identifier"}, "identifier", "required"),
        # Issue 17: the domain's rules, the same words as the roster's.
        (
            {"identifier": "x@example.edu", "github_repo": "https://gitlab.com/o/r"},
            "github_repo",
            "gitlab.com is not GitHub",
        ),
        (
            {"identifier": "x@example.edu", "email": "a" * 64 + "@" + "b" * 200 + ".example"},
            "email",
            "",
        ),
        ({"identifier": "x@example.edu", "name": "Ann\u0000"}, "name", ""),
    ],
)
def test_a_bad_student_is_refused_field_by_field(
    token_client, course, instructor, student, body, field, words
):
    response = token_client(instructor).post(_url(course), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"]
    assert words in " ".join(error["fields"][field])
    assert Enrolment.objects.filter(course=course).count() == 1


def test_correcting_a_docker_id_starts_over_and_is_audited_with_the_reason(
    token_client, course, instructor, student, queued_tasks
):
    sam = Enrolment.objects.get(user=student)
    Enrolment.objects.filter(pk=sam.pk).update(
        docker_id="samwrong", preflight_state=PreflightState.PASSED
    )
    response = token_client(instructor).patch(
        _url(course, f"{sam.pk}/"), {"docker_id": "samright", "reason": "typo in the roster"}
    )
    assert response.status_code == 200, response.json()
    sam.refresh_from_db()
    assert sam.docker_id == "samright" and sam.preflight_state == PreflightState.NOT_RUN
    event = AuditEvent.objects.get(action="enrolment.correct")
    assert "samwrong" in event.message and "typo in the roster" in event.message


def test_a_docker_id_taken_by_a_classmate_is_refused(token_client, course, instructor, student):
    Enrolment.objects.create(course=course, identifier="zoe@example.edu", docker_id="zoezoe")
    sam = Enrolment.objects.get(user=student)
    response = token_client(instructor).patch(_url(course, f"{sam.pk}/"), {"docker_id": "zoezoe"})
    assert response.status_code == 400
    assert "zoezoe" in response.json()["error"]["fields"]["docker_id"][0]


def test_removing_a_student_takes_them_off_the_roster_only(
    token_client, course, instructor, student
):
    sam = Enrolment.objects.get(user=student)
    response = token_client(instructor).delete(_url(course, f"{sam.pk}/"))
    assert response.status_code == 204
    assert not Enrolment.objects.filter(pk=sam.pk).exists()
    assert AuditEvent.objects.filter(action="enrolment.delete", target=sam.identifier).exists()


def test_a_ta_retries_a_failed_step(token_client, course, ta, student, queued_tasks):
    sam = Enrolment.objects.get(user=student)
    Enrolment.objects.filter(pk=sam.pk).update(
        error_step="invite", error_message="boom", error_permanent=True
    )
    response = token_client(ta).post(_url(course, f"{sam.pk}/retry/"))
    assert response.status_code == 202
    assert response.json()["affected"] == 1
    sam.refresh_from_db()
    assert sam.error_step == ""


def test_bulk_actions_take_ids_or_the_lists_filters(
    token_client, course, ta, student, queued_tasks
):
    zoe = Enrolment.objects.create(course=course, identifier="zoe@example.edu", error_step="team")
    client = token_client(ta)
    by_filter = client.post(
        _url(course, "actions/"), {"action": "retry", "filter": {"errors": "true"}}
    )
    assert by_filter.status_code == 202
    assert by_filter.json()["asked"] == 1 and by_filter.json()["affected"] == 1
    zoe.refresh_from_db()
    assert zoe.error_step == ""
    both = client.post(_url(course, "actions/"), {"action": "preflight", "ids": [zoe.pk, 999999]})
    assert both.json()["asked"] == 1  # another course's (or no one's) id is ignored
    neither = client.post(_url(course, "actions/"), {"action": "retry"})
    assert neither.status_code == 400
    bad_filter = client.post(
        _url(course, "actions/"), {"action": "retry", "filter": {"state": "flying"}}
    )
    assert bad_filter.status_code == 400
    assert "filter.state" in bad_filter.json()["error"]["fields"]


def test_an_email_too_long_for_its_column_is_refused_in_words_not_a_500(
    token_client, course, instructor, student
):
    response = token_client(instructor).patch(
        f"{_url(course)}{student.enrolments.get().pk}/",
        {"email": "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"},
        format="json",
    )
    assert response.status_code == 400
    assert "at most 254" in " ".join(response.json()["error"]["fields"]["email"])
