"""A class of 30 moves from Docker Hub automated builds to GitHub Actions (issue 15's check),
against the sandbox over HTTP: a canary of 3 through the service the plan page and the API
use, then the rest with one student's first Actions build made to fail. Everything is read
back from the sandbox: who still has an automated-build rule, who has a green Actions run,
and that no workflow, secret, variable, webhook or rule was made twice."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from accounts.models import Course, Enrolment
from accounts.steps import StepName
from builds import moving
from builds.backends import data
from builds.backends.data import AppliedBuild
from builds.backends.github_actions.backend import WORKFLOW_PATH, token_label
from builds.moving import Move
from onboarding.board import BoardFilters, board_queryset
from onboarding.courses import course_move
from onboarding.engine import apply_plan, plan_course
from repositories.models import StudentRepository
from tests.engine.support import created, make_class
from tests.engine.test_converge import converge

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"
SIZE = 30
CANARY = 3


def onboard_on_automated_builds(sandbox: Any, course: Course, size: int) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.build_backend = AUTOBUILD
    course.save()
    make_class(sandbox, course, size)
    converge(sandbox, course)
    # Runs long enough that an apply sees the first Actions build unfinished.
    sandbox.world.config.update({"build_delay": 0.4})


def switch_to_actions(course: Course) -> None:
    Course.objects.filter(pk=course.pk).update(build_backend=ACTIONS)
    course.refresh_from_db()


def repositories(course: Course) -> list[StudentRepository]:
    return list(
        StudentRepository.objects.filter(enrolment__course=course)
        .select_related("enrolment")
        .order_by("enrolment__identifier")
    )


def stages(course: Course) -> list[str]:
    return [data.read(r, Move).stage for r in repositories(course)]


def rules(sandbox: Any) -> dict[str, int]:
    """Image -> how many automated-build rules its build source has (sandbox state)."""
    with sandbox.world.lock:
        builds = sandbox.world.dockerhub["builds"]
        return {source["image"]: len(source["settings"]) for source in builds["sources"].values()}


def github_repo(sandbox: Any, repository: StudentRepository) -> dict[str, Any]:
    with sandbox.world.lock:
        found: dict[str, Any] = sandbox.world.github["repos"][
            repository.enrolment.github_repo.lower()
        ]
        return found


def runs(sandbox: Any, repository: StudentRepository) -> list[tuple[str, str | None]]:
    """The repository's workflow runs of hubcourse's workflow: (status, conclusion)."""
    with sandbox.world.lock:
        return [
            (run["status"], run["conclusion"])
            for run in github_repo(sandbox, repository)["runs"].values()
            if run["path"] == WORKFLOW_PATH
        ]


def workflow_files(sandbox: Any, repository: StudentRepository) -> list[str]:
    """The workflow files on the repository's default branch."""
    from sandbox import github_state

    tree = github_state.read_tree(sandbox.world, repository.enrolment.github_repo, None) or {}
    return sorted(path for path in tree if path.startswith(".github/workflows/"))


def no_duplicates_in(sandbox: Any, repository: StudentRepository) -> None:
    """At most one of each thing hubcourse makes in the repository (read from the sandbox)."""
    with sandbox.world.lock:
        repo = github_repo(sandbox, repository)
        hook_urls = [hook["config"]["url"] for hook in repo["hooks"].values()]
        variables = list(repo.get("variables", {}))
        secrets = list(repo["secrets"])
    assert len(hook_urls) == len(set(hook_urls)), hook_urls
    assert len(variables) == len(set(variables)) <= 1, variables
    assert len(secrets) == len(set(secrets)) <= 1, secrets
    assert len(workflow_files(sandbox, repository)) <= 1
    assert rules(sandbox)[repository.full_name] <= 1
    label = token_label(repository)
    with sandbox.world.lock:
        tokens = [
            token
            for org in sandbox.world.dockerhub["orgs"].values()
            for token in org.get("access_tokens", {}).values()
            if token["label"] == label
        ]
    # A token made again (its secret is shown once) leaves no other alive for the student.
    assert len(tokens) <= 1, tokens


def move(sandbox: Any, course: Course, count: int | None) -> None:
    """Start the move through the plan page's and the API's service, then periodic
    reconciles (and the builds finishing) until no student's move is under way."""
    course_move(course=course, actor=None, count=count)
    for _ in range(10):
        sandbox.world.wait_idle(timeout=30)
        if not {moving.ADMITTED, moving.WAITING} & set(stages(course)):
            return
        apply_plan(plan_course(course, observe=True))
    raise AssertionError(f"moves still under way: {stages(course)}")


