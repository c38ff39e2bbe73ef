"""The class board: constant queries as the class grows, filters, sorting, counts, chart,
bulk actions, and a CSV export that a spreadsheet cannot run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, InviteState, OnboardingState, PreflightState
from builds.models import Build, BuildState
from hubcourse.csvexport import safe_cell
from hubcourse.models import AuditEvent
from onboarding import board
from onboarding.state import STAGES
from repositories.models import StudentRepository


def _make_class(course: Course, size: int, *, start: int = 0) -> list[Enrolment]:
    """A class in every state: some done with builds, some stuck on an error, some new."""
    now = timezone.now()
    enrolments = Enrolment.objects.bulk_create(
        [
            Enrolment(
                course=course,
                identifier=f"s{i:04d}@uni.example",
                name=f"Student {i:04d}",
                docker_id=f"student{i:04d}",
                github_repo=f"s{i:04d}/docker-course",
                preflight_state=PreflightState.PASSED,
                docker_id_verified_at=now,
                invite_state=InviteState.ACCEPTED,
                member_at=now,
                team_at=now,
                state=(
                    OnboardingState.ERROR
                    if i % 3 == 1
                    else OnboardingState.FIRST_BUILD_SUCCEEDED
                    if i % 3 == 0
                    else OnboardingState.IN_TEAM
                ),
                error_step="repository" if i % 3 == 1 else "",
                error_message="Docker Hub refused to create repository: quota (HTTP 403)"
                if i % 3 == 1
                else "",
                error_permanent=i % 3 == 1,
            )
            for i in range(start, start + size)
        ]
    )
    StudentRepository.objects.bulk_create(
        [
            StudentRepository(
                enrolment=e,
                namespace="revelare",
                name=f"docker-101-{e.docker_id}",
                created_at=now,
                permission_granted_at=now,
                build_configured_at=now,
            )
            for e in enrolments
            if e.state == OnboardingState.FIRST_BUILD_SUCCEEDED
        ]
    )
    builds = []
    for e in enrolments:
        if e.state != OnboardingState.FIRST_BUILD_SUCCEEDED:
            continue
        for n, state in enumerate((BuildState.SUCCESS, BuildState.FAILED)):
            builds.append(
                Build(
                    enrolment=e,
                    backend="dockerhub-autobuild",
                    external_id=f"{e.pk}-{n}",
                    state=state,
                    commit_sha=f"{n}abcdef1234567",
                    created_at=now - dt.timedelta(minutes=30 - n * 10),
                    started_at=now - dt.timedelta(minutes=30 - n * 10),
                    finished_at=now - dt.timedelta(minutes=29 - n * 10),
                )
            )
    Build.objects.bulk_create(builds)
    return enrolments


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["dashboard:board", "dashboard:board_live"])
def test_the_board_makes_the_same_number_of_queries_for_6_and_120_students(
    client: Client, instructor: Any, course: Course, page: str
) -> None:
    client.force_login(instructor)
    url = reverse(page, args=[course.slug])
    _make_class(course, 6)
    small = _queries(client, url)

    _make_class(course, 114, start=6)
    large = _queries(client, url)

    assert large == small
    assert small < 20


@pytest.mark.django_db
def test_filters_and_search_narrow_the_board(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 9)
    client.force_login(instructor)
    url = reverse("dashboard:board", args=[course.slug])

    errors = client.get(url, {"errors": "1"}).context["page"].paginator.count
    done = client.get(url, {"step": "done"}).context["page"].paginator.count
    failed_build = client.get(url, {"build": "failed"}).context["page"].paginator.count
    no_build = client.get(url, {"build": "none"}).context["page"].paginator.count
    search = client.get(url, {"q": "student0004"}).context["rows"]

    # "Problems only": 3 stuck on a step, and the 3 done whose latest build failed.
    assert (errors, done, failed_build, no_build) == (6, 3, 3, 6)
    assert [row.enrolment.docker_id for row in search] == ["student0004"]


@pytest.mark.django_db
def test_the_progress_filter_speaks_the_handouts_steps_and_filters_in_sql(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 9)
    # One more student on step 2 in each of its three stored states.
    for i, state in enumerate(
        (OnboardingState.DOCKER_ID_VERIFIED, OnboardingState.INVITED, OnboardingState.MEMBER)
    ):
        Enrolment.objects.create(course=course, identifier=f"two{i}@uni.example", state=state)
    client.force_login(instructor)
    url = reverse("dashboard:board", args=[course.slug])

    response = client.get(url, {"step": "2"})
    html = response.content.decode()
    options = [label for _, label in response.context["stages"]]

    assert options == [
        "Needs attention",
        "On step 1: Sign up for a Docker ID",
        "On step 2: Join the course organisation and team",
        "On step 3: Get your Docker Hub repository",
        "On step 4: Link it to your GitHub repository",
        "On step 5: Build on every push to main",
        "All five steps done",
    ]
    assert "Docker ID verified</option>" not in html and "In the team</option>" not in html
    assert sorted(r.enrolment.identifier for r in response.context["rows"]) == [
        "two0@uni.example",
        "two1@uni.example",
        "two2@uni.example",
    ]
    with CaptureQueriesContext(connection) as queries:
        count = board.board_queryset(course, board.BoardFilters(step="2")).count()
    assert count == 3
    # The step is a set of stored states, filtered by the database.
    assert all(s in queries[-1]["sql"] for s in ("docker_id_verified", "invited", "member"))
    assert client.get(url, {"step": "attention"}).context["page"].paginator.count == 3
    # A link saved with a stored state still works, as the step that state belongs to.
    assert client.get(url, {"step": "in_team"}).context["filters"].step == "3"


@pytest.mark.django_db
def test_problems_only_shows_a_student_whose_latest_build_failed(
    client: Client, instructor: Any, course: Course
) -> None:
    enrolments = _make_class(course, 3)  # student0000 is done; its latest build failed
    done = enrolments[0]
    client.force_login(instructor)
    url = reverse("dashboard:board", args=[course.slug])

    problems = [r.enrolment.pk for r in client.get(url, {"errors": "1"}).context["rows"]]
    assert done.pk in problems

    Build.objects.create(
        enrolment=done, backend="dockerhub-autobuild", external_id="fixed", state="success"
    )
    problems = [r.enrolment.pk for r in client.get(url, {"errors": "1"}).context["rows"]]
    assert done.pk not in problems


@pytest.mark.django_db
def test_a_row_links_the_docker_hub_repository_and_shows_recent_builds_and_the_last_push(
    client: Client, instructor: Any, course: Course, settings: Any
) -> None:
    settings.DOCKERHUB_WEB_URL = "https://hub.example"
    done = _make_class(course, 1)[0]
    StudentRepository.objects.filter(enrolment=done).update(
        last_pushed_at=timezone.now() - dt.timedelta(minutes=12)
    )
    older = Build.objects.create(
        enrolment=done,
        backend="dockerhub-autobuild",
        external_id="older",
        state="canceled",
        created_at=timezone.now() - dt.timedelta(hours=2),
    )
    client.force_login(instructor)

    response = client.get(reverse("dashboard:board", args=[course.slug]))
    (row,) = response.context["rows"]
    html = response.content.decode()

    assert 'href="https://hub.example/r/revelare/docker-101-student0000"' in html
    assert "pushed 12\xa0minutes ago" in html
    # The latest (failed, 20 minutes ago) first, then the two before it, newest first.
    assert [b.state for b in row.recent_builds] == ["failed", "success", "canceled"]
    assert [b.pk for b, _label, _tone in row.earlier_builds][-1] == older.pk
    assert "Before:" in html and f"#build-{older.pk}" in html


@pytest.mark.django_db
def test_sorting_by_progress_puts_problems_first_and_can_be_reversed(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 6)
    client.force_login(instructor)
    url = reverse("dashboard:board", args=[course.slug])

    ascending = [r.enrolment.state for r in client.get(url, {"sort": "state"}).context["rows"]]
    descending = [r.enrolment.state for r in client.get(url, {"sort": "-state"}).context["rows"]]

    assert ascending[0] == OnboardingState.ERROR
    assert descending[0] == OnboardingState.FIRST_BUILD_SUCCEEDED
    assert ascending == list(reversed(descending))


@pytest.mark.django_db
def test_a_row_shows_ticks_the_step_in_words_and_the_latest_build(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 3)
    client.force_login(instructor)

    rows = {
        r.enrolment.docker_id: r
        for r in client.get(reverse("dashboard:board", args=[course.slug])).context["rows"]
    }

    done, stuck = rows["student0000"], rows["student0001"]
    assert [t.done for t in done.ticks] == [True] * 5
    assert done.latest_build is not None and done.latest_build.state == BuildState.FAILED
    assert "latest build failed" in done.summary
    # The error row still shows how far the student got before the error.
    assert [t.done for t in stuck.ticks] == [True, True, False, False, False]
    assert stuck.summary.startswith("Docker Hub repository failed: Docker Hub refused")
    assert "retry" in stuck.summary


@pytest.mark.django_db
def test_counts_and_chart_read_the_whole_class(course: Course) -> None:
    _make_class(course, 6)

    total, counts = board.state_counts(course)
    chart = board.build_chart(course)

    assert total == 6
    assert {c.state: c.count for c in counts} == {
        "attention": 2,
        "3": 2,
        "done": 2,
    }
    assert sum(round(c.percent) for c in counts) in (99, 100, 101)
    assert chart.unit == "hour"
    assert chart.total == 4
    parts = [(state, n) for bar in chart.bars for state, _, _, _, n in bar.parts]
    assert sorted(parts) == [("failed", 2), ("success", 2)]


@pytest.mark.django_db
def test_the_chart_switches_to_days_for_an_older_class(course: Course) -> None:
    enrolment = _make_class(course, 1)[0]
    Build.objects.filter(enrolment=enrolment).update(
        created_at=timezone.now() - dt.timedelta(days=5)
    )

    chart = board.build_chart(course)

    assert chart.unit == "day"
    assert len(chart.bars) == board.CHART_DAYS
    assert chart.total == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("ada@uni.example", "ada@uni.example"),
        (None, ""),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(value: Any, expected: str) -> None:
    assert safe_cell(value) == expected


@pytest.mark.django_db
def test_the_export_holds_the_filtered_students_with_defused_cells(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 3)
    Enrolment.objects.filter(docker_id="student0000").update(name="=cmd|' /C calc'!A0")
    client.force_login(instructor)

    response = client.get(reverse("dashboard:export", args=[course.slug]), {"step": "done"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))

    assert response["Content-Type"].startswith("text/csv")
    assert [r["Identifier"] for r in rows] == ["s0000@uni.example"]
    assert rows[0]["Name"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["Latest build"] == "Failed"
    assert rows[0]["Build on every push to main"] == "yes"


@pytest.mark.django_db
def test_the_export_says_what_the_board_says_not_the_stored_names(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 6)
    client.force_login(instructor)

    response = client.get(reverse("dashboard:export", args=[course.slug]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    header = body.splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(body)))

    stages = {stage.label for stage in STAGES}
    assert rows and all(r["Where"] in stages for r in rows)
    assert {r["Where"] for r in rows} & {"All five steps done", "Needs attention"}
    built = [r for r in rows if r["Latest build took"]]
    assert built and all(re.fullmatch(r"(\d+ min )?\d+ s", r["Latest build took"]) for r in built)
    # No stored name anywhere: first_build_succeeded, docker_id, latest_build_state…
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", header + "".join(r["Where"] for r in rows))
    assert not any("_" in r["Failed step"] for r in rows)


@pytest.mark.django_db
def test_a_bulk_retry_on_the_filtered_students_clears_their_errors_and_applies(
    client: Client, ta: Any, course: Course, applied: list[Any]
) -> None:
    _make_class(course, 6)
    client.force_login(ta)

    response = client.post(
        reverse("dashboard:bulk", args=[course.slug]),
        {"action": "retry", "scope": "filtered", "errors": "1"},
    )

    assert response.status_code == 302
    assert "errors=1" in response["Location"]
    assert not Enrolment.objects.filter(course=course).exclude(error_step="").exists()
    assert len(applied) == 1
    assert AuditEvent.objects.get(action="enrolment.retry").message == "asked for 2 student(s)"
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Retrying 2 students with a failed step."]


@pytest.mark.django_db
def test_a_bulk_action_only_touches_this_courses_students(
    client: Client, instructor: Any, course: Course
) -> None:
    other = Course.objects.create(name="Other", slug="other")
    foreign = Enrolment.objects.create(
        course=other, identifier="x@uni.example", error_step="repository", error_permanent=True
    )
    client.force_login(instructor)

    client.post(
        reverse("dashboard:bulk", args=[course.slug]),
        {"action": "retry", "scope": "selected", "ids": [foreign.pk]},
    )

    foreign.refresh_from_db()
    assert foreign.error_step == "repository"


@pytest.mark.django_db
def test_a_bulk_action_without_a_selection_says_what_to_do(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)

    response = client.post(
        reverse("dashboard:bulk", args=[course.slug]),
        {"action": "retry", "scope": "selected"},
        follow=True,
    )

    assert "Select at least one student" in response.content.decode()


@pytest.mark.django_db
def test_rerunning_preflight_forgets_the_old_result(
    client: Client, instructor: Any, course: Course, applied: list[Any]
) -> None:
    enrolment = _make_class(course, 1)[0]
    client.force_login(instructor)

    client.post(
        reverse("dashboard:bulk", args=[course.slug]),
        {"action": "preflight", "scope": "selected", "ids": [enrolment.pk]},
    )

    enrolment.refresh_from_db()
    assert enrolment.preflight_state == PreflightState.NOT_RUN
    preflight_steps = [s for s in applied[0].steps if s.step == "preflight"]
    assert [s.enrolment_id for s in preflight_steps] == [enrolment.pk]
