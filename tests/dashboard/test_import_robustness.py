"""Issue 17 through the pages and services: large rosters checked in batches with progress,
a time limit or a Stop that leaves an importable preview, oversized uploads refused in words,
and a file imported twice that creates nothing new."""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Course, Enrolment, User
from accounts.roster_parsing import Check, RosterError
from hubcourse.errors import NotFound
from onboarding import courses
from onboarding.models import RosterImport

pytestmark = pytest.mark.django_db


class SlowGitHub:
    """A GitHub that knows every repository but ``missing``, and counts the reads."""

    def __init__(self, missing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.missing = missing
        self.reads: list[str] = []

    def get_repository(self, owner: str, name: str) -> object:
        self.reads.append(f"{owner}/{name}")
        if f"{owner}/{name}" in self.missing:
            raise NotFound("GitHub", f"read {owner}/{name}", 404, "Not Found")
        return object()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> SlowGitHub:
    repo_services = courses  # roster_check reads GitHub through the name it imported

    fake = SlowGitHub({"s3/lab"})
    monkeypatch.setattr(repo_services, "github_client_for", lambda course: fake)
    return fake


def _roster(n: int) -> str:
    return "identifier,github_repo\n" + "".join(f"s{i}@uni.example,s{i}/lab\n" for i in range(n))


def test_a_large_rosters_checks_run_in_batches_and_show_progress(
    instructor: User,
    course: Course,
    github: SlowGitHub,
    client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    preview = courses.roster_preview(
        course=course, actor=instructor, data=_roster(5), source="pasted text"
    )
    assert preview.status == "checking"
    assert (preview.check_job.total, preview.check_job.done) == (5, 0)

    # A budget of nothing: each batch reads one repository, saves, and queues the next.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        courses.roster_check(import_id=preview.pk, budget_seconds=0)
    preview.refresh_from_db()
    assert len(github.reads) == 1 and len(queued) == 1
    preview.check_job.refresh_from_db()
    assert (preview.status, preview.check_job.done) == ("checking", 1)
    client.force_login(instructor)
    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk]))
    assert "1 of 5" in page.content.decode()

    while preview.status == "checking":
        courses.roster_check(import_id=preview.pk)
        preview.refresh_from_db()
    rows = {row["identifier"]: row for row in preview.rows}
    preview.check_job.refresh_from_db()
    assert preview.check_job.done == 5 and preview.check_job.status == "done"
    assert len(github.reads) == 5
    assert rows["s3@uni.example"]["status"] == "warning"
    assert rows["s0@uni.example"]["status"] == "ok"


def test_a_deadline_leaves_a_usable_preview_with_rows_not_checked(
    instructor: User, course: Course, github: SlowGitHub
) -> None:
    preview = courses.roster_preview(
        course=course, actor=instructor, data=_roster(3), source="pasted text"
    )
    RosterImport.objects.filter(pk=preview.pk).update(
        check_deadline=timezone.now() - dt.timedelta(seconds=1)
    )

    courses.roster_check(import_id=preview.pk)

    preview.refresh_from_db()
    assert preview.status == "ready" and not github.reads
    assert {row["check"] for row in preview.rows if row["identifier"]} == {Check.NOT_CHECKED}
    assert "3 of 3 row(s) were not checked" in preview.check_error
    result = courses.roster_confirm(preview=preview, actor=instructor)
    assert result.created == 3


def test_a_preview_left_checking_by_a_lost_worker_is_not_stuck_for_ever(
    client: Client, instructor: User, course: Course
) -> None:
    preview = courses.roster_preview(
        course=course, actor=instructor, data=_roster(2), source="pasted text"
    )
    RosterImport.objects.filter(pk=preview.pk).update(
        check_deadline=timezone.now() - dt.timedelta(minutes=1)
    )
    client.force_login(instructor)

    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk]))

    preview.refresh_from_db()
    assert preview.status == "ready"
    assert "not checked" in page.content.decode()


def test_stop_the_checks_is_a_way_out_besides_discard(
    client: Client, instructor: User, course: Course
) -> None:
    preview = courses.roster_preview(
        course=course, actor=instructor, data=_roster(2), source="pasted text"
    )
    client.force_login(instructor)
    url = reverse("dashboard:roster_preview", args=[course.slug, preview.pk])
    assert "Stop the checks" in client.get(url).content.decode()

    client.post(
        reverse("dashboard:roster_confirm", args=[course.slug, preview.pk]),
        {"action": "stop_checks"},
    )
    client.post(reverse("dashboard:roster_confirm", args=[course.slug, preview.pk]))

    assert Enrolment.objects.filter(course=course).count() == 2


