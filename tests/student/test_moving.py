"""The student's own page while their course moves its class to GitHub Actions (issue 15):
before their move they read that their image keeps building as now (and the one step that is
theirs, when the move needs the GitHub App); while it moves, that their automated build keeps
working until the first GitHub Actions build is green; when kept, why and what to do; once
moved, that GitHub Actions builds their image. Each reads only their own move."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Course, Enrolment, GitHubAccess, PreflightState, User
from builds import moving
from builds.backends import data
from builds.backends.common import login_cache_key
from builds.backends.data import AppliedBuild
from builds.models import Build, BuildState
from builds.moving import Move
from builds.services import builds_refresh
from onboarding.courses import course_move
from repositories.models import StudentRepository
from tests.builds.test_moves import ACTIONS, AUTOBUILD, _fail_next_run, _onboard, _switch
from tests.student.conftest import person

WAITS = (
    "Moving to GitHub Actions: your automated build keeps working until the first GitHub "
    "Actions build of main is green."
)
WILL_MOVE = "Your build will move to GitHub Actions"
NOTHING_TO_DO = "Nothing to do unless you are asked."
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _pages(client: Client, user: User, enrolment_id: int) -> tuple[str, str]:
    """The student's page and its live partial, as the student sees them."""
    client.force_login(user)
    page = client.get(reverse("student:status", args=[enrolment_id]))
    live = client.get(reverse("student:status_live", args=[enrolment_id]))
    assert page.status_code == 200 and live.status_code == 200
    return page.content.decode(), live.content.decode()


def _both(client: Client, user: User, enrolment_id: int) -> str:
    page, live = _pages(client, user, enrolment_id)
    # The live part is the page's own section (forms' CSRF tokens aside): whatever it says,
    # the page says.
    page, live = _CSRF.sub("", page), _CSRF.sub("", live).strip()
    start = page.index('<div id="status-live"')
    assert live == page[start : start + len(live)]
    return html.unescape(live)


@pytest.mark.django_db(transaction=True)
def test_each_student_reads_where_their_own_build_is_in_the_move(
    sandbox: Any, course: Course, client: Client
) -> None:
    _onboard(sandbox, course, 3)
    kept, moved, later = (
        Enrolment.objects.filter(course=course).order_by("identifier").select_related("course")
    )
    cast = {
        "kim": (kept, person("kim@example.edu")),
        "mo": (moved, person("mo@example.edu")),
        "lee": (later, person("lee@example.edu")),
    }
    for enrolment, user in cast.values():
        Enrolment.objects.filter(pk=enrolment.pk).update(user=user)
    kim, mo, lee = (user for _, user in cast.values())
    _switch(course, ACTIONS)

    before = _both(client, lee, later.pk)
    assert WILL_MOVE in before and NOTHING_TO_DO in before
    assert "Your image keeps building as now" in before
    assert "Built by Docker Hub automated builds on every push to main." in before

    # Kim and Mo move first, a canary; Kim's first Actions build will fail.
    _fail_next_run(sandbox, StudentRepository.objects.get(enrolment=kept), "exit code 1")
    sandbox.world.config.update({"build_delay": 5.0})
    course_move(course=course, actor=None, count=2)
    mo_repository = StudentRepository.objects.get(enrolment=moved)
    assert data.read(mo_repository, Move).stage == moving.WAITING

    waiting = _both(client, mo, moved.pk)
    assert WAITS in waiting
    assert "Built by Docker Hub automated builds" in waiting
    # Lee was not in the canary: still told the move is to come.
    assert WILL_MOVE in _both(client, lee, later.pk)
    # Once the first run is read, the page links to that build.
    builds_refresh(enrolment_id=moved.pk)
    run_id = data.read(StudentRepository.objects.get(enrolment=moved), Move).run_id
    assert run_id
    assert f"Follow that build (run {run_id})" in _both(client, mo, moved.pk)

    sandbox.world.wait_idle(timeout=30)
    for enrolment in (kept, moved):
        builds_refresh(enrolment_id=enrolment.pk)
    assert data.read(StudentRepository.objects.get(enrolment=kept), Move).stage == moving.KEPT
    assert data.read(StudentRepository.objects.get(enrolment=moved), Move).stage == moving.MOVED

    stays = _both(client, kim, kept.pk)
    assert "Your build stays on Docker Hub automated builds for now" in stays
    assert "Your build was kept on Docker Hub automated builds: its first GitHub Actions" in stays
    assert "failed" in stays
    assert "If the reason is about your repository or your Dockerfile, fix it" in stays
    assert "Built by Docker Hub automated builds" in stays
    assert WAITS not in stays

    done = _both(client, mo, moved.pk)
    assert "Built by GitHub Actions on every push to main." in done
    assert "Built by Docker Hub automated builds" not in done
    assert WAITS not in done and WILL_MOVE not in done
    # Mo reads nothing of Kim's move, and cannot open Kim's page.
    assert "stays on Docker Hub automated builds" not in done
    client.force_login(mo)
    assert client.get(reverse("student:status", args=[kept.pk])).status_code == 404
    assert client.get(reverse("student:status_live", args=[kept.pk])).status_code == 404


