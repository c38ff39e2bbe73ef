"""``remove(enrolment)`` of both backends against the sandbox: everything ``configure`` made is
gone afterwards, and removing again (or removing what was never made) is fine."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Course, Enrolment
from builds.backends import backend_for, data
from builds.backends.autobuild.backend import AutobuildData
from builds.backends.data import PushHooks
from builds.backends.github_actions.backend import REMOVE_MESSAGE, WORKFLOW_PATH, ActionsData
from builds.services import build_configure, build_trigger_first
from hubcourse.models import AuditEvent
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_state
from tests.builds.support import created, make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"


def _hub_repo(sandbox: Any, enrolment: Enrolment) -> dict[str, Any]:
    repository = StudentRepository.objects.get(enrolment=enrolment)
    repo: dict[str, Any] = sandbox.world.dockerhub["repos"][repository.full_name]
    return repo


def _remove(enrolment: Enrolment) -> None:
    fresh = Enrolment.objects.select_related("course").get(pk=enrolment.pk)
    backend_for(fresh.course).remove(fresh)


def test_autobuild_removal_unlinks_the_build_and_the_webhook_and_can_run_again(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "adalovelace")
    build_configure(enrolment_id=student.pk)
    builds = sandbox.world.dockerhub["builds"]
    assert builds["sources"] and _hub_repo(sandbox, student)["webhook_pipelines"]

    _remove(student)

    assert builds["sources"] == {} and builds["settings"] == {}
    assert _hub_repo(sandbox, student)["webhook_pipelines"] == {}
    repository = StudentRepository.objects.get(enrolment=student)
    assert (
        data.read(repository, AutobuildData).source_uuid,
        data.read(repository, PushHooks).dockerhub_webhook,
    ) == ("", "")
    assert repository.build_configured_at is None

    _remove(student)  # gone already: fine

    outcomes = list(
        AuditEvent.objects.filter(enrolment=student, action="autobuild.delete")
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == [AuditEvent.Outcome.OK, AuditEvent.Outcome.NOOP]


def test_actions_removal_takes_back_hook_workflow_secrets_and_token(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "alanturing")
    build_configure(enrolment_id=student.pk)
    build_trigger_first(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    repository = StudentRepository.objects.get(enrolment=student)
    token_id = data.read(repository, ActionsData).token_id
    org = sandbox.seeded["dockerhub"]["org"]
    tokens = sandbox.world.dockerhub["orgs"][org]["access_tokens"]
    token_secret = tokens[token_id]["token"]
    repo_state = github_state.get_repo(sandbox.world, student.github_repo)
    assert repo_state is not None and repo_state["hooks"] and repo_state["secrets"]
    runs = len(repo_state["runs"])

    _remove(student)

    assert repo_state["hooks"] == {}
    assert repo_state["secrets"] == {}
    tree = github_state.read_tree(sandbox.world, student.github_repo, "main") or {}
    assert WORKFLOW_PATH not in tree and "DockerfileVolume" in tree
    head = repo_state["commits"][repo_state["branches"]["main"]]
    assert head["message"] == REMOVE_MESSAGE
    assert token_id not in tokens
    assert hub_state.login(sandbox.world, org, token_secret) is None
    assert _hub_repo(sandbox, student)["webhook_pipelines"] == {}
    repository.refresh_from_db()
    assert data.read(repository, ActionsData).token_id == ""
    assert (
        data.read(repository, PushHooks).github_hook_id,
        data.read(repository, ActionsData).secret_set_at,
        data.read(repository, ActionsData).workflow_sha,
    ) == (
        None,
        None,
        "",
    )
    sandbox.world.wait_idle(timeout=10)
    assert len(repo_state["runs"]) == runs  # removing the workflow built nothing

    before = (len(repo_state["commits"]), created(sandbox))
    _remove(student)  # gone already: fine, and nothing new is made

    assert (len(repo_state["commits"]), created(sandbox)) == before
    assert AuditEvent.objects.filter(
        enrolment=student, action="workflow.delete", outcome=AuditEvent.Outcome.NOOP
    ).exists()


def test_actions_removal_of_a_hook_whose_id_was_never_stored(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "gracehopper")
    build_configure(enrolment_id=student.pk)
    # The answer to the hook's creation was lost: only its URL says it is ours.
    data.update(
        StudentRepository.objects.filter(enrolment=student).get(), PushHooks, github_hook_id=None
    )

    _remove(student)

    repo_state = github_state.get_repo(sandbox.world, student.github_repo)
    assert repo_state is not None and repo_state["hooks"] == {}


def test_removal_when_nothing_was_configured_is_fine(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    no_repository = make_student(sandbox, course, "kengthompson", repository=False)
    unconfigured = make_student(sandbox, course, "barbaraliskov")
    before = created(sandbox)

    _remove(no_repository)
    _remove(unconfigured)
    Course.objects.filter(pk=course.pk).update(build_backend=AUTOBUILD)
    _remove(unconfigured)

    assert created(sandbox) == before
    repo_state = github_state.get_repo(sandbox.world, unconfigured.github_repo)
    assert repo_state is not None
    assert WORKFLOW_PATH not in (
        github_state.read_tree(sandbox.world, unconfigured.github_repo, "main") or {}
    )


def test_actions_removal_after_the_github_repository_was_deleted_still_revokes_the_token(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "franallen")
    build_configure(enrolment_id=student.pk)
    sandbox.world.wait_idle(timeout=10)
    token_id = data.read(StudentRepository.objects.get(enrolment=student), ActionsData).token_id
    with sandbox.world.lock:
        del sandbox.world.github["repos"][student.github_repo.lower()]

    _remove(student)

    org = sandbox.seeded["dockerhub"]["org"]
    assert token_id not in sandbox.world.dockerhub["orgs"][org]["access_tokens"]
    assert _hub_repo(sandbox, student)["webhook_pipelines"] == {}
    assert StudentRepository.objects.get(enrolment=student).build_configured_at is None
