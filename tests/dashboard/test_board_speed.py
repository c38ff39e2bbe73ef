"""What keeps the class board quick: a fixed number of queries whatever the class size, sort
or filter, a chart computed once while no build changes, and a row's ticks rendered once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.models import Course, Enrolment
from builds.models import Build, BuildState
from hubcourse import text
from onboarding import board
from tests.dashboard.test_board import _make_class

BOARD_VIEWS = [
    ("dashboard:board", {}),
    ("dashboard:board_live", {}),
    ("dashboard:board", {"sort": "-build"}),
    ("dashboard:board", {"sort": "-state"}),
    ("dashboard:board", {"build": "failed"}),
    ("dashboard:board", {"step": "error", "q": "student"}),
    ("dashboard:board", {"errors": "1"}),
]


def _count(client: Client, url: str, query: dict[str, str]) -> int:
    client.get(url, query)  # the same cache state for every size: the chart is stored here
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "query"), BOARD_VIEWS)
def test_the_board_makes_the_same_queries_for_a_class_of_8_and_of_160(
    client: Client, instructor: Any, course: Course, page: str, query: dict[str, str]
) -> None:
    client.force_login(instructor)
    url = reverse(page, args=[course.slug])
    _make_class(course, 8)
    small = _count(client, url, query)

    _make_class(course, 152, start=8)
    large = _count(client, url, query)

    assert large == small
    assert small <= 10


@pytest.mark.django_db
def test_the_chart_is_read_once_while_no_build_changes(course: Course) -> None:
    _make_class(course, 6)
    first = board.board_chart(course, students=6)

    with CaptureQueriesContext(connection) as captured:
        again = board.board_chart(course, students=6)

    assert captured.captured_queries == []
    assert again.total == first.total == 4


@pytest.mark.django_db
def test_a_saved_build_shows_in_the_chart_at_once(
    course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    enrolment = _make_class(course, 6)[0]
    assert board.board_chart(course, students=6).total == 4

    with django_capture_on_commit_callbacks(execute=True):
        build = Build.objects.create(
            enrolment=enrolment, backend="dockerhub-autobuild", external_id="new"
        )
    running = board.board_chart(course, students=6)
    with django_capture_on_commit_callbacks(execute=True):
        build.state = BuildState.FAILED
        build.save(update_fields=["state", "updated_at"])
    failed = board.board_chart(course, students=6)

    assert running.total == 5
    assert ("running", 1) in [(s, n) for bar in running.bars for s, _, _, _, n in bar.parts]
    # Summed over the bars: the fixture's builds (20-30 minutes ago) may fall in the previous
    # hour's bar.
    assert sum(n for bar in failed.bars for s, _, _, _, n in bar.parts if s == "failed") == 3


@pytest.mark.django_db
def test_a_build_saved_in_a_transaction_that_rolls_back_leaves_the_chart_cached(
    course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    enrolment = _make_class(course, 6)[0]
    board.board_chart(course, students=6)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Build.objects.create(enrolment=enrolment, backend="x", external_id="undone")
            raise RuntimeError("the recording failed")

    assert callbacks == []
    with CaptureQueriesContext(connection) as captured:
        board.board_chart(course, students=6)
    assert captured.captured_queries == []


@pytest.mark.django_db
def test_day_bars_add_up_the_builds_of_every_hour_of_the_day(course: Course) -> None:
    enrolment = _make_class(course, 1)[0]
    now = timezone.localtime()
    noon_three_days_ago = (now - dt.timedelta(days=3)).replace(hour=12, minute=0)
    Build.objects.filter(enrolment=enrolment).update(created_at=now - dt.timedelta(days=5))
    Build.objects.bulk_create(
        Build(
            enrolment=enrolment,
            backend="dockerhub-autobuild",
            external_id=f"day-{hours}",
            state=BuildState.SUCCESS,
            created_at=noon_three_days_ago + dt.timedelta(hours=hours, minutes=5),
        )
        for hours in (-11, -3, 0, 7, 11)
    )

    chart = board.build_chart(course, now=now)

    assert chart.unit == "day"
    by_label = {bar.label: bar.total for bar in chart.bars}
    assert by_label[noon_three_days_ago.strftime("%d %b")] == 5
    assert by_label[(now - dt.timedelta(days=5)).strftime("%d %b")] == 2
    assert chart.total == 7


@pytest.mark.django_db
def test_rows_show_the_same_ticks_as_their_steps(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 3)
    client.force_login(instructor)

    response = client.get(reverse("dashboard:board", args=[course.slug]))
    rows = response.context["rows"]
    html = response.content.decode()

    done, stuck = rows[0], rows[1]
    assert done.ticks_html.count('class="done"') == 5
    assert stuck.ticks_html.count('class="done"') == 2
    assert stuck.ticks_html.count("not yet</span>") == 3
    assert done.ticks_html in html and stuck.ticks_html in html
    assert f'href="{done.url}#build-{done.latest_build.pk}"' in html


def _live(client: Client, course: Course) -> Any:
    response = client.get(reverse("dashboard:board_live", args=[course.slug]))
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_the_board_renders_once_while_nothing_on_it_changes(
    client: Client, instructor: Any, course: Course
) -> None:
    _make_class(course, 5)
    client.force_login(instructor)

    first = _live(client, course)
    again = _live(client, course)

    assert "dashboard/partials/board.html" in [t.name for t in first.templates]
    assert [t.name for t in again.templates] == []
    assert again.content == first.content


@pytest.mark.django_db
def test_the_board_shows_changes_written_without_save(
    client: Client, instructor: Any, course: Course
) -> None:
    # The engine writes with queryset.update() and bulk_create(): no signal tells the board.
    enrolments = _make_class(course, 5)
    client.force_login(instructor)
    _live(client, course)

    Enrolment.objects.filter(pk=enrolments[0].pk).update(name="Renamed Student")
    renamed = _live(client, course).content.decode()
    Build.objects.bulk_create(
        [
            Build(
                enrolment=enrolments[3],
                backend="dockerhub-autobuild",
                external_id="newest",
                state=BuildState.RUNNING,
                commit_sha="feedface99",
            )
        ]
    )
    building = _live(client, course).content.decode()

    assert "Renamed Student" in renamed
    assert "<code>feedfac</code>" in building


@pytest.mark.django_db
def test_the_board_renders_again_when_the_clock_moves_a_minutes_ago(
    client: Client, instructor: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_class(course, 1)
    client.force_login(instructor)
    before = _live(client, course).content.decode()

    def later(moment: dt.datetime, now: dt.datetime | None = None, **kwargs: Any) -> str:
        return timesince(moment, (now or timezone.now()) + dt.timedelta(minutes=3), **kwargs)

    monkeypatch.setattr(text, "timesince", later)  # the one way pages say "ago"
    after = _live(client, course)

    assert "dashboard/partials/board.html" in [t.name for t in after.templates]
    assert "20\xa0minutes ago" in before and "23\xa0minutes ago" in after.content.decode()


@pytest.mark.django_db
def test_the_timeline_dates_the_first_build_and_the_first_success_from_one_query(
    course: Course,
) -> None:
    enrolment = _make_class(course, 1)[0]
    # _make_class gives a success 30 minutes ago, then a failure; an older failure goes first.
    oldest = Build.objects.create(
        enrolment=enrolment,
        backend="dockerhub-autobuild",
        external_id="oldest",
        state=BuildState.FAILED,
        created_at=timezone.now() - dt.timedelta(hours=2),
    )
    success = Build.objects.get(enrolment=enrolment, state=BuildState.SUCCESS)

    with CaptureQueriesContext(connection) as captured:
        steps = {m.label: m for m in board.timeline(enrolment)}

    assert len(captured.captured_queries) <= 2  # the repository (not joined here) and builds
    first, first_success = steps["First build"], steps["First successful build"]
    assert first.done and first.detail == "Failed"
    assert first.at == oldest.created_at
    assert first_success.done and first_success.at == success.finished_at


@pytest.mark.django_db
def test_a_student_page_makes_the_same_queries_for_a_class_of_3_and_of_60(
    client: Client, instructor: Any, course: Course
) -> None:
    client.force_login(instructor)
    small_class = _make_class(course, 3)
    url = reverse("dashboard:student", args=[course.slug, small_class[0].pk])
    small = _count(client, url, {})

    _make_class(course, 57, start=3)
    large = _count(client, url, {})

    assert large == small
    assert small <= 13


def test_every_engine_step_has_a_label_a_person_reads():
    from accounts.steps import StepName
    from onboarding.steps import STEPS

    assert {name: STEPS[name].label for name in StepName}
    assert all(STEPS[name].label.strip() for name in StepName)


@pytest.mark.django_db
def test_students_without_a_build_sort_last_both_ways(course: Course) -> None:
    _make_class(course, 6)  # every third student has builds
    for sort in ("build", "-build"):
        filters = board.BoardFilters.from_query(QueryDict(f"sort={sort}"))
        ordered = list(board.board_queryset(course, filters))
        with_builds = [e.builds.exists() for e in ordered]
        assert with_builds == sorted(with_builds, reverse=True), sort
