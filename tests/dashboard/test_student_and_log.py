"""A student's page (timeline, builds with logs, audit trail, correction, view as student),
the staff page, the audit log and the plan page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, CourseRole, Enrolment, InviteState, PreflightState, User
from builds.models import Build, BuildState
from hubcourse.audit import audit_record
from hubcourse.models import AuditEvent
from onboarding.models import ApplyRun


@pytest.fixture
def enrolment(course: Course) -> Enrolment:
    return Enrolment.objects.create(
        course=course,
        identifier="ada@uni.example",
        name="Ada Lovelace",
        docker_id="adalovelace",
        github_repo="ada/docker-course",
        preflight_state=PreflightState.PASSED,
        docker_id_verified_at=timezone.now(),
        invite_state=InviteState.PENDING,
        invite_id="inv-1",
        invited_at=timezone.now(),
        error_step="repository",
        error_message="Docker Hub refused to create repository revelare/x: quota (HTTP 403)",
        error_permanent=True,
        attempts=2,
    )


@pytest.mark.django_db
def test_the_student_page_shows_timeline_error_builds_and_audit(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment
) -> None:
    Build.objects.create(
        enrolment=enrolment,
        backend="dockerhub-autobuild",
        external_id="b1",
        state=BuildState.FAILED,
        commit_sha="abcdef1234",
        log_excerpt="Step 1/3 : FROM pyhton:3.12\nerror: pull access denied",
    )
    audit_record(
        service="Docker Hub",
        action="repository.create",
        target="revelare/x",
        outcome="error",
        enrolment=enrolment,
        message="quota",
    )
    client.force_login(instructor)

    page = client.get(
        reverse("dashboard:student", args=[course.slug, enrolment.pk])
    ).content.decode()

    assert "Docker Hub repository failed" in page
    assert "Attempts: 2" in page
    assert "Invited to the organisation" in page
    assert "pull access denied" in page
    assert "Create the Docker Hub repository" in page and "repository.create" not in page
    assert "Correct the Docker ID or repository" in page


@pytest.mark.django_db
def test_a_failed_builds_inline_log_shows_its_first_error_line_first(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment
) -> None:
    boilerplate = "\n".join(f"2026-01-05T10:00:{i:02d}.0Z Runner setup line {i}" for i in range(40))
    log = (
        f"{boilerplate}\n"
        "2026-01-05T10:01:00.0Z ##[group]Run docker/build-push-action@v6\n"
        "2026-01-05T10:01:02.0Z #2 ERROR: docker.io/library/pythn:3.12-slim: not found\n"
        "2026-01-05T10:01:03.0Z ##[error]buildx failed with: exit code 1\n"
    )
    Build.objects.create(
        enrolment=enrolment,
        backend="github-actions",
        external_id="b2",
        state=BuildState.FAILED,
        commit_sha="abcdef1234",
        log_excerpt=log,
    )
    client.force_login(instructor)

    page = client.get(
        reverse("dashboard:student", args=[course.slug, enrolment.pk])
    ).content.decode()

    cell = page[page.index('class="failure-line"') :]
    # The error line comes before the log, which is one click away.
    assert cell.index("pythn:3.12-slim: not found") < cell.index("<details>")
    assert "In <strong>docker/build-push-action@v6</strong>" in cell
    assert cell.index("<summary>Show the whole log</summary>") < cell.index("Runner setup line 0")


@pytest.mark.django_db
def test_the_staff_page_hides_the_old_checks_while_they_run_again(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment
) -> None:
    Enrolment.objects.filter(pk=enrolment.pk).update(
        preflight_state=PreflightState.NOT_RUN,
        preflight_report=[{"level": "error", "message": "No DockerfileVolume in the repository."}],
    )
    client.force_login(instructor)

    page = client.get(
        reverse("dashboard:student", args=[course.slug, enrolment.pk])
    ).content.decode()

    assert "Checking again…" in page and "No DockerfileVolume" not in page


@pytest.mark.django_db
def test_a_ta_sees_the_student_but_not_the_correction_form(
    client: Client, ta: Any, course: Course, enrolment: Enrolment
) -> None:
    client.force_login(ta)

    page = client.get(
        reverse("dashboard:student", args=[course.slug, enrolment.pk])
    ).content.decode()

    assert "Retry now" in page
    assert "Correct the Docker ID or repository" not in page


@pytest.mark.django_db
def test_a_correction_is_saved_audited_and_planned_again(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment, applied: list[Any]
) -> None:
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:student_correct", args=[course.slug, enrolment.pk]),
        {
            "docker_id": "AdaLovelace2",
            "github_repo": "https://github.com/ada/docker-course",
            "reason": "typo",
        },
    )

    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.docker_id == "adalovelace2"
    assert (enrolment.invite_state, enrolment.error_step) == (InviteState.NONE, "")
    event = AuditEvent.objects.get(action="enrolment.correct")
    assert event.actor == instructor
    assert event.message == "Docker ID: adalovelace → adalovelace2. Reason: typo"
    assert [s.enrolment_id for s in applied[0].steps if s.enrolment_id] != []


@pytest.mark.django_db
def test_a_correction_to_a_taken_docker_id_is_refused_and_changes_nothing(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment
) -> None:
    Enrolment.objects.create(course=course, identifier="b@uni.example", docker_id="takenid1")
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:student_correct", args=[course.slug, enrolment.pk]),
        {"docker_id": "takenid1", "github_repo": "ada/docker-course"},
    )

    assert response.status_code == 400
    assert "already has the Docker ID takenid1" in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.docker_id == "adalovelace"
    assert enrolment.invite_id == "inv-1"
    assert not AuditEvent.objects.filter(action="enrolment.correct").exists()


@pytest.mark.django_db
def test_a_bad_correction_says_what_to_fix(
    client: Client, instructor: Any, course: Course, enrolment: Enrolment
) -> None:
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:student_correct", args=[course.slug, enrolment.pk]),
        {"docker_id": "a b", "github_repo": "nope"},
    )

    page = response.content.decode()
    assert "4 to 30 lower-case letters and digits" in page
    assert "owner/repository" in page


@pytest.mark.django_db
def test_view_as_student_is_read_only(
    client: Client, ta: Any, course: Course, enrolment: Enrolment
) -> None:
    client.force_login(ta)

    page = client.get(
        reverse("dashboard:as_student", args=[course.slug, enrolment.pk])
    ).content.decode()

    assert "This is read-only" in page
    assert "<form" not in page.split("<main>")[1]
    assert "Join the course organisation and team" in page


@pytest.mark.django_db
def test_instructors_add_and_remove_staff_but_keep_one_instructor(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    url = reverse("dashboard:roles", args=[course.slug])

    page = client.post(url, {"email": "New.TA@uni.example", "role": "ta"}, follow=True)
    # An invitation, not a role: nothing attaches until they accept it (security tests).
    assert "Invitation sent to new.ta@uni.example" in page.content.decode()
    assert not User.objects.filter(email="new.ta@uni.example").exists()
    assert "new.ta@uni.example" in client.get(url).content.decode()
    new_ta = User.objects.create_user("new.ta@uni.example")
    role = CourseRole.objects.create(course=course, user=new_ta, role="ta")

    client.post(url, {"remove": role.pk})
    assert not CourseRole.objects.filter(pk=role.pk).exists()

    own = CourseRole.objects.get(course=course, user=instructor)
    response = client.post(url, {"remove": own.pk}, follow=True)
    assert "keeps at least one instructor" in response.content.decode()
    assert CourseRole.objects.filter(pk=own.pk).exists()


@pytest.mark.django_db
def test_the_audit_log_filters_and_exports_safely(
    client: Client, ta: Any, course: Course, enrolment: Enrolment
) -> None:
    audit_record(
        service="Docker Hub",
        action="invite.bulk",
        target="Revelare/students",
        outcome="ok",
        course=course,
    )
    audit_record(
        service="GitHub",
        action="hook.create",
        target='=HYPERLINK("x")',
        outcome="error",
        enrolment=enrolment,
        message="GitHub refused",
    )
    client.force_login(ta)
    url = reverse("dashboard:audit", args=[course.slug])

    only_errors = client.get(url, {"outcome": "error"}).context["events"].object_list
    github = client.get(url, {"service": "GitHub"}).context["events"].object_list
    searched = client.get(url, {"q": "ada@uni"}).context["events"].object_list
    export = client.get(reverse("dashboard:audit_export", args=[course.slug]), {"outcome": "error"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]

    assert [e.action for e in only_errors] == ["hook.create"]
    assert [e.action for e in github] == ["hook.create"]
    assert [e.action for e in searched] == ["hook.create"]
    assert [(r["action"], r["target"], r["student"]) for r in rows] == [
        ("hook.create", '\'=HYPERLINK("x")', "ada@uni.example")
    ]


@pytest.mark.django_db
def test_the_plan_page_groups_steps_and_apply_shows_progress(
    client: Client, instructor: Any, course: Course, applied: list[Any]
) -> None:
    Enrolment.objects.create(course=course, identifier="a@uni.example", docker_id="aaaa1")
    Enrolment.objects.create(course=course, identifier="b@uni.example")
    client.force_login(instructor)
    url = reverse("dashboard:plan", args=[course.slug])

    page = client.get(url)
    groups = {g["step"]: g for g in page.context["groups"]}

    assert [s.kind for s, _ in groups["preflight"]["actionable"]] == ["create"]
    assert groups["docker_id"]["quiet_count"] == 1
    html = page.content.decode()
    assert "Apply" in html
    # Rows and headers in words: what hubcourse will do, and how many have something to do.
    assert "Check the GitHub repository" in html and ">create<" not in html
    assert "Nothing to do." in html and "to do, 1 in all" not in html

    response = client.post(url)
    run = ApplyRun.objects.get()
    progress = client.get(reverse("dashboard:plan_progress", args=[course.slug, run.pk]))

    assert response["Location"].endswith(f"?run={run.pk}")
    assert run.total == page.context["actionable"]
    assert len(applied) == 1
    # The engine is not running in this test: nothing is done yet, and the page keeps polling.
    assert progress.context["progress"]["done"] == 0
    assert "data-poll-stop" not in progress.content.decode()


@pytest.mark.django_db
def test_applying_a_plan_with_nothing_to_do_says_so(
    client: Client, instructor: Any, course: Course
) -> None:
    # What "Apply anyway" records when every student is already as the course says.
    run = ApplyRun.objects.create(course=course, created_by=instructor, total=0, students=3)
    client.force_login(instructor)

    html = client.get(
        reverse("dashboard:plan_progress", args=[course.slug, run.pk])
    ).content.decode()

    assert "Nothing needed doing" in html
    assert "0 of 0" not in html


@pytest.mark.django_db
def test_a_fallback_with_a_consequence_is_not_labelled_already_so(
    client: Client, ta: Any, course: Course, enrolment: Enrolment
) -> None:
    audit_record(
        service="GitHub",
        action="webhook.create",
        target="ada/docker-course",
        outcome=AuditEvent.Outcome.FALLBACK,
        enrolment=enrolment,
        message="GitHub did not let hubcourse add a webhook (Not Found); new builds are "
        "found by polling instead.",
    )
    client.force_login(ta)

    page = client.get(reverse("dashboard:audit", args=[course.slug])).content.decode()

    # Its own label, in warning colour, with the consequence beside it.
    assert 'class="badge tone-warn">Done another way</span> GitHub did not let' in page
    assert ">Already so</span>" not in page
