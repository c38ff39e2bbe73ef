"""Every page and its API twin call the same service: the same Celery tasks are queued
after the commit for the same request, made once through the page and once through the API.
Each pair runs on its own course (or student) so the second request does not find the
first one's work done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import (
    BulkInvite,
    BulkInviteRow,
    Course,
    CourseRole,
    Enrolment,
    InviteState,
    Outcome,
    User,
)
from hubcourse.models import JobStatus
from onboarding import joining

Queued = list[tuple[str, tuple[Any, ...]]]


@pytest.fixture
def tasks_of(
    queued_tasks: Queued, django_capture_on_commit_callbacks: Any
) -> Iterator[Callable[[Callable[[], Any]], list[str]]]:
    """``tasks_of(request)``: the names of the tasks the request queued (after its commit)."""
    from hubcourse.celery import app

    # Eager chains run their tasks in place; queued ones go through ``apply_async``.
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False

    def run(request: Callable[[], Any]) -> list[str]:
        before = len(queued_tasks)
        capture: AbstractContextManager[Any] = django_capture_on_commit_callbacks(execute=True)
        with capture:
            response = request()
        assert response.status_code < 400, getattr(response, "content", b"")[:500]
        return sorted(name for name, _ in queued_tasks[before:])

    yield run
    app.conf.task_always_eager = eager


def _course(slug: str, instructor: User) -> Course:
    course = Course.objects.create(name=f"Course {slug}", slug=slug)
    CourseRole.objects.create(course=course, user=instructor, role=CourseRole.Role.INSTRUCTOR)
    return course


def _student(course: Course, n: int, **fields: Any) -> Enrolment:
    return Enrolment.objects.create(
        course=course,
        identifier=f"s{n}-{course.slug}@example.edu",
        docker_id=f"student{n}{course.slug.replace('-', '')}"[:30],
        **fields,
    )


@pytest.fixture
def page(instructor: User) -> Client:
    client = Client()
    client.force_login(instructor)
    return client


@pytest.fixture
def api(token_client: Any, instructor: User) -> Any:
    return token_client(instructor)


@pytest.fixture
def twins(instructor: User) -> Iterator[tuple[Course, Course]]:
    """Two courses set up alike: one for the page's request, one for the API's."""
    pair = (_course("page-twin", instructor), _course("api-twin", instructor))
    for course in pair:
        _student(course, 1)
        _student(course, 2)
    yield pair


def test_applying_the_plan_queues_the_same_steps_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    by_page = tasks_of(lambda: page.post(reverse("dashboard:plan", args=[twins[0].slug])))
    by_api = tasks_of(lambda: api.post(f"/api/v1/courses/{twins[1].slug}/plan/apply/"))
    assert by_page and by_page == by_api


ROSTER = (
    "identifier,name,docker_id\nada@example.edu,Ada,adalovelace\nal@example.edu,Alan,alanturing\n"
)


def test_a_roster_import_queues_the_same_checks_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    by_page = tasks_of(
        lambda: page.post(reverse("dashboard:roster", args=[twins[0].slug]), {"text": ROSTER})
    )
    by_api = tasks_of(
        lambda: api.post(f"/api/v1/courses/{twins[1].slug}/roster-imports/", {"text": ROSTER})
    )
    assert by_page and by_page == by_api


def test_confirming_a_roster_queues_the_same_onboarding_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, instructor: User, twins: tuple[Course, Course]
) -> None:
    from onboarding import courses

    previews = []
    for course in twins:
        preview = courses.roster_preview(
            course=course, actor=instructor, data=ROSTER, source="pasted text"
        )
        # The outside checks are another test's business: stop them, the rows stay importable.
        previews.append(courses.roster_checks_finish(preview=preview, why="test"))
    by_page = tasks_of(
        lambda: page.post(
            reverse("dashboard:roster_confirm", args=[twins[0].slug, previews[0].pk]),
            {"action": "confirm"},
        )
    )
    by_api = tasks_of(
        lambda: api.post(
            f"/api/v1/courses/{twins[1].slug}/roster-imports/{previews[1].pk}/confirm/"
        )
    )
    assert by_page == by_api
    assert Enrolment.objects.filter(course=twins[0], docker_id="adalovelace").exists()
    assert Enrolment.objects.filter(course=twins[1], docker_id="adalovelace").exists()


def test_importing_without_applying_saves_the_same_and_queues_nothing_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, instructor: User, twins: tuple[Course, Course]
) -> None:
    from onboarding import courses
    from onboarding.models import ApplyRun

    previews = []
    for course in twins:
        preview = courses.roster_preview(
            course=course, actor=instructor, data=ROSTER, source="pasted text"
        )
        previews.append(courses.roster_checks_finish(preview=preview, why="test"))
    by_page = tasks_of(
        lambda: page.post(
            reverse("dashboard:roster_confirm", args=[twins[0].slug, previews[0].pk]),
            {"action": "import"},
        )
    )
    answered: list[Any] = []

    def confirm_without_applying() -> Any:
        response = api.post(
            f"/api/v1/courses/{twins[1].slug}/roster-imports/{previews[1].pk}/confirm/",
            {"apply": False},
            format="json",
        )
        answered.append(response)
        return response

    by_api = tasks_of(confirm_without_applying)
    assert by_page == by_api == []
    assert answered[0].status_code == 200 and answered[0].json()["apply"] is None
    for course in twins:
        assert Enrolment.objects.filter(course=course, docker_id="adalovelace").exists()
        assert not ApplyRun.objects.filter(course=course).exists()


def test_correcting_a_student_queues_the_same_steps_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    ours, theirs = (c.enrolments.order_by("pk").first() for c in twins)
    assert ours is not None and theirs is not None
    body = {"docker_id": "gracehopper42", "github_repo": "grace/docker-course", "reason": "typo"}
    by_page = tasks_of(
        lambda: page.post(reverse("dashboard:student_correct", args=[twins[0].slug, ours.pk]), body)
    )
    by_api = tasks_of(
        lambda: api.patch(
            f"/api/v1/courses/{twins[1].slug}/enrolments/{theirs.pk}/", body, format="json"
        )
    )
    assert by_page and by_page == by_api


def test_retrying_a_student_queues_the_same_steps_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    for course in twins:
        course.enrolments.update(error_step="invite", error_message="boom", error_permanent=True)
    ours, theirs = (c.enrolments.order_by("pk").first() for c in twins)
    assert ours is not None and theirs is not None
    by_page = tasks_of(
        lambda: page.post(reverse("dashboard:student_retry", args=[twins[0].slug, ours.pk]))
    )
    by_api = tasks_of(
        lambda: api.post(f"/api/v1/courses/{twins[1].slug}/enrolments/{theirs.pk}/retry/")
    )
    assert by_page and by_page == by_api


@pytest.mark.parametrize("action", ["retry", "invite", "preflight"])
def test_a_bulk_action_queues_the_same_tasks_from_the_board_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course], action: str
) -> None:
    for course in twins:
        course.enrolments.update(
            error_step="invite",
            error_message="boom",
            invite_state=InviteState.PENDING,
            invite_id="inv-1",
        )
    ours = list(twins[0].enrolments.values_list("pk", flat=True))
    theirs = list(twins[1].enrolments.values_list("pk", flat=True))
    by_page = tasks_of(
        lambda: page.post(
            reverse("dashboard:bulk", args=[twins[0].slug]),
            {"action": action, "scope": "selected", "ids": ours},
        )
    )
    by_api = tasks_of(
        lambda: api.post(
            f"/api/v1/courses/{twins[1].slug}/enrolments/actions/",
            {"action": action, "ids": theirs},
            format="json",
        )
    )
    assert by_page and by_page == by_api


def test_starting_and_sending_a_bulk_invite_queue_the_same_tasks_from_the_page_and_the_api(
    tasks_of: Any, token_client: Any, site_admin: User
) -> None:
    page = Client()
    page.force_login(site_admin)
    api = token_client(site_admin)
    body = {"invitees": "adalovelace\nalanturing", "team": "", "role": "member"}
    by_page = tasks_of(lambda: page.post(reverse("organisation:bulk_new"), body))
    by_api = tasks_of(lambda: api.post("/api/v1/invite-jobs/", body))
    assert by_page and by_page == by_api

    first, second = BulkInvite.objects.order_by("pk")
    # The dry run found both worth inviting.
    BulkInvite.objects.update(status=JobStatus.DONE)
    BulkInviteRow.objects.filter(dry_run="").update(dry_run=Outcome.INVITE)
    by_page = tasks_of(lambda: page.post(reverse("organisation:bulk_send", args=[first.pk])))
    by_api = tasks_of(lambda: api.post(f"/api/v1/invite-jobs/{second.pk}/send/"))
    assert by_page and by_page == by_api


def test_offboarding_queues_the_same_job_from_the_page_and_the_api(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    def body(course: Course) -> dict[str, str]:
        return {"repository_action": "archive", "confirmation": course.name}

    by_page = tasks_of(
        lambda: page.post(reverse("organisation:offboard", args=[twins[0].slug]), body(twins[0]))
    )
    by_api = tasks_of(
        lambda: api.post(f"/api/v1/courses/{twins[1].slug}/offboardings/", body(twins[1]))
    )
    assert by_page and by_page == by_api


def test_linking_a_docker_id_queues_the_same_steps_from_the_page_and_the_api(
    tasks_of: Any,
    token_client: Any,
    twins: tuple[Course, Course],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(joining, "docker_id_exists", lambda course, docker_id: True)
    monkeypatch.setattr(
        joining,
        "own_repositories",
        lambda user, refresh=False: joining.OwnRepositories(False, []),
    )
    user = User.objects.create_user("lin.student@example.edu", "pw")
    ours, theirs = (
        Enrolment.objects.create(course=c, identifier=user.email, user=user) for c in twins
    )
    page = Client()
    page.force_login(user)
    api = token_client(user)
    body = {"docker_id": "linstudent", "github_repo": "lin/docker-course"}
    by_page = tasks_of(lambda: page.post(reverse("student:link", args=[ours.pk]), body))
    by_api = tasks_of(lambda: api.patch(f"/api/v1/me/enrolments/{theirs.pk}/", body, format="json"))
    assert by_page and by_page == by_api
    for enrolment in (ours, theirs):
        enrolment.refresh_from_db()
        assert (enrolment.docker_id, enrolment.github_repo) == ("linstudent", "lin/docker-course")


def test_course_settings_and_roles_queue_nothing_from_either_floor(
    tasks_of: Any, page: Client, api: Any, twins: tuple[Course, Course]
) -> None:
    # (The organisation is not among them: it is fixed once a course has students.)
    settings_body = {"name": "Renamed", "team": "hub", "build_tag": "latest"}
    role_body = {"email": "tina.ta@example.edu", "role": "ta"}
    assert (
        tasks_of(
            lambda: api.patch(f"/api/v1/courses/{twins[1].slug}/", settings_body, format="json")
        )
        == []
    )
    assert (
        tasks_of(lambda: page.post(reverse("dashboard:roles", args=[twins[0].slug]), role_body))
        == tasks_of(lambda: api.post(f"/api/v1/courses/{twins[1].slug}/roles/", role_body))
        == []
    )
