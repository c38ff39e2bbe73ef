"""Builds from GitHub repositories the students own (issue 14), over HTTP against the sandbox.

Docker Hub links an automated build only through the GitHub account linked to the Docker ID
that sets it up, for repositories that account administers (the sandbox enforces it): the
Owner links the repositories of the course's own account, the student links their own, and
hubcourse reads the link back. github-actions writes to a student's repository only through
the GitHub App's installation token.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
import requests
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, User
from accounts.steps import StepName
from builds.backends import backend_for, data
from builds.backends.autobuild.backend import BY_HUBCOURSE, BY_STUDENT, AutobuildData
from builds.backends.autobuild.client import AutobuildClient, BuildRule
from builds.backends.github_actions.backend import (
    TOKEN_SECRET,
    USERNAME_VARIABLE,
    WORKFLOW_PATH,
    ActionsData,
    token_label,
)
from builds.preflight import preflight_run
from builds.services import build_configure
from hubcourse.models import AuditEvent
from integrations.dockerhub.client import DockerHubClient
from onboarding.engine import plan_course
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_apps_state, github_state
from sandbox.seed import INSTRUCTOR_LOGIN, student_files
from tests.builds.support import make_student, use_sandbox
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"


def _own_repository(
    sandbox: Any, student: Enrolment, login: str, *, link: bool = True
) -> dict[str, Any]:
    """The student owns ``login/course`` on GitHub; with ``link`` their Docker ID is linked to
    that GitHub account (Account settings > Linked accounts), through the control API."""
    world = sandbox.world
    github_state.create_user(world, login, f"{login}@example.edu", login)
    repo = github_state.create_repo(world, login, "course", student_files(None))
    if link:
        answer = requests.put(
            f"{sandbox.url}/_sandbox/dockerhub/users/{student.docker_id}/github-link",
            json={"login": login},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
    Enrolment.objects.filter(pk=student.pk).update(github_repo=repo["full_name"])
    return repo


def _student_client(sandbox: Any, docker_id: str) -> AutobuildClient:
    """The student's own Docker Hub session (a personal access token of theirs)."""
    token = hub_state.create_pat(sandbox.world, docker_id, "my laptop")
    return AutobuildClient(DockerHubClient(sandbox.url, docker_id, token))


def _grant_student_admin(sandbox: Any, repository: StudentRepository, docker_id: str) -> None:
    """The student in the organisation with their own team, which the Owner grants admin on
    their repository (as the team-per-student policy does with automated builds)."""
    world = sandbox.world
    hub = sandbox.seeded["dockerhub"]
    with world.lock:
        org = world.dockerhub["orgs"][repository.namespace.lower()]
        hub_state._add_member(world, org, docker_id, "member", hub["owner"])
        team = hub_state._new_group(world, org, f"team-{docker_id}", "")
        team["members"].append(docker_id)
    owner = DockerHubClient(sandbox.url, hub["owner"], hub["owner_token"])
    owner.grant_team_permission(repository.namespace, repository.name, int(team["id"]), "admin")


def _student_page(client: Client, student: Enrolment) -> str:
    user = User.objects.create_user(f"{student.docker_id}@students.example.edu", PASSWORD)
    Enrolment.objects.filter(pk=student.pk).update(user=user)
    client.login(email=user.email, password=PASSWORD)
    page = client.get(reverse("student:status", args=[student.pk]))
    assert page.status_code == 200
    return html.unescape(page.content.decode())


def _source_posts(sandbox: Any) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"service": "dockerhub", "method": "POST", "path_contains": "/api/build/v1/"},
        timeout=5,
    )
    return [r for r in answer.json()["requests"] if r["path"].rstrip("/").endswith("/source")]


