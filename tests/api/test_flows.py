"""Roster import (preview, then confirm), plan and apply, and the organisation's jobs, as a
script drives them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import BulkInvite, Enrolment
from hubcourse.models import JobStatus
from onboarding.models import Offboarding, RosterImport

pytestmark = pytest.mark.django_db

ROSTER = "identifier,name\nada@example.edu,Ada Lovelace\nalan@example.edu,Alan Turing\n,\n"


def test_a_roster_is_previewed_and_saved_only_when_confirmed(
    token_client, course, instructor, queued_tasks
):
    client = token_client(instructor)
    base = f"/api/v1/courses/{course.slug}/roster-imports/"
    created = client.post(base, {"text": ROSTER})
    assert created.status_code == 201, created.json()
    preview = created.json()
    # The ",\n" line has no cell filled in: skipped, and said.
    assert preview["status"] == "ready" and preview["counts"] == {"ok": 2, "skipped": 1}
    assert preview["saving"] == 2
    assert not Enrolment.objects.filter(course=course).exists()
    rows = client.get(f"{base}{preview['id']}/rows/?status=ok").json()
    assert [r["identifier"] for r in rows["results"]] == ["ada@example.edu", "alan@example.edu"]
    assert rows["results"][0]["meaning"] == "imported as it is"
    assert rows["results"][0]["action"] == "new"
    confirmed = client.post(f"{base}{preview['id']}/confirm/")
    assert confirmed.status_code == 200
    assert confirmed.json()["created"] == 2 and confirmed.json()["apply"]["id"]
    assert Enrolment.objects.filter(course=course).count() == 2
    again = client.post(f"{base}{preview['id']}/confirm/")
    assert again.status_code == 409
    assert "already" in again.json()["error"]["message"]


def test_a_roster_confirmed_with_apply_false_is_saved_and_not_applied(
    token_client, course, instructor, queued_tasks
):
    from onboarding.models import ApplyRun

    client = token_client(instructor)
    base = f"/api/v1/courses/{course.slug}/roster-imports/"
    preview = client.post(base, {"text": ROSTER}).json()
    confirmed = client.post(f"{base}{preview['id']}/confirm/", {"apply": False}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["created"] == 2 and confirmed.json()["apply"] is None
    assert Enrolment.objects.filter(course=course).count() == 2
    assert not ApplyRun.objects.filter(course=course).exists()
    # The plan now has their onboarding to do, for the instructor to apply when they choose.
    plan = client.get(f"/api/v1/courses/{course.slug}/plan/").json()
    assert any(step["student"] == "ada@example.edu" for step in plan["steps"])


def test_a_roster_confirm_refuses_an_apply_that_is_not_a_boolean(token_client, course, instructor):
    client = token_client(instructor)
    base = f"/api/v1/courses/{course.slug}/roster-imports/"
    preview = client.post(base, {"text": ROSTER}).json()
    refused = client.post(f"{base}{preview['id']}/confirm/", {"apply": "later"}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["apply"]
    assert not Enrolment.objects.filter(course=course).exists()


def test_a_roster_file_is_uploaded_as_multipart(token_client, course, instructor):
    upload = SimpleUploadedFile("class.csv", ROSTER.encode("utf-8-sig"), "text/csv")
    response = token_client(instructor).post(
        f"/api/v1/courses/{course.slug}/roster-imports/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["source"] == "class.csv"
    assert response.json()["encoding"] == "UTF-8 (with BOM)"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, None, "Choose a CSV file or paste"),
        ({"text": "identifier,name\n"}, "text", "no student rows"),
    ],
)
def test_an_unusable_roster_says_what_to_fix(token_client, course, instructor, body, field, words):
    response = token_client(instructor).post(f"/api/v1/courses/{course.slug}/roster-imports/", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert words in error["message"]
    assert list(error["fields"]) == ([field] if field else [])
    assert not RosterImport.objects.exists()


def test_a_discarded_preview_saves_nothing(token_client, course, instructor):
    client = token_client(instructor)
    base = f"/api/v1/courses/{course.slug}/roster-imports/"
    preview = client.post(base, {"text": ROSTER}).json()
    assert client.post(f"{base}{preview['id']}/discard/").json()["status"] == "discarded"
    assert client.post(f"{base}{preview['id']}/confirm/").status_code == 409
    assert not Enrolment.objects.filter(course=course).exists()


def test_the_plan_is_a_dry_run_and_apply_queues_it(token_client, course, instructor, queued_tasks):
    Enrolment.objects.create(course=course, identifier="ada@example.edu", docker_id="adalovelace")
    client = token_client(instructor)
    plan = client.get(f"/api/v1/courses/{course.slug}/plan/").json()
    assert plan["actionable"] > 0
    assert {"step": "teams", "kind": "create"}.items() <= plan["steps"][0].items()
    assert any(s["student"] == "ada@example.edu" for s in plan["steps"])
    run = client.post(f"/api/v1/courses/{course.slug}/plan/apply/")
    assert run.status_code == 202
    assert run.json()["total_steps"] == plan["actionable"]
    detail = client.get(f"/api/v1/courses/{course.slug}/apply-runs/{run.json()['id']}/").json()
    assert detail["remaining"] == plan["actionable"] and detail["percent"] == 0
    # The one progress shape of every long job.
    assert detail["progress"] == {
        "status": "running",
        "label": "Running",
        "done": 0,
        "total": plan["actionable"],
        "percent": 0,
        "error": "",
        "retry_at": None,
    }


def test_a_bulk_invite_starts_with_a_dry_run_and_sends_only_when_asked(
    token_client, site_admin, queued_tasks
):
    client = token_client(site_admin)
    created = client.post(
        "/api/v1/invite-jobs/", {"invitees": "adalovelace; alanturing, adalovelace", "team": "t"}
    )
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["phase"] == "check" and job["awaiting_confirmation"] is False
    rows = client.get(f"/api/v1/invite-jobs/{job['id']}/rows/").json()["results"]
    assert [r["dry_run"] for r in rows] == ["", "", "duplicate"]
    # The dry run has not finished: nothing can be sent yet.
    refused = client.post(f"/api/v1/invite-jobs/{job['id']}/send/")
    assert refused.status_code == 409
    BulkInvite.objects.filter(pk=job["id"]).update(status=JobStatus.DONE)
    sent = client.post(f"/api/v1/invite-jobs/{job['id']}/send/")
    assert sent.status_code == 200 and sent.json()["phase"] == "send"


def test_offboarding_needs_the_course_name_typed_exactly(
    token_client, course, instructor, queued_tasks
):
    client = token_client(instructor)
    base = f"/api/v1/courses/{course.slug}/offboardings/"
    preview = client.get(f"/api/v1/courses/{course.slug}/offboarding/preview/").json()
    assert preview["course"] == course.slug and "counts" in preview
    wrong = client.post(base, {"repository_action": "archive", "confirmation": "docker 101"})
    assert wrong.status_code == 400
    assert "Docker 101" in wrong.json()["error"]["fields"]["confirmation"][0]
    assert not Offboarding.objects.exists()
    started = client.post(base, {"repository_action": "archive", "confirmation": "Docker 101"})
    assert started.status_code == 201, started.json()
    course.refresh_from_db()
    assert course.archived_at is not None
    again = client.post(base, {"repository_action": "archive", "confirmation": "Docker 101"})
    assert again.status_code == 409