def test_the_time_limit_of_a_check_leaves_a_ready_preview(
    instructor: User, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from onboarding.tasks import checks

    preview = courses.roster_preview(
        course=course, actor=instructor, data=_roster(2), source="pasted text"
    )

    def out_of_time(**kwargs: Any) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(courses, "roster_check", out_of_time)
    checks.roster_check_task.run(preview.pk)

    preview.refresh_from_db()
    assert preview.status == "ready" and "time limit" in preview.check_error


def test_a_utf16_file_with_a_mark_is_previewed_not_a_500(
    client: Client, instructor: User, course: Course
) -> None:
    client.force_login(instructor)
    data = codecs.BOM_UTF16_LE + "identifier,name\nzoe@uni.example,Zoë\n".encode("utf-16-le")

    response = client.post(
        reverse("dashboard:roster", args=[course.slug]),
        {"file": SimpleUploadedFile("roster.csv", data)},
    )

    assert response.status_code == 302
    assert RosterImport.objects.get().rows[0]["name"] == "Zoë"


def test_the_preview_says_what_it_changed_and_what_it_only_warns_about(
    client: Client, instructor: User, course: Course
) -> None:
    client.force_login(instructor)
    client.post(
        reverse("dashboard:roster", args=[course.slug]),
        {"text": "identifier,name\n S1 ,Ann\ns2,=cmd\n"},
    )
    preview = RosterImport.objects.get()

    page = client.get(reverse("dashboard:roster_preview", args=[course.slug, preview.pk]))

    html = page.content.decode()
    assert "changed 1</strong> row" in html and "only warns about 1</strong>" in html
    assert "changed identifier (trimmed)" in html
    assert "formula" in html


def test_an_oversized_upload_gets_the_pages_words_even_with_csrf_checks(
    instructor: User, course: Course, settings: Any
) -> None:
    settings.FILE_UPLOAD_MAX_BYTES = 1024 * 1024
    client = Client(enforce_csrf_checks=True)
    client.force_login(instructor)
    url = reverse("dashboard:roster", args=[course.slug])
    big = SimpleUploadedFile("roster.csv", b"s1,Ann\n" * (2 * 1024 * 1024 // 7))

    response = client.post(url, {"file": big})

    assert response.status_code == 303
    assert "up to 2 MB and 5,000 rows" in client.get(url).content.decode()


def test_an_oversized_bulk_add_gets_its_limits_in_words(site_admin: User, settings: Any) -> None:
    settings.FILE_UPLOAD_MAX_BYTES = 1024 * 1024
    client = Client(enforce_csrf_checks=True)
    client.force_login(site_admin)
    url = reverse("organisation:bulk_new")

    client.post(url, {"csv_file": SimpleUploadedFile("l.csv", b"ada12345\n" * 300_000)})

    assert "up to 5 MB and 20,000 entries" in client.get(url).content.decode()


TEXTS = st.lists(
    st.sampled_from(
        [
            "identifier,name,email",
            "a@uni.example,Ann,",
            "B@Uni.example , Bob ,b@uni.example",
            "s3,Sam,sam@uni.example",
            "s3,Sam again,",
            "",
            "-----",
            "s4,=cmd,",
            "s5,Zo\u202ee,",
        ]
    )
    | st.text(alphabet='abcS1@.,; \n"', max_size=20),
    min_size=1,
    max_size=8,
).map("\n".join)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXTS)
def test_the_same_file_imported_twice_creates_nothing_new(
    instructor: User, course: Course, text: str
) -> None:
    def import_it() -> courses.ImportResult | None:
        try:
            preview = courses.roster_preview(
                course=course, actor=instructor, data=text, source="pasted text"
            )
        except RosterError:
            return None
        preview = courses.roster_checks_finish(preview=preview, why="not part of this test")
        return courses.roster_confirm(preview=preview, actor=instructor)

    import_it()
    before = list(Enrolment.objects.filter(course=course).values().order_by("pk"))
    again = import_it()

    assert again is None or (again.created, again.updated) == (0, 0)
    after = list(Enrolment.objects.filter(course=course).values().order_by("pk"))
    assert after == before