def test_an_owner_administered_repository_is_linked_by_hubcourse(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    student = make_student(sandbox, course, "adalovelace")  # the instructor's repository
    assert student.github_repo.startswith(f"{INSTRUCTOR_LOGIN}/")

    result = build_configure(enrolment_id=student.pk)

    assert result is not None and result.changed
    repository = StudentRepository.objects.get(enrolment=student)
    assert repository.build_configured_at is not None
    assert data.read(repository, AutobuildData).set_up_by == BY_HUBCOURSE
    assert backend_for(course).student_task(student, repository) is None


def test_a_student_owned_repository_waits_on_the_student_then_is_read_back(
    sandbox: Any, course: Course, settings: Any, client: Client
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    Course.objects.filter(pk=course.pk).update(access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    student = make_student(sandbox, course, "gracehopper")
    _own_repository(sandbox, student, "grace-gh")
    repository = StudentRepository.objects.get(enrolment=student)

    assert build_configure(enrolment_id=student.pk) is None  # waits, quietly

    repository.refresh_from_db()
    kept = data.read(repository, AutobuildData)
    assert kept.set_up_by == BY_STUDENT and kept.waiting
    assert repository.build_configured_at is None
    assert _source_posts(sandbox) == []  # the Owner did not even try
    # The student's page shows the exact values and the build settings page.
    text = _student_page(client, student)
    assert "Link your automated build on Docker Hub" in text
    for value in ("grace-gh/course", "DockerfileVolume", "main", "latest"):
        assert value in text
    assert (
        f"{settings.DOCKERHUB_WEB_URL.rstrip('/')}/repository/docker/"
        f"{repository.namespace}/{repository.name}/builds/edit"
    ) in text

    # The student links it from their own Docker ID (linked to grace-gh), as the page says.
    _grant_student_admin(sandbox, repository, "gracehopper")
    own = _student_client(sandbox, "gracehopper")
    own.create_build_source(
        repository.namespace,
        repository.name,
        github_owner="grace-gh",
        github_repository="course",
        rules=[BuildRule(source_name="main", tag="latest", dockerfile="DockerfileVolume")],
    )

    result = build_configure(enrolment_id=student.pk)

    assert result is not None
    assert not AuditEvent.objects.filter(enrolment=student, action="autobuild.correct").exists()
    repository.refresh_from_db()
    assert data.read(repository, AutobuildData).differences == ()
    assert repository.build_configured_at is not None
    assert not data.read(repository, AutobuildData).waiting
    task = backend_for(course).student_task(student, repository)
    assert task is not None and not task.waiting


def test_a_rule_field_the_student_got_wrong_is_corrected_and_said_in_words(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    Course.objects.filter(pk=course.pk).update(access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    student = make_student(sandbox, course, "barbaraliskov")
    _own_repository(sandbox, student, "barbara-gh")
    repository = StudentRepository.objects.get(enrolment=student)
    build_configure(enrolment_id=student.pk)
    _grant_student_admin(sandbox, repository, "barbaraliskov")
    own = _student_client(sandbox, "barbaraliskov")
    own.create_build_source(
        repository.namespace,
        repository.name,
        github_owner="barbara-gh",
        github_repository="course",
        rules=[BuildRule(source_name="main", tag="latest", dockerfile="Dockerfile")],
    )

    result = build_configure(enrolment_id=student.pk)

    assert result is not None and result.changed
    source = own.get_build_source(repository.namespace, repository.name)
    assert source is not None
    (rule,) = own.list_build_settings(source)
    assert rule.dockerfile == "DockerfileVolume"
    repository.refresh_from_db()
    assert repository.build_configured_at is not None
    kept = data.read(repository, AutobuildData)
    assert kept.differences == (
        "the Dockerfile location is 'Dockerfile', the course builds 'DockerfileVolume'",
    )
    event = AuditEvent.objects.get(enrolment=student, action="autobuild.correct")
    assert "Dockerfile location" in event.message


def test_a_source_linked_to_another_repository_keeps_waiting_with_the_difference(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    Course.objects.filter(pk=course.pk).update(access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    student = make_student(sandbox, course, "franallen")
    _own_repository(sandbox, student, "fran-gh")
    github_state.create_repo(sandbox.world, "fran-gh", "other", student_files(None))
    repository = StudentRepository.objects.get(enrolment=student)
    build_configure(enrolment_id=student.pk)
    _grant_student_admin(sandbox, repository, "franallen")
    _student_client(sandbox, "franallen").create_build_source(
        repository.namespace,
        repository.name,
        github_owner="fran-gh",
        github_repository="other",
        rules=[BuildRule()],
    )

    assert build_configure(enrolment_id=student.pk) is None

    repository.refresh_from_db()
    assert repository.build_configured_at is None
    kept = data.read(repository, AutobuildData)
    assert kept.waiting
    assert kept.differences == ("it builds from GitHub fran-gh/other, not from fran-gh/course",)


def test_with_one_course_team_the_owner_tries_and_a_refusal_says_what_is_missing(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)  # one course team
    student = make_student(sandbox, course, "alanturing")
    _own_repository(sandbox, student, "alan-gh")
    repository = StudentRepository.objects.get(enrolment=student)

    assert build_configure(enrolment_id=student.pk) is None

    # The student could not link it themselves, so the Owner tried; Docker Hub refused.
    assert len(_source_posts(sandbox)) == 1
    repository.refresh_from_db()
    assert data.read(repository, AutobuildData).set_up_by == BY_STUDENT
    task = backend_for(course).student_task(student, repository)
    assert task is not None and task.waiting and "one team per student" in task.needs
    (step,) = [s for s in plan_course(course).steps if s.step == StepName.LINK_BUILD]
    assert "one team per student" in step.reason


# -- the Owner's linked GitHub account: named by the course, else assumed ----------------------


def _link_owner(sandbox: Any, login: str) -> None:
    """On Docker Hub, the Owner's Docker ID is linked to GitHub ``login``."""
    owner = sandbox.seeded["dockerhub"]["owner"]
    answer = requests.put(
        f"{sandbox.url}/_sandbox/dockerhub/users/{owner}/github-link",
        json={"login": login},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text


def _school_repository(sandbox: Any, student: Enrolment, login: str) -> None:
    world = sandbox.world
    if github_state.get_user(world, login) is None:
        github_state.create_user(world, login, f"{login}@example.edu", login)
    repo = github_state.create_repo(
        world, login, f"{student.docker_id}-course", student_files(None)
    )
    Enrolment.objects.filter(pk=student.pk).update(github_repo=repo["full_name"])


def test_the_owner_links_builds_from_the_github_account_the_course_names_as_linked(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    Course.objects.filter(pk=course.pk).update(
        access_policy=Course.AccessPolicy.TEAM_PER_STUDENT, owner_github_login="school-gh"
    )
    # The Owner linked school-gh on Docker Hub, not the course token's account.
    _link_owner(sandbox, "school-gh")
    school = make_student(sandbox, course, "katherinejohnson")
    _school_repository(sandbox, school, "school-gh")
    classroom = make_student(sandbox, course, "dorothyvaughan")  # the course token's account
    assert classroom.github_repo.startswith(f"{INSTRUCTOR_LOGIN}/")

    assert build_configure(enrolment_id=school.pk) is not None
    assert build_configure(enrolment_id=classroom.pk) is None  # waits on the student

    linked = StudentRepository.objects.get(enrolment=school)
    assert linked.build_configured_at is not None
    assert data.read(linked, AutobuildData).set_up_by == BY_HUBCOURSE
    waiting = StudentRepository.objects.get(enrolment=classroom)
    assert waiting.build_configured_at is None
    kept = data.read(waiting, AutobuildData)
    assert kept.set_up_by == BY_STUDENT and kept.waiting
    # Only the repository the linked account administers was tried: no refusal to recover from.
    assert len(_source_posts(sandbox)) == 1


def test_an_assumed_linked_account_that_is_wrong_is_named_when_docker_hub_refuses(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, AUTOBUILD, settings)
    Course.objects.filter(pk=course.pk).update(access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    _link_owner(sandbox, "school-gh")  # the course names none: the token's account is assumed
    student = make_student(sandbox, course, "marywinston")

    assert build_configure(enrolment_id=student.pk) is None

    repository = StudentRepository.objects.get(enrolment=student)
    assert data.read(repository, AutobuildData).set_up_by == BY_STUDENT
    event = AuditEvent.objects.get(enrolment=student, action="autobuild.configure")
    assert "not an admin" in event.message
    assert f"taken to be {INSTRUCTOR_LOGIN} (the GitHub token's account (assumed))" in event.message
    assert "in the course's settings" in event.message


def test_the_course_form_asks_for_the_owners_linked_github_account_and_checks_its_spelling(
    course: Course,
) -> None:
    from dashboard.forms import CourseForm

    values = {
        name: getattr(course, name)
        for name in CourseForm.Meta.fields
        if name not in ("owner_github_login",)
    }
    good = CourseForm(data={**values, "owner_github_login": "@school-gh"}, instance=course)
    assert good.is_valid(), good.errors
    assert good.cleaned_data["owner_github_login"] == "school-gh"
    bad = CourseForm(data={**values, "owner_github_login": "school gh"}, instance=course)
    assert not bad.is_valid()
    assert "letters, digits and single hyphens" in str(bad.errors["owner_github_login"])
    assert "Linked accounts" in str(good.fields["owner_github_login"].help_text)


# -- github-actions through the GitHub App -----------------------------------------------------


def _install_app(sandbox: Any, login: str, permissions: dict[str, str] | None = None) -> int:
    world = sandbox.world
    app = github_apps_state.get_app(world, sandbox.seeded["github"]["app"]["id"])
    assert app is not None
    inst, _ = github_apps_state.install(world, app, login, repositories=["course"], sender=login)
    if permissions is not None:
        with world.lock:
            inst["permissions"] = dict(permissions)
    return int(inst["id"])


def _actions_student(sandbox: Any, course: Course, name: str, login: str) -> Enrolment:
    student = make_student(sandbox, course, name)
    _own_repository(sandbox, student, login, link=False)
    return Enrolment.objects.select_related("course").get(pk=student.pk)


def _org_tokens(sandbox: Any, namespace: str) -> list[Any]:
    hub = sandbox.seeded["dockerhub"]
    owner = DockerHubClient(sandbox.url, hub["owner"], hub["owner_token"])
    return [t for t in owner.list_org_access_tokens(namespace) if t.is_active]


def test_actions_on_a_student_owned_repository_write_through_the_installation_token(
    sandbox: Any, course: Course, settings: Any, client: Client
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = _actions_student(sandbox, course, "adalovelace", "ada-gh")
    installation_id = _install_app(sandbox, "ada-gh")
    Enrolment.objects.filter(pk=student.pk).update(github_installation_id=installation_id)

    result = build_configure(enrolment_id=student.pk)

    assert result is not None and result.changed
    repo = github_state.get_repo(sandbox.world, "ada-gh/course")
    assert repo is not None
    assert set(repo["secrets"]) >= {TOKEN_SECRET}
    assert USERNAME_VARIABLE in repo["variables"]  # the app's "variables" permission
    head = repo["commits"][repo["branches"]["main"]]
    assert WORKFLOW_PATH in head["tree"]
    # Written by the app's bot, not by the course's account (which has no rights there).
    app_slug = sandbox.seeded["github"]["app"]["slug"]
    assert head["author"]["login"] == f"{app_slug}[bot]"
    assert not repo["hooks"]  # the app's own events replace a repository webhook
    minted = requests.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"service": "github", "path_contains": f"/app/installations/{installation_id}/"},
        timeout=5,
    ).json()["requests"]
    assert minted and minted[0]["method"] == "POST"
    # The student is told hubcourse committed the workflow.
    text = _student_page(client, student)
    assert WORKFLOW_PATH in text and "git pull" in text


def test_a_failed_actions_set_up_leaves_no_active_token_and_no_secret(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    # The course builds a branch the student's repository does not have: the workflow
    # commit fails after the token and the secrets were made.
    Course.objects.filter(pk=course.pk).update(build_branch="course-work")
    student = _actions_student(sandbox, course, "alanturing", "alan-gh")
    Enrolment.objects.filter(pk=student.pk).update(
        github_installation_id=_install_app(sandbox, "alan-gh")
    )
    repository = StudentRepository.objects.get(enrolment=student)

    with pytest.raises(Exception):  # noqa: B017 (the task records whichever error it is)
        build_configure(enrolment_id=student.pk)

    label = token_label(repository)
    assert [t for t in _org_tokens(sandbox, repository.namespace) if t.label == label] == []
    repo = github_state.get_repo(sandbox.world, "alan-gh/course")
    assert repo is not None
    assert not repo["secrets"]
    repository.refresh_from_db()
    kept = data.read(repository, ActionsData)
    assert kept.token_id == "" and kept.secret_set_at is None
    assert AuditEvent.objects.filter(
        enrolment=student, action="token.delete", outcome="ok"
    ).exists()


def test_preflight_refuses_actions_when_the_app_is_not_installed(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = _actions_student(sandbox, course, "gracehopper", "grace-gh")

    preflight_run(enrolment_id=student.pk)

    student.refresh_from_db()
    access = [f for f in student.preflight_report if f["check"] == "build_access"]
    assert access and access[0]["level"] == "error"
    assert "Install the hubcourse GitHub App on grace-gh/course" in access[0]["message"]
    # And nothing was created: configure waits for the app too.
    assert build_configure(enrolment_id=student.pk) is None
    repository = StudentRepository.objects.get(enrolment=student)
    label = token_label(repository)
    assert [t for t in _org_tokens(sandbox, repository.namespace) if t.label == label] == []


def test_preflight_names_the_permissions_an_installation_lacks(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = _actions_student(sandbox, course, "franallen", "fran-gh")
    _install_app(sandbox, "fran-gh", permissions={"metadata": "read", "contents": "read"})

    preflight_run(enrolment_id=student.pk)

    student.refresh_from_db()
    access = [f for f in student.preflight_report if f["check"] == "build_access"]
    assert access and access[0]["level"] == "error"
    assert "contents: write" in access[0]["message"]
    assert "secrets: write" in access[0]["message"]


def test_offboarding_removes_the_workflow_and_secrets_through_the_app_and_revokes_the_token(
    sandbox: Any, course: Course, settings: Any
) -> None:
    course = use_sandbox(sandbox, course, ACTIONS, settings)
    student = _actions_student(sandbox, course, "barbaraliskov", "barbara-gh")
    Enrolment.objects.filter(pk=student.pk).update(
        github_installation_id=_install_app(sandbox, "barbara-gh")
    )
    student = Enrolment.objects.select_related("course").get(pk=student.pk)
    build_configure(enrolment_id=student.pk)
    repository = StudentRepository.objects.get(enrolment=student)
    label = token_label(repository)
    assert [t for t in _org_tokens(sandbox, repository.namespace) if t.label == label]

    backend_for(course).remove(student)

    repo = github_state.get_repo(sandbox.world, "barbara-gh/course")
    assert repo is not None
    assert not repo["secrets"]
    head = repo["commits"][repo["branches"]["main"]]
    assert WORKFLOW_PATH not in head["tree"]
    assert head["author"]["login"].endswith("[bot]")
    assert [t for t in _org_tokens(sandbox, repository.namespace) if t.label == label] == []


def test_the_course_form_says_students_who_own_their_repository_need_a_team_each() -> None:
    from dashboard.forms import CourseForm

    assert "One team per student" in str(CourseForm().fields["build_backend"].help_text)


def test_only_automated_builds_give_the_students_team_admin_on_their_repository() -> None:
    from builds.backends import get_backend

    assert get_backend(AUTOBUILD).student_team_permission == "admin"
    assert get_backend(ACTIONS).student_team_permission == "read"
