"""github-actions against the sandbox: a push token per student, and the first build dispatched
when the workflow was already in place."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from nacl.public import PrivateKey, SealedBox

from accounts.models import Course, Enrolment
from builds.backends import data
from builds.backends.github_actions.backend import (
    TOKEN_SECRET,
    USERNAME_VARIABLE,
    WORKFLOW_PATH,
    ActionsData,
    token_label,
    workflow_text,
)
from builds.models import Build, BuildState
from builds.services import build_configure, build_trigger_first, builds_refresh
from hubcourse.models import AuditEvent
from integrations.github.client import seal_secret
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import student_files
from tests.builds.support import created, make_student, use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

ACTIONS = "github-actions"


def stored_secret(sandbox: Any, full_name: str, name: str) -> str:
    """An Actions secret's value, opened with the sandbox repository's private key."""
    repo = github_state.get_repo(sandbox.world, full_name)
    assert repo is not None
    private = PrivateKey(base64.b64decode(repo["secret_key"]["private"]))
    sealed = base64.b64decode(repo["secrets"][name]["encrypted_value"])
    return SealedBox(private).decrypt(sealed).decode()


def _settle(sandbox: Any, enrolment: Enrolment) -> Build:
    sandbox.world.wait_idle(timeout=10)
    builds_refresh(enrolment_id=enrolment.pk)
    return Build.objects.get(enrolment=enrolment)


def test_each_students_workflow_gets_a_token_that_pushes_only_their_repository(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    ada = make_student(sandbox, course, "adalovelace")
    alan = make_student(sandbox, course, "alanturing")
    build_configure(enrolment_id=ada.pk)
    build_configure(enrolment_id=alan.pk)

    org = sandbox.seeded["dockerhub"]["org"]
    repository = StudentRepository.objects.get(enrolment=ada)
    other = StudentRepository.objects.get(enrolment=alan)
    ada_repo = github_state.get_repo(sandbox.world, ada.github_repo)
    assert ada_repo is not None
    # The login name is a variable, in the clear; only the token is a secret.
    login = ada_repo["variables"][USERNAME_VARIABLE]["value"]
    assert set(ada_repo["secrets"]) == {TOKEN_SECRET}
    secret = stored_secret(sandbox, ada.github_repo, TOKEN_SECRET)
    assert login == org
    assert secret != sandbox.seeded["dockerhub"]["owner_token"]
    identity = hub_state.login(sandbox.world, login, secret)
    assert identity is not None
    assert hub_state.may_push(sandbox.world, identity, org, repository.name)
    assert not hub_state.may_push(sandbox.world, identity, org, other.name)
    token = sandbox.world.dockerhub["orgs"][org]["access_tokens"][
        data.read(repository, ActionsData).token_id
    ]
    assert token["label"] == token_label(repository)
    assert token["resources"] == [
        {"type": "TYPE_REPO", "path": repository.full_name, "scopes": ["scope-image-push"]}
    ]

    build_trigger_first(enrolment_id=ada.pk)
    build = _settle(sandbox, ada)
    assert build.state == BuildState.SUCCESS, build.log_excerpt
    assert "Login Succeeded" in build.log_excerpt


def test_a_second_configure_keeps_the_token(sandbox: Any, course: Course, settings: Any) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "gracehopper")
    build_configure(enrolment_id=student.pk)
    first = data.read(StudentRepository.objects.get(enrolment=student), ActionsData).token_id
    sandbox.world.wait_idle(timeout=10)  # the workflow commit's run pushes a tag
    before = created(sandbox)

    again = build_configure(enrolment_id=student.pk)

    assert again is not None and not again.changed
    assert (
        data.read(StudentRepository.objects.get(enrolment=student), ActionsData).token_id == first
    )
    assert created(sandbox) == before


def test_a_token_whose_secret_was_lost_is_revoked_and_replaced(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = make_student(sandbox, course, "kengthompson")
    build_configure(enrolment_id=student.pk)
    repository = StudentRepository.objects.get(enrolment=student)
    old = data.read(repository, ActionsData).token_id
    repo_state = github_state.get_repo(sandbox.world, student.github_repo)
    assert repo_state is not None
    del repo_state["secrets"][TOKEN_SECRET]  # someone deleted it on GitHub

    build_configure(enrolment_id=student.pk)

    org = sandbox.seeded["dockerhub"]["org"]
    tokens = sandbox.world.dockerhub["orgs"][org]["access_tokens"]
    new = data.read(StudentRepository.objects.get(enrolment=student), ActionsData).token_id
    assert new and new != old
    assert old not in tokens
    assert [t["id"] for t in tokens.values() if t["label"] == token_label(repository)] == [new]
    assert hub_state.login(
        sandbox.world, org, stored_secret(sandbox, student.github_repo, TOKEN_SECRET)
    )


def test_without_an_owner_the_workflow_uses_the_course_token_and_says_so(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    hub = sandbox.seeded["dockerhub"]
    # The course's own organisation access token: Docker Hub lets no such token make others.
    course.dockerhub_username = hub["org"]
    course.dockerhub_token = hub["org_token"]
    course.save()
    student = make_student(sandbox, course, "barbaraliskov")

    build_configure(enrolment_id=student.pk)

    repository = StudentRepository.objects.get(enrolment=student)
    assert data.read(repository, ActionsData).token_id == ""
    assert stored_secret(sandbox, student.github_repo, TOKEN_SECRET) == hub["org_token"]
    note = AuditEvent.objects.get(enrolment=student, action="token.create")
    assert note.outcome == AuditEvent.Outcome.FALLBACK
    assert "course's credentials" in note.message
    build_trigger_first(enrolment_id=student.pk)
    assert _settle(sandbox, student).state == BuildState.SUCCESS


def test_a_workflow_already_in_place_is_dispatched_for_the_first_build(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    org = sandbox.seeded["dockerhub"]["org"]
    name = "margarethamilton"
    # The student copied the course's workflow in themselves: configuring commits nothing.
    files = {
        **student_files(None),
        WORKFLOW_PATH: workflow_text(course, f"{org}/{course.repository_name(name)}".lower()),
    }
    student = make_student(sandbox, course, name, files=files)
    repo_state = github_state.get_repo(sandbox.world, student.github_repo)
    assert repo_state is not None
    commits = len(repo_state["commits"])

    result = build_configure(enrolment_id=student.pk)
    external_id = build_trigger_first(enrolment_id=student.pk)

    assert result is not None
    assert len(repo_state["commits"]) == commits  # nothing was committed, nothing pushed
    assert external_id is not None
    build = _settle(sandbox, student)
    assert build.external_id == external_id
    assert build.state == BuildState.SUCCESS, build.log_excerpt
    assert repo_state["runs"][external_id]["event"] == "workflow_dispatch"
    assert created(sandbox).get("github.workflow_runs") == 1
    assert AuditEvent.objects.filter(
        enrolment=student, action="workflow.dispatch", outcome=AuditEvent.Outcome.OK
    ).exists()


def test_a_students_token_cannot_push_another_students_image(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    ada = make_student(sandbox, course, "johnbackus")
    alan = make_student(sandbox, course, "edsgerdijkstra")
    build_configure(enrolment_id=ada.pk)
    build_configure(enrolment_id=alan.pk)
    sandbox.world.wait_idle(timeout=10)
    ada_repo = github_state.get_repo(sandbox.world, ada.github_repo)
    alan_repo = github_state.get_repo(sandbox.world, alan.github_repo)
    assert ada_repo is not None and alan_repo is not None
    # Ada's workflow, holding Alan's token (sealed again with Ada's repository key).
    ada_repo["secrets"][TOKEN_SECRET]["encrypted_value"] = seal_secret(
        ada_repo["secret_key"]["public"], stored_secret(sandbox, alan.github_repo, TOKEN_SECRET)
    )

    github_state.push(
        sandbox.world, ada.github_repo, "main", {"notes.txt": "again\n"}, "rebuild", "someone"
    )
    sandbox.world.wait_idle(timeout=10)

    newest = max(ada_repo["runs"].values(), key=lambda run: run["id"])
    assert newest["conclusion"] == "failure"
    log = "\n".join(ada_repo["jobs"][str(newest["job_ids"][0])]["log"])
    assert "Login Succeeded" in log
    assert "push access denied" in log
