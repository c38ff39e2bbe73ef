"""Importing a roster through the pages: preview first, nothing saved until confirmed, the
outside checks against the sandbox, and a confirm that saves everything or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from accounts import roster_parsing as roster
from accounts.models import Course, Enrolment, InviteState, PreflightState
from hubcourse.models import AuditEvent
from onboarding import courses
from onboarding.models import ApplyRun, RosterCheck, RosterImport
from repositories.models import StudentRepository

FILES = Path(__file__).parent / "files"


def _upload(client: Client, course: Course, **data: Any) -> Any:
    return client.post(reverse("dashboard:roster", args=[course.slug]), data)


@pytest.mark.django_db
def test_a_preview_saves_no_student_until_the_instructor_confirms(
    client: Client,
    instructor: Any,
    course: Course,
    applied: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(instructor)

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(
            client,
            course,
            file=SimpleUploadedFile(
                "every_bad_row.csv", (FILES / "every_bad_row.csv").read_bytes()
            ),
        )
    preview = RosterImport.objects.get()
    page = client.get(response["Location"]).content.decode()

    assert response.status_code == 302
    assert not Enrolment.objects.filter(course=course).exists()
    # No Docker Hub in this test: the checks could not run and the preview says so.
    assert preview.status == RosterImport.Status.READY
    assert "could not be checked" in preview.check_error
    # Docker IDs not checked: imported rows are flagged; what was changed is said all the same.
    for words in (
        "Warning",
        "Error",
        "Duplicate",
        "Skipped",
        "(trimmed)",
        "no identifier or email",
    ):
        assert words in page

    confirmed = client.post(reverse("dashboard:roster_confirm", args=[course.slug, preview.pk]))

    assert confirmed.status_code == 302
    assert sorted(Enrolment.objects.filter(course=course).values_list("identifier", flat=True)) == [
        "caps.id@uni.example",
        "ok.one@uni.example",
    ]
    assert len(applied) == 1
    assert AuditEvent.objects.get(action="roster.import").message == "2 added, 0 updated, 8 skipped"


@pytest.mark.django_db
def test_a_confirmed_import_cannot_be_confirmed_twice(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    _upload(client, course, text="a@uni.example,Ann\n")
    preview = RosterImport.objects.get()
    url = reverse("dashboard:roster_confirm", args=[course.slug, preview.pk])

    client.post(url)
    again = client.post(url, follow=True)

    assert Enrolment.objects.filter(course=course).count() == 1
    assert "already confirmed or discarded" in again.content.decode()


@pytest.mark.django_db
def test_discarding_a_preview_saves_nothing(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    _upload(client, course, text="a@uni.example,Ann\n")
    preview = RosterImport.objects.get()

    client.post(
        reverse("dashboard:roster_confirm", args=[course.slug, preview.pk]), {"action": "discard"}
    )

    preview.refresh_from_db()
    assert preview.status == RosterImport.Status.DISCARDED
    assert not Enrolment.objects.exists()


@pytest.mark.django_db
def test_an_oversized_file_is_refused_with_a_message(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    big = b"identifier\n" + b"x" * (roster.MAX_BYTES + 10)

    response = _upload(client, course, file=SimpleUploadedFile("big.csv", big))

    assert response.status_code == 200
    assert "rosters up to 2 MB and 5,000 rows are accepted" in response.content.decode()
    assert not RosterImport.objects.exists()


@pytest.mark.django_db
def test_a_failure_half_way_leaves_the_roster_as_it_was(
    instructor: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    Enrolment.objects.create(course=course, identifier="kept@uni.example", name="Kept")
    preview = courses.roster_preview(
        course=course,
        actor=instructor,
        data="a@uni.example,Ann\nb@uni.example,Bob\nkept@uni.example,Kept Renamed\n",
        source="pasted text",
    )
    real_create = Enrolment.objects.create
    calls = {"n": 0}

    def create_then_fail(**kwargs: Any) -> Enrolment:
        calls["n"] += 1
        if calls["n"] == 2:
            raise IntegrityError("simulated: someone took this identifier meanwhile")
        return real_create(**kwargs)

    monkeypatch.setattr(Enrolment.objects, "create", create_then_fail)

    with pytest.raises(courses.ActionRefused, match="Nothing was imported"):
        courses.roster_confirm(preview=preview, actor=instructor)

    assert list(Enrolment.objects.values_list("identifier", "name")) == [
        ("kept@uni.example", "Kept")
    ]
    preview.refresh_from_db()
    assert preview.status == RosterImport.Status.READY


@pytest.mark.django_db
def test_confirm_reclassifies_against_the_roster_as_it_is_now(
    instructor: Any, course: Course
) -> None:
    preview = courses.roster_preview(
        course=course, actor=instructor, data="a@uni.example,Ann\n", source="pasted text"
    )
    # Someone added the same student while the preview was open.
    Enrolment.objects.create(
        course=course, identifier="a@uni.example", name="Ann", email="a@uni.example"
    )

    result = courses.roster_confirm(preview=preview, actor=instructor)

    assert (result.created, result.updated) == (0, 0)
    assert Enrolment.objects.count() == 1


@pytest.mark.django_db
def test_an_updated_docker_id_starts_the_students_membership_over(
    instructor: Any, course: Course
) -> None:
    enrolment = Enrolment.objects.create(
        course=course,
        identifier="a@uni.example",
        docker_id="oldtypo1",
        invite_state=InviteState.PENDING,
        invite_id="abc",
        preflight_state=PreflightState.PASSED,
    )
    StudentRepository.objects.create(enrolment=enrolment, namespace="revelare", name="x-oldtypo1")
    preview = courses.roster_preview(
        course=course, actor=instructor, data="a@uni.example,,rightname\n", source="pasted text"
    )
    # The outside checks are not part of this test.
    RosterImport.objects.filter(pk=preview.pk).update(status=RosterImport.Status.READY)
    preview.refresh_from_db()

    courses.roster_confirm(preview=preview, actor=instructor)

    enrolment.refresh_from_db()
    assert enrolment.docker_id == "rightname"
    assert (enrolment.invite_state, enrolment.invite_id) == (InviteState.NONE, "")
    assert enrolment.preflight_state == PreflightState.NOT_RUN
    assert not StudentRepository.objects.filter(enrolment=enrolment).exists()


@pytest.mark.django_db(transaction=True)
def test_the_preview_asks_docker_hub_and_github_about_new_rows(
    client: Client, instructor: Any, course: Course, demo_class: dict[str, Any]
) -> None:
    ada = demo_class["students"][0]
    text = (
        "identifier,name,docker_id,github_repo\n"
        f"ada@uni.example,Ada,{ada['docker_id']},{ada['github_repo']}\n"
        "ghost@uni.example,Ghost,nosuchdockerid,\n"
        f"lost@uni.example,Lost,,{ada['github_login']}/no-such-repository\n"
    )
    client.force_login(instructor)

    _upload(client, course, text=text)
    preview = RosterImport.objects.get()
    rows = {row["identifier"]: row for row in preview.rows}

    assert preview.status == RosterImport.Status.READY, preview.check_error
    assert preview.check_error == ""
    assert (rows["ada@uni.example"]["status"], rows["ada@uni.example"]["action"]) == ("ok", "new")
    assert rows["ghost@uni.example"]["status"] == "warning"
    assert rows["ghost@uni.example"]["docker_id_unknown"]
    assert "Docker Hub has no user nosuchdockerid" in rows["ghost@uni.example"]["check_warnings"][0]
    assert rows["lost@uni.example"]["status"] == "warning"
    assert "GitHub has no repository" in rows["lost@uni.example"]["check_warnings"][0]
    # The check ran as a job: finished, every checkable row counted, its lease given back.
    job = RosterCheck.objects.get(pk=preview.pk)
    assert (job.status, job.done, job.total, job.lease_until) == ("done", 3, 3, None)

    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk]))
    assert '<del>nosuchdockerid</del> <span class="badge st-warning">not found on Docker Hub' in (
        page.content.decode()
    )

    client.post(reverse("dashboard:roster_confirm", args=[course.slug, preview.pk]))

    saved = dict(Enrolment.objects.filter(course=course).values_list("identifier", "docker_id"))
    # An unknown Docker ID is never used: the student gives theirs when they join...
    assert saved == {
        "ada@uni.example": ada["docker_id"],
        "ghost@uni.example": "",
        "lost@uni.example": "",
    }
    # ...but what the instructor typed is kept beside the student, marked, to be corrected.
    ghost = Enrolment.objects.get(course=course, identifier="ghost@uni.example")
    assert ghost.docker_id_not_found == "nosuchdockerid"
    board = client.get(reverse("dashboard:board", args=[course.slug])).content.decode()
    assert "<del>nosuchdockerid</del>" in board and "not found on Docker Hub" in board
    student = client.get(reverse("dashboard:student", args=[course.slug, ghost.pk]))
    assert "not found on Docker Hub" in student.content.decode()


@pytest.mark.django_db
def test_import_saves_the_roster_without_applying_and_import_and_apply_applies(
    client: Client, instructor: Any, course: Course, applied: list[Any]
) -> None:
    client.force_login(instructor)
    _upload(client, course, text="a@uni.example,Ann\n")
    first = RosterImport.objects.get()
    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, first.pk]))
    assert 'value="import"' in page.content.decode()
    assert "Import 1 student and apply" in page.content.decode()

    imported = client.post(
        reverse("dashboard:roster_confirm", args=[course.slug, first.pk]), {"action": "import"}
    )

    assert Enrolment.objects.filter(course=course, identifier="a@uni.example").exists()
    assert applied == [] and not ApplyRun.objects.filter(course=course).exists()
    # Straight to the plan, to review what applying would do.
    assert imported["Location"] == reverse("dashboard:plan", args=[course.slug])

    _upload(client, course, text="b@uni.example,Bob\n")
    second = RosterImport.objects.exclude(pk=first.pk).get()
    confirmed = client.post(
        reverse("dashboard:roster_confirm", args=[course.slug, second.pk]), {"action": "confirm"}
    )

    run = ApplyRun.objects.get(course=course)
    assert len(applied) == 1
    assert confirmed["Location"].endswith(f"?run={run.pk}")


@pytest.mark.django_db
def test_correcting_the_docker_id_forgets_the_one_docker_hub_did_not_know(
    client: Client, instructor: Any, course: Course
) -> None:
    ghost = Enrolment.objects.create(
        course=course, identifier="ghost@uni.example", docker_id_not_found="nosuchdockerid"
    )
    client.force_login(instructor)

    client.post(
        reverse("dashboard:student_correct", args=[course.slug, ghost.pk]),
        {"docker_id": "realghost", "github_repo": "", "reason": "typo in the roster"},
    )

    ghost.refresh_from_db()
    assert (ghost.docker_id, ghost.docker_id_not_found) == ("realghost", "")
    board = client.get(reverse("dashboard:board", args=[course.slug])).content.decode()
    assert "not found on Docker Hub" not in board
