"""The plan is honest: "Nothing to do" only when nobody waits, students who wait on
themselves are listed with their handout step, and an apply is followed live into the new
plan (no stale list, no second Apply button for work that is done)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, PreflightState
from onboarding.engine import plan_course
from onboarding.models import ApplyRun
from tests.engine.support import make_class

EVERY_STUDENT_AS_SAID = "Nothing to do: every student is as the course says."


def _course_with_teams(course: Course) -> Course:
    course.team_id, course.instructors_team_id = 1, 2
    course.save()
    return course


def _waiting_class(course: Course) -> dict[str, Enrolment]:
    now = timezone.now()
    return {
        "no-id": Enrolment.objects.create(course=course, identifier="nid@uni.example"),
        "failed": Enrolment.objects.create(
            course=course,
            identifier="failed@uni.example",
            docker_id="failed1",
            github_repo="uni/failed",
            preflight_state=PreflightState.FAILED,
            preflight_report=[
                {"check": "dockerfile", "level": "error", "message": "No Dockerfile at /."}
            ],
        ),
        "invited": Enrolment.objects.create(
            course=course,
            identifier="inv@uni.example",
            docker_id="invited1",
            github_repo="uni/inv",
            preflight_state=PreflightState.PASSED,
            invite_state=InviteState.PENDING,
            invite_id="i-1",
            invited_at=now,
            docker_id_verified_at=now,
        ),
    }


@pytest.mark.django_db
def test_students_waiting_on_themselves_are_listed_and_nothing_to_do_is_not_claimed(
    client: Client, instructor: Any, course: Course
) -> None:
    _course_with_teams(course)
    students = _waiting_class(course)
    # Only the invited student has anything for hubcourse to do (their repository etc.):
    # the two others wait on themselves alone.
    plan = plan_course(course)
    waiting = {plan.labels[s.enrolment_id or 0]: s for s in plan.waiting}
    assert {label: s.waits_on for label, s in waiting.items()} == {
        "nid@uni.example": "student",
        "failed@uni.example": "student",
        "inv@uni.example": "student",
    }
    assert not plan.settled
    client.force_login(instructor)

    page = client.get(reverse("dashboard:plan", args=[course.slug]))
    html = page.content.decode()
    rows = {
        w["label"]: (w["number"], w["title"], w["step"].reason)
        for w in page.context["waiting_students"]
    }

    assert EVERY_STUDENT_AS_SAID not in html
    assert rows["nid@uni.example"][:2] == (1, "Sign up for a Docker ID")
    assert rows["inv@uni.example"][:2] == (2, "Join the course organisation and team")
    assert rows["failed@uni.example"][:2] == (4, "Link it to your GitHub repository")
    assert "No Dockerfile at /." in rows["failed@uni.example"][2]
    assert "Waiting on the student" in html and "3 students" in html

    api = client.get(reverse("api:plan", args=[course.slug])).json()
    assert api["waiting"] == 3
    assert {s["student"] for s in api["steps"] if s["waits_on"] == "student"} == {
        e.identifier for e in students.values()
    }


@pytest.mark.django_db
def test_nobody_waiting_and_nothing_to_apply_is_nothing_to_do(
    client: Client, instructor: Any, course: Course
) -> None:
    _course_with_teams(course)
    students = _waiting_class(course)
    students["invited"].delete()
    students["failed"].delete()
    client.force_login(instructor)
    url = reverse("dashboard:plan", args=[course.slug])

    waiting = client.get(url).content.decode()
    students["no-id"].delete()
    quiet = client.get(url).content.decode()

    assert EVERY_STUDENT_AS_SAID not in waiting
    assert "1 student must do a step of the handout" in waiting
    assert EVERY_STUDENT_AS_SAID in quiet


@pytest.mark.django_db
def test_while_an_apply_runs_the_page_offers_no_second_apply(
    client: Client, instructor: Any, course: Course, applied: list[Any]
) -> None:
    Enrolment.objects.create(course=course, identifier="a@uni.example", docker_id="aaaa1")
    client.force_login(instructor)
    url = reverse("dashboard:plan", args=[course.slug])

    response = client.post(url)
    run = ApplyRun.objects.get()
    page = client.get(response["Location"]).content.decode()
    live = client.get(reverse("dashboard:plan_progress", args=[course.slug, run.pk]))

    for html in (page, live.content.decode()):
        assert "Applying…" in html
        assert "hubcourse is applying the plan" in html
        assert '<button type="submit">Apply' not in html
        assert "Nothing has been changed yet" not in html
    # The live part is the whole body: it carries the list, and keeps polling.
    assert 'id="plan-body"' in live.content.decode()
    assert "data-poll-stop" not in live.content.decode()


@pytest.mark.django_db(transaction=True)
def test_after_an_apply_the_page_shows_the_new_plan_not_the_one_applied(
    client: Client, instructor: Any, course: Course, engine: Any
) -> None:
    course.organisation = engine.seeded["dockerhub"]["org"]
    course.build_backend = "github-actions"
    course.save()
    make_class(engine, course, 3, checked=True)
    client.force_login(instructor)
    url = reverse("dashboard:plan", args=[course.slug])
    before = client.get(url).context["actionable"]

    response = client.post(url)  # eager: the steps run inside the request
    engine.world.wait_idle(timeout=20)
    run = ApplyRun.objects.get()
    page = client.get(response["Location"])
    html = page.content.decode()
    live = client.get(reverse("dashboard:plan_progress", args=[course.slug, run.pk]))

    assert before == run.total > 0
    assert page.context["progress"]["finished"] and "Applied" in html
    # The new plan, not the one applied: nothing left for hubcourse, three students to act.
    assert page.context["actionable"] == 0
    assert f"Apply {before} steps" not in html and "Nothing has been changed yet" not in html
    assert EVERY_STUDENT_AS_SAID not in html
    assert "3 students must do a step of the handout" in html
    assert [w["number"] for w in page.context["waiting_students"]] == [2, 2, 2]
    assert "data-poll-stop" in live.content.decode()
    assert live.context["actionable"] == 0
