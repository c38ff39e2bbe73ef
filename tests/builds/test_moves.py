"""Moving a course from automated builds to GitHub Actions in stages (issue 15), against the
sandbox over HTTP: the workflow is set up beside the automated build, which is taken away
only after the first Actions build is green; a failing build keeps the student on automated
builds with the reason; a canary moves only its students; an apply cut short resumes without
doing anything twice; and moving back makes the rule again and removes the workflow."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Course, Enrolment, User
from accounts.steps import StepName
from accounts.tokens import token_create
from builds import moving, tracking
from builds.backends import data, get_backend
from builds.backends.data import AppliedBuild
from builds.backends.github_actions.backend import WORKFLOW_PATH, workflow_text
from builds.desired import record_applied
from builds.models import Build
from builds.moving import Move
from builds.rebuild import rebuild_run
from builds.services import builds_refresh
from onboarding import offboarding
from onboarding.courses import course_move
from onboarding.engine import Plan, apply_plan, plan_course
from repositories.models import StudentRepository
from sandbox import github_state
from tests.conftest import PASSWORD
from tests.engine.support import created, make_class
from tests.engine.test_converge import converge

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"


def _onboard(sandbox: Any, course: Course, size: int) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.build_backend = AUTOBUILD
    course.save()
    make_class(sandbox, course, size)
    converge(sandbox, course)
    # Runs long enough that the first apply sees the first Actions build unfinished.
    sandbox.world.config.update({"build_delay": 0.4})


def _switch(course: Course, backend: str) -> None:
    Course.objects.filter(pk=course.pk).update(build_backend=backend)
    course.refresh_from_db()


def _apply(sandbox: Any, course: Course) -> Plan:
    plan = plan_course(course, observe=True)
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    return plan


def _move(sandbox: Any, course: Course, count: int | None = None) -> None:
    course_move(course=course, actor=None, count=count)
    sandbox.world.wait_idle(timeout=30)


def _rules(sandbox: Any) -> dict[str, int]:
    """Image -> how many automated-build rules its (still linked) build source has."""
    with sandbox.world.lock:
        builds = sandbox.world.dockerhub["builds"]
        return {source["image"]: len(source["settings"]) for source in builds["sources"].values()}


def _repositories(course: Course) -> list[StudentRepository]:
    return list(
        StudentRepository.objects.filter(enrolment__course=course)
        .select_related("enrolment")
        .order_by("enrolment__identifier")
    )


def _stages(course: Course) -> list[str]:
    return [data.read(r, Move).stage for r in _repositories(course)]


def _workflow(sandbox: Any, repository: StudentRepository) -> str | None:
    tree = github_state.read_tree(sandbox.world, repository.enrolment.github_repo, "main")
    assert tree is not None
    return tree.get(WORKFLOW_PATH)


def _build_rows(plan: Plan) -> dict[str, Any]:
    return {
        plan.labels[s.enrolment_id]: s
        for s in plan.steps
        if s.enrolment_id is not None and s.step == StepName.CONFIGURE_BUILD
    }


def _settled_again(sandbox: Any, course: Course) -> None:
    before = created(sandbox)
    plan = plan_course(course, observe=True)
    assert plan.actionable == [], plan.render()
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    assert created(sandbox) == before


def test_a_move_keeps_the_automated_build_until_the_first_actions_build_is_green(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, 3)
    # Runs long enough that none ends while the apply sets the three up.
    sandbox.world.config.update({"build_delay": 5.0})
    _switch(course, ACTIONS)

    plan = plan_course(course, observe=True)
    # Nobody moves before an instructor starts it, not even on the periodic reconcile.
    assert plan.actionable == []
    rows = _build_rows(plan)
    assert len(rows) == 3
    assert all(
        row.waits_on == "instructor" and "waits until an instructor starts the move" in row.reason
        for row in rows.values()
    ), rows

    course_move(course=course, actor=None, count=None)

    # Set up beside: the workflow is there, its first run started, every rule still there.
    assert _stages(course) == [moving.WAITING] * 3
    assert set(_rules(sandbox).values()) == {1}
    for repository in _repositories(course):
        assert _workflow(sandbox, repository) == workflow_text(course, repository.full_name)
        assert data.read(repository, AppliedBuild).backend == AUTOBUILD
    waiting = _build_rows(plan_course(course))
    assert all("waiting for the first GitHub Actions" in r.reason for r in waiting.values())

    sandbox.world.wait_idle(timeout=30)  # the runs finish, green
    assert set(_rules(sandbox).values()) == {1}  # nothing is taken away by itself
    # Reading a run's result (a poll here; its workflow_run event alike) takes the move on.
    for repository in _repositories(course):
        builds_refresh(enrolment_id=repository.enrolment_id)

    assert _stages(course) == [moving.MOVED] * 3
    # The rules are gone; each repository's link to GitHub stays, for moving back.
    assert _rules(sandbox) == {r.full_name: 0 for r in _repositories(course)}
    for repository in _repositories(course):
        assert data.read(repository, AppliedBuild).backend == ACTIONS
        assert repository.build_configured_at is not None
    rows = _build_rows(plan_course(course))
    assert all(
        r.reason == "moved to GitHub Actions (Docker's migration path)" for r in rows.values()
    )
    _settled_again(sandbox, course)


def _fail_next_run(sandbox: Any, repository: StudentRepository, reason: str) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/github/repos/{repository.enrolment.github_repo}"
        "/actions/fail-next-run",
        json={"reason": reason},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def test_a_failing_actions_build_keeps_the_automated_build_and_says_why(
    sandbox: Any, course: Course, instructor: User, client: Client
) -> None:
    _onboard(sandbox, course, 3)
    first, *others = _repositories(course)
    _switch(course, ACTIONS)
    _fail_next_run(sandbox, first, "process did not complete successfully: exit code 1")

    _move(sandbox, course)
    _apply(sandbox, course)

    first.refresh_from_db()
    kept = data.read(first, Move)
    assert kept.stage == moving.KEPT
    assert "first GitHub Actions (Docker's migration path) build" in kept.reason
    assert "failed" in kept.reason
    # It still builds as before: its rule is there, the workflow set up beside is gone.
    assert _rules(sandbox)[first.full_name] == 1
    assert _workflow(sandbox, first) is None
    assert data.read(first, AppliedBuild).backend == AUTOBUILD
    # And hubcourse still hears of its pushes: one push hook, as before the move.
    with sandbox.world.lock:
        held = github_state.get_repo(sandbox.world, first.enrolment.github_repo)
        hooks = list(held["hooks"].values()) if held is not None else []
    assert len(hooks) == 1, hooks
    for repository in others:
        repository.refresh_from_db()
        assert data.read(repository, Move).stage == moving.MOVED
        assert _rules(sandbox)[repository.full_name] == 0
    # Needs attention, in words, on the plan and on the board.
    row = _build_rows(plan_course(course))[first.enrolment.identifier]
    assert row.waits_on == "instructor" and not row.actionable
    assert row.reason.startswith(
        "build Docker Hub automated builds -> GitHub Actions (Docker's migration path): "
        "kept on Docker Hub automated builds: its first"
    ), row.reason
    student = Enrolment.objects.get(pk=first.enrolment_id)
    assert student.error_step == StepName.CONFIGURE_BUILD
    assert "kept on Docker Hub automated builds" in student.error_message
    client.login(email=instructor.email, password=PASSWORD)
    board = client.get(reverse("dashboard:board", args=[course.slug]))
    assert board.status_code == 200
    assert "kept on Docker Hub automated builds" in board.content.decode()


def test_a_canary_moves_only_its_students_then_the_rest_follow(
    sandbox: Any, course: Course, instructor: User, client: Client
) -> None:
    _onboard(sandbox, course, 5)
    _switch(course, ACTIONS)
    client.login(email=instructor.email, password=PASSWORD)
    page = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()
    assert "Moving to GitHub Actions" in page and "Move them first" in page
    assert "Move the rest (5)" in page

    # The plan page's canary: two students first.
    answer = client.post(
        reverse("dashboard:plan", args=[course.slug]), {"move": "first", "count": "2"}
    )
    assert answer.status_code == 302
    sandbox.world.wait_idle(timeout=30)
    _apply(sandbox, course)
    # The periodic reconcile leaves the others alone.
    _apply(sandbox, course)

    repositories = _repositories(course)
    assert _stages(course) == [moving.MOVED] * 2 + [""] * 3
    for repository in repositories[:2]:
        assert _rules(sandbox)[repository.full_name] == 0
    for repository in repositories[2:]:
        assert _rules(sandbox)[repository.full_name] == 1
        assert _workflow(sandbox, repository) is None
    page = client.get(reverse("dashboard:plan", args=[course.slug])).content.decode()
    assert "Move the rest (3)" in page and "2 moved" in page

    # The rest, through the API.
    _, raw = token_create(user=instructor, name="move script")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    applied = api.post(f"/api/v1/courses/{course.slug}/plan/apply/", {"move": "rest"})
    assert applied.status_code == 202, applied.content
    sandbox.world.wait_idle(timeout=30)
    _apply(sandbox, course)

    assert _stages(course) == [moving.MOVED] * 5
    assert set(_rules(sandbox).values()) == {0}
    _settled_again(sandbox, course)


class WorkerDied(RuntimeError):
    """A failure injected at one point of a student's move."""