# -- rows only: the step that is the student's, and the page's cost --------------------------


def _mid_move(enrolment: Enrolment, **move: Any) -> StudentRepository:
    """The student as a course that switched to GitHub Actions leaves them: onboarded and
    built by automated builds, their move (not started unless ``move`` says) recorded."""
    now = timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk).update(
        docker_id=f"{enrolment.identifier.split('@')[0].replace('.', '')}",
        docker_id_verified_at=now,
        github_repo=f"{enrolment.identifier.split('@')[0].replace('.', '-')}/docker-course",
        preflight_state=PreflightState.PASSED,
        team_at=now,
    )
    repository = StudentRepository.objects.create(
        enrolment=enrolment,
        namespace="revelare",
        name=f"docker-101-{enrolment.pk}",
        created_at=now,
        permission_granted_at=now,
        build_configured_at=now,
    )
    data.update(repository, AppliedBuild, backend=AUTOBUILD)
    Build.objects.create(
        enrolment=enrolment,
        backend=AUTOBUILD,
        external_id=f"auto-{enrolment.pk}",
        state=BuildState.SUCCESS,
        commit_sha="abc1234def5678",
        created_at=now,
        finished_at=now,
    )
    if move:
        data.update(repository, Move, origin=AUTOBUILD, target=ACTIONS, **move)
    return repository


@pytest.fixture
def on_actions(course: Course, settings: Any) -> Iterator[Course]:
    # A GitHub App hubcourse runs as (the page offers to install it), and the course token's
    # login as last read: the students' repositories below are theirs, not the course's.
    settings.GITHUB_APP_ID = 4242
    settings.GITHUB_APP_SLUG = "hubcourse-test"
    settings.GITHUB_APP_PRIVATE_KEY = "not-a-real-key"
    Course.objects.filter(pk=course.pk).update(build_backend=ACTIONS)
    course.refresh_from_db()
    cache.set(login_cache_key(course), "revelare-course", 600)
    yield course
    cache.delete(login_cache_key(course))


@pytest.fixture
def sam(on_actions: Course, student: User) -> Enrolment:
    return Enrolment.objects.select_related("course").get(user=student)


@pytest.mark.django_db
def test_a_move_that_needs_the_github_app_says_installing_it_is_the_students_step(
    client: Client, sam: Enrolment, student: User
) -> None:
    _mid_move(sam)

    live = _both(client, student, sam.pk)

    step = (
        "One step is yours before your build can move: install the course's GitHub App on "
        "sam-student/docker-course"
    )
    assert WILL_MOVE in live and step in live
    assert 'href="#github-access"' in live
    # What to do now is that step, not "nothing".
    now = live[live.index('id="now-title"') : live.index("</section>")]
    assert step in now and "Nothing" not in now


@pytest.mark.django_db
def test_with_the_app_installed_there_is_nothing_to_do_before_the_move(
    client: Client, sam: Enrolment, student: User
) -> None:
    _mid_move(sam)
    Enrolment.objects.filter(pk=sam.pk).update(
        github_access=GitHubAccess.APP, github_installation_id=77
    )

    live = _both(client, student, sam.pk)

    assert WILL_MOVE in live and NOTHING_TO_DO in live
    assert "One step is yours" not in live and 'href="#github-access"' not in live


@pytest.mark.django_db
@pytest.mark.parametrize("classmates", [0, 20])
def test_the_page_mid_move_reads_as_many_queries_whatever_the_class_size(
    client: Client,
    sam: Enrolment,
    student: User,
    on_actions: Course,
    classmates: int,
    django_assert_max_num_queries: Any,
) -> None:
    _mid_move(sam, stage=moving.WAITING, run_id="9001")
    stages = ["", moving.ADMITTED, moving.WAITING, moving.KEPT]
    for i in range(classmates):
        other = Enrolment.objects.create(course=on_actions, identifier=f"pat{i}@example.edu")
        stage = stages[i % len(stages)]
        _mid_move(other, **({"stage": stage, "reason": "exit code 1"} if stage else {}))
    client.force_login(student)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("student:status", args=[sam.pk]))
    with django_assert_max_num_queries(8):
        live = client.get(reverse("student:status_live", args=[sam.pk]))

    assert WAITS in html.unescape(page.content.decode())
    assert "That build is run 9001." in html.unescape(live.content.decode())
