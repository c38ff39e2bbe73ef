"""Linking a Docker ID and a GitHub repository, against the sandbox, with every pre-flight
failure the student must fix shown on their page in plain words."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, InviteState, PreflightState, User
from sandbox import dockerhub as hub_state
from sandbox import github_apps_state, github_state
from sandbox.seed import GOOD_DOCKERFILE, student_files
from tests.builds.support import use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course, settings: Any) -> Course:
    cache.clear()  # repository lists and image verdicts cached by an earlier test
    return use_sandbox(sandbox, course, "github-actions", settings)


@pytest.fixture
def sam(hub_course: Course, student: User) -> Enrolment:
    return Enrolment.objects.get(user=student)


def _with_github(sandbox: Any, user: User, login: str) -> str:
    """The student signed in with GitHub: allauth keeps their GitHub profile (no token is
    needed to list their public repositories)."""
    made = github_state.create_user(sandbox.world, login, user.email)
    SocialAccount.objects.create(
        user=user, provider="github", uid=str(made["id"]), extra_data={"login": login}
    )
    # The course builds with GitHub Actions, which writes to a student's own repository only
    # through hubcourse's GitHub App: they installed it on their account (pre-flight checks).
    _app_on(sandbox, login)
    return login


def _app_on(sandbox: Any, login: str) -> None:
    """hubcourse's GitHub App installed on ``login``'s account (every repository)."""
    app = github_apps_state.get_app(sandbox.world, sandbox.seeded["github"]["app"]["id"])
    assert app is not None
    github_apps_state.install(sandbox.world, app, login, repositories=None, sender=login)


def _docker_id(sandbox: Any, name: str) -> str:
    hub_state.create_user(sandbox.world, name, f"{name}-password", f"{name}@example.edu")
    return name


def _link(client: Client, enrolment: Enrolment, **data: str) -> Any:
    return client.post(reverse("student:link", args=[enrolment.pk]), data)


def _page(client: Client, enrolment: Enrolment) -> str:
    return client.get(reverse("student:status", args=[enrolment.pk])).content.decode()


def test_the_form_lists_only_the_students_own_public_repositories(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    login = _with_github(sandbox, student, "sam-student")
    github_state.create_repo(sandbox.world, login, "docker-course", student_files(None))
    github_state.create_repo(sandbox.world, login, "homework", {"README.md": "hi"})
    github_state.create_repo(sandbox.world, login, "diary", {"README.md": "x"}, private=True)
    github_state.create_user(sandbox.world, "someone-else")
    github_state.create_repo(sandbox.world, "someone-else", "not-mine", {"README.md": "x"})
    client.force_login(student)

    html = client.get(reverse("student:link", args=[sam.pk])).content.decode()

    assert '<option value="sam-student/docker-course">' in html
    assert '<option value="sam-student/homework">' in html
    assert "not-mine" not in html
    assert "diary" not in html  # private: typed, then confirmed through the GitHub App


def test_picking_a_repository_saves_both_and_the_checks_pass(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    login = _with_github(sandbox, student, "sam-student")
    github_state.create_repo(sandbox.world, login, "docker-course", student_files(None))
    docker_id = _docker_id(sandbox, "samstudent")
    client.force_login(student)

    response = _link(
        client, sam, docker_id="SamStudent", github_repo_choice=f"{login}/docker-course"
    )

    assert response.status_code == 302
    sam.refresh_from_db()
    assert sam.docker_id == docker_id
    assert sam.github_repo == f"{login}/docker-course"
    assert sam.docker_id_verified_at is not None
    assert sam.preflight_state == PreflightState.PASSED
    html = _page(client, sam)
    assert "Your Docker ID is samstudent." in html
    assert "What the checks found" not in html


def test_a_docker_id_that_does_not_exist_is_refused_with_the_sign_up_hint(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    client.force_login(student)

    response = _link(client, sam, docker_id="nosuchperson", github_repo="sam/docker-course")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Docker Hub has no Docker ID &#x27;nosuchperson&#x27;" in html
    assert "Step 1 of the handout is to sign up" in html
    sam.refresh_from_db()
    assert sam.docker_id == "" and sam.github_repo == ""  # nothing saved half-way


def test_a_badly_written_docker_id_or_repository_says_what_to_fix(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    client.force_login(student)

    response = _link(client, sam, docker_id="no", github_repo="just-a-name")

    html = response.content.decode()
    # The domain's words (accounts.identifiers), the same as the roster's.
    assert "is not a Docker ID: they are 4 to 30 lower-case letters and digits" in html
    assert "write it as owner/repository" in html


def test_another_students_docker_id_is_refused(
    client: Client, sandbox: Any, sam: Enrolment, student: User, hub_course: Course
) -> None:
    _docker_id(sandbox, "takenid")
    Enrolment.objects.create(course=hub_course, identifier="other", docker_id="takenid")
    client.force_login(student)

    response = _link(client, sam, docker_id="takenid", github_repo="sam/x")

    assert "Another student on this course already gave this Docker ID" in response.content.decode()


def test_a_docker_id_already_invited_cannot_be_changed_by_the_student(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    Enrolment.objects.filter(pk=sam.pk).update(
        docker_id="samstudent", invite_state=InviteState.PENDING
    )
    client.force_login(student)

    form = client.get(reverse("student:link", args=[sam.pk])).content.decode()
    _link(client, sam, docker_id="somebodyelse", github_repo="sam/docker-course")

    assert "ask your instructor" in form
    sam.refresh_from_db()
    assert sam.docker_id == "samstudent"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-repository", "cannot see the GitHub repository"),
        ("private-repository", "cannot see the GitHub repository"),
        ("no-main-branch", "has no branch main"),
        ("missing-dockerfile", "There is no DockerfileVolume at the top of your repository"),
        ("unofficial-base-image", "Warning:"),
    ],
)
def test_each_preflight_failure_is_shown_with_what_to_fix(
    client: Client, sandbox: Any, sam: Enrolment, student: User, case: str, expected: str
) -> None:
    world = sandbox.world
    github_state.create_user(world, "sam-gh")
    _app_on(sandbox, "sam-gh")
    if case == "private-repository":
        github_state.create_repo(
            world, "sam-gh", "docker-course", student_files(None), private=True
        )
    elif case == "no-main-branch":
        github_state.create_repo(
            world, "sam-gh", "docker-course", student_files(None), default_branch="master"
        )
    elif case == "missing-dockerfile":
        github_state.create_repo(
            world, "sam-gh", "docker-course", student_files("missing-dockerfile")
        )
    elif case == "unofficial-base-image":
        files = {
            "DockerfileVolume": GOOD_DOCKERFILE.replace("python:3.12-slim", "someuser/python:3")
        }
        github_state.create_repo(world, "sam-gh", "docker-course", files)
    _docker_id(sandbox, "samstudent")
    client.force_login(student)

    _link(
        client,
        sam,
        docker_id="samstudent",
        github_repo="https://github.com/sam-gh/docker-course.git",
    )

    sam.refresh_from_db()
    assert sam.github_repo == "sam-gh/docker-course"
    html = _page(client, sam)
    assert "What the checks found" in html
    assert expected in html
    if case == "unofficial-base-image":
        assert sam.preflight_state == PreflightState.WARNING
        assert "someuser/python" in html
        assert "I fixed it: check again" not in html
    else:
        assert sam.preflight_state == PreflightState.FAILED
        assert "Your turn" in html
        assert "I fixed it: check again" in html


def test_check_again_reruns_the_checks_after_a_fix(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    world = sandbox.world
    github_state.create_user(world, "sam-gh")
    _app_on(sandbox, "sam-gh")
    github_state.create_repo(world, "sam-gh", "docker-course", student_files("missing-dockerfile"))
    _docker_id(sandbox, "samstudent")
    client.force_login(student)
    _link(client, sam, docker_id="samstudent", github_repo="sam-gh/docker-course")
    sam.refresh_from_db()
    assert sam.preflight_state == PreflightState.FAILED
    github_state.push(
        world,
        "sam-gh/docker-course",
        "main",
        {"DockerfileVolume": GOOD_DOCKERFILE},
        "fix",
        "sam-gh",
    )

    client.post(reverse("student:check_again", args=[sam.pk]))

    sam.refresh_from_db()
    assert sam.preflight_state == PreflightState.PASSED
    assert sam.error_step != "preflight"


def test_a_repository_on_another_host_is_refused_by_name_not_stored_as_github(
    client: Client, sandbox: Any, sam: Enrolment, student: User
) -> None:
    client.force_login(student)

    response = _link(client, sam, docker_id="samstudent", github_repo="https://gitlab.com/o/r")

    assert "gitlab.com is not GitHub" in response.content.decode()
    sam.refresh_from_db()
    assert sam.github_repo == ""