def test_an_apply_cut_short_resumes_where_each_student_is_and_does_nothing_twice(
    sandbox: Any, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    _onboard(sandbox, course, 3)
    _switch(course, ACTIONS)
    first = _repositories(course)[0]
    # Cut short after the automated build was taken away, before the move is recorded.
    failed: list[int] = []

    def dies_once(repository: StudentRepository, course: Course) -> None:
        if repository.pk == first.pk and not failed:
            failed.append(repository.pk)
            raise WorkerDied("the worker died here")
        record_applied(repository, course)

    monkeypatch.setattr(moving, "record_applied", dies_once)

    _move(sandbox, course)
    # The apply stops with the first student (eager tasks run the chains one after another).
    with pytest.raises(WorkerDied):
        apply_plan(plan_course(course, observe=True))
    sandbox.world.wait_idle(timeout=30)

    assert failed == [first.pk]
    assert _stages(course) == [moving.WAITING] * 3
    rules = _rules(sandbox)
    assert [rules[r.full_name] for r in _repositories(course)] == [0, 1, 1]
    before = created(sandbox)
    with sandbox.world.lock:
        runs = sandbox.world.stats["objects_created"].get("github.workflow_runs", 0)

    _apply(sandbox, course)

    assert _stages(course) == [moving.MOVED] * 3
    assert set(_rules(sandbox).values()) == {0}
    # Nothing was made again: no workflow commit, run, token, secret or hook.
    assert created(sandbox) == before
    with sandbox.world.lock:
        assert sandbox.world.stats["objects_created"].get("github.workflow_runs", 0) == runs
    assert Enrolment.objects.get(pk=first.enrolment_id).error_step == ""
    _settled_again(sandbox, course)


def test_moving_back_makes_the_rule_again_and_removes_the_workflow(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, 2)
    _switch(course, ACTIONS)
    _move(sandbox, course)
    _apply(sandbox, course)
    assert _stages(course) == [moving.MOVED] * 2

    _switch(course, AUTOBUILD)
    rows = _build_rows(plan_course(course, observe=True))
    assert all(
        r.change == "build GitHub Actions (Docker's migration path) -> Docker Hub automated builds"
        for r in rows.values()
    ), rows
    _move(sandbox, course)

    assert _stages(course) == [moving.MOVED] * 2
    assert set(_rules(sandbox).values()) == {1}
    for repository in _repositories(course):
        assert _workflow(sandbox, repository) is None
        assert data.read(repository, AppliedBuild).backend == AUTOBUILD
    _settled_again(sandbox, course)


def test_going_back_before_a_move_is_done_takes_back_what_it_set_up(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, 2)
    sandbox.world.config.update({"build_delay": 5.0})
    _switch(course, ACTIONS)
    course_move(course=course, actor=None, count=1)
    first, second = _repositories(course)
    assert _stages(course) == [moving.WAITING, ""]
    assert _workflow(sandbox, first) is not None

    _switch(course, AUTOBUILD)
    rows = _build_rows(plan_course(course, observe=True))
    assert rows[first.enrolment.identifier].actionable
    assert "was called off" in rows[first.enrolment.identifier].reason
    assert not rows[second.enrolment.identifier].actionable
    _apply(sandbox, course)

    assert _workflow(sandbox, first) is None
    assert set(_rules(sandbox).values()) == {1}
    assert _stages(course) == ["", ""]
    _settled_again(sandbox, course)


def _offboard(course: Course, capture: Any) -> None:
    with capture(execute=True):
        offboarding.offboarding_start(
            course=course, repository_action="archive", confirmation=course.name, actor=None
        )


def test_offboarding_mid_move_removes_what_the_old_and_the_new_backend_hold(
    sandbox: Any, course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    _onboard(sandbox, course, 4)
    _switch(course, ACTIONS)
    moved, kept, waiting, _not_started = _repositories(course)
    _fail_next_run(sandbox, kept, "process did not complete successfully: exit code 1")
    _move(sandbox, course, count=2)
    _apply(sandbox, course)
    # The third's first Actions build is still running when the course is offboarded.
    sandbox.world.config.update({"build_delay": 5.0})
    course_move(course=course, actor=None, count=1)
    assert _stages(course) == [moving.MOVED, moving.KEPT, moving.WAITING, ""]
    assert _workflow(sandbox, moved) is not None and _workflow(sandbox, waiting) is not None
    rules = _rules(sandbox)
    assert [rules[r.full_name] for r in _repositories(course)] == [0, 1, 1, 1]

    _offboard(course, django_capture_on_commit_callbacks)
    sandbox.world.wait_idle(timeout=30)

    assert not any(_rules(sandbox).values()), _rules(sandbox)
    for repository in _repositories(course):
        assert _workflow(sandbox, repository) is None, repository.full_name


def _one_moved_one_staying(
    sandbox: Any, course: Course
) -> tuple[StudentRepository, StudentRepository]:
    """Two students on automated builds, the first moved to GitHub Actions (a canary of one)."""
    _onboard(sandbox, course, 2)
    _switch(course, ACTIONS)
    _move(sandbox, course, count=1)
    _apply(sandbox, course)
    moved, staying = _repositories(course)
    return moved, staying


def test_builds_are_labelled_with_the_backend_that_built_them_during_a_move(
    sandbox: Any, course: Course
) -> None:
    moved, staying = _one_moved_one_staying(sandbox, course)
    assert _stages(course) == [moving.MOVED, ""]
    # A new automated build of the student not moved yet, read by the usual refresh.
    started = get_backend(AUTOBUILD).trigger(staying.enrolment)
    sandbox.world.wait_idle(timeout=30)
    builds_refresh(enrolment_id=staying.enrolment_id)
    builds_refresh(enrolment_id=moved.enrolment_id)

    assert set(
        Build.objects.filter(enrolment_id=staying.enrolment_id).values_list("backend", flat=True)
    ) == {AUTOBUILD}
    if started:
        assert Build.objects.filter(
            enrolment_id=staying.enrolment_id, external_id=started, backend=AUTOBUILD
        ).exists()
    assert Build.objects.filter(enrolment_id=staying.enrolment_id).count() >= 2
    # The moved student's first Actions run is an Actions build.
    assert Build.objects.filter(enrolment_id=moved.enrolment_id, backend=ACTIONS).exists()


def test_a_rebuild_during_a_move_goes_to_the_backend_the_student_is_on(
    sandbox: Any, course: Course
) -> None:
    moved, staying = _one_moved_one_staying(sandbox, course)
    with sandbox.world.lock:
        runs = sandbox.world.stats["objects_created"].get("github.workflow_runs", 0)
    automated = Build.objects.filter(enrolment_id=staying.enrolment_id, backend=AUTOBUILD).count()

    rebuild_run(enrolment_id=staying.enrolment_id)
    sandbox.world.wait_idle(timeout=30)
    builds_refresh(enrolment_id=staying.enrolment_id)

    # An automated build, not a GitHub Actions run on a repository that has no workflow.
    with sandbox.world.lock:
        assert sandbox.world.stats["objects_created"].get("github.workflow_runs", 0) == runs
    assert _workflow(sandbox, staying) is None
    staying_builds = Build.objects.filter(enrolment_id=staying.enrolment_id)
    assert staying_builds.filter(backend=AUTOBUILD).count() == automated + 1
    assert not staying_builds.filter(backend=ACTIONS).exists()

    # The moved student's rebuild is a GitHub Actions run.
    actions = Build.objects.filter(enrolment_id=moved.enrolment_id, backend=ACTIONS).count()
    rebuild_run(enrolment_id=moved.enrolment_id)
    sandbox.world.wait_idle(timeout=30)
    builds_refresh(enrolment_id=moved.enrolment_id)
    moved_builds = Build.objects.filter(enrolment_id=moved.enrolment_id)
    assert moved_builds.filter(backend=ACTIONS).count() == actions + 1


def test_a_first_run_reported_before_the_move_waits_for_it_is_an_actions_build(
    sandbox: Any, course: Course
) -> None:
    # The workflow's own commit starts its run at once: the run's event can arrive while the
    # student is still "admitted", when their builds are otherwise the automated build's.
    _onboard(sandbox, course, 1)
    _switch(course, ACTIONS)
    moving.move_admit(course)
    (repository,) = _repositories(course)
    enrolment = repository.enrolment
    run = {
        "id": 777001,
        "name": "hubcourse",
        "workflow_id": 7,
        "run_number": 1,
        "path": WORKFLOW_PATH,
        "head_branch": course.build_branch,
        "head_sha": "b" * 40,
        "event": "push",
        "status": "queued",
        "conclusion": None,
        "html_url": f"https://github.com/{enrolment.github_repo}/actions/runs/777001",
        "created_at": "2026-12-07T21:05:44Z",
        "updated_at": "2026-12-07T21:05:44Z",
    }
    payload = {"workflow_run": run, "repository": {"full_name": enrolment.github_repo}}

    tracking.on_workflow_run(payload)
    tracking.on_workflow_run(
        {**payload, "workflow_run": {**run, "status": "completed", "conclusion": "success"}}
    )

    assert list(
        Build.objects.filter(enrolment=enrolment, external_id="777001").values_list(
            "backend", "state"
        )
    ) == [(ACTIONS, "success")]