def fail_next_run(sandbox: Any, repository: StudentRepository, reason: str) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/github/repos/{repository.enrolment.github_repo}"
        "/actions/fail-next-run",
        json={"reason": reason},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def assert_moved(sandbox: Any, repository: StudentRepository) -> None:
    repository.refresh_from_db()
    name = repository.full_name
    assert data.read(repository, Move).stage == moving.MOVED, name
    assert data.read(repository, AppliedBuild).backend == ACTIONS, name
    assert rules(sandbox)[name] == 0, name
    assert runs(sandbox, repository) == [("completed", "success")], name
    assert workflow_files(sandbox, repository) == [WORKFLOW_PATH], name


def assert_untouched(sandbox: Any, repository: StudentRepository) -> None:
    repository.refresh_from_db()
    name = repository.full_name
    assert data.read(repository, Move).stage == "", name
    assert data.read(repository, AppliedBuild).backend == AUTOBUILD, name
    assert rules(sandbox)[name] == 1, name
    assert runs(sandbox, repository) == [], name
    assert workflow_files(sandbox, repository) == [], name
    assert github_repo(sandbox, repository)["secrets"] == {}, name


@pytest.mark.timeout(900)
def test_a_class_of_30_moves_with_a_canary_of_3_and_one_failing_student_kept_and_flagged(
    sandbox: Any, course: Course
) -> None:
    onboard_on_automated_builds(sandbox, course, SIZE)
    assert set(rules(sandbox).values()) == {1}
    switch_to_actions(course)
    before = created(sandbox)

    move(sandbox, course, CANARY)

    everyone = repositories(course)
    assert stages(course) == [moving.MOVED] * CANARY + [""] * (SIZE - CANARY)
    for repository in everyone[:CANARY]:
        assert_moved(sandbox, repository)
    for repository in everyone[CANARY:]:
        assert_untouched(sandbox, repository)

    failing = everyone[CANARY + 7]
    fail_next_run(sandbox, failing, "process did not complete successfully: exit code 1")
    move(sandbox, course, None)

    failing.refresh_from_db()
    kept = data.read(failing, Move)
    assert kept.stage == moving.KEPT
    assert "first GitHub Actions (Docker's migration path) build" in kept.reason
    assert "failed" in kept.reason
    # It keeps building as before: its rule is there, the workflow set up beside is gone.
    assert rules(sandbox)[failing.full_name] == 1
    assert data.read(failing, AppliedBuild).backend == AUTOBUILD
    assert workflow_files(sandbox, failing) == []
    assert runs(sandbox, failing) == [("completed", "failure")]
    # Flagged: the board's "needs attention" filter lists them alone, with the reason in words.
    flagged = board_queryset(course, BoardFilters(errors=True))
    assert [e.pk for e in flagged] == [failing.enrolment_id]
    student = Enrolment.objects.get(pk=failing.enrolment_id)
    assert student.error_step == StepName.CONFIGURE_BUILD
    assert "kept on Docker Hub automated builds" in student.error_message
    assert "failed" in student.error_message

    others = [r for r in everyone if r.pk != failing.pk]
    for repository in others:
        assert_moved(sandbox, repository)
    for repository in everyone:
        no_duplicates_in(sandbox, repository)

    # Each student's access token, secret, webhook, workflow commit and run was made once (one
    # more commit: the kept student's workflow removed; one more hook: the kept student's push
    # hook, which taking the workflow back removed, made again); no rule was made again.
    made = created(sandbox)
    delta = {kind: made.get(kind, 0) - before.get(kind, 0) for kind in made}
    assert delta.get("dockerhub.build_setting", 0) == 0, delta
    assert delta.get("dockerhub.build_source", 0) == 0, delta
    assert delta.get("github.secrets", 0) == SIZE, delta
    assert delta.get("github.workflow_runs", 0) == SIZE, delta
    assert delta.get("github.hooks", 0) == SIZE + 1, delta
    with sandbox.world.lock:
        assert len(github_repo(sandbox, failing)["hooks"]) == 1
    assert delta.get("dockerhub.oat", 0) == SIZE, delta
    assert delta.get("github.commits", 0) == SIZE + 1, delta

    # Settled: another periodic pass has nothing to do and makes nothing.
    plan = plan_course(course, observe=True)
    assert plan.actionable == [], plan.render()
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    assert created(sandbox) == made
