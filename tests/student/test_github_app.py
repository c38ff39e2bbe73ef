"""A student installs the course's GitHub App on their own repository, over HTTP against the
sandbox: the setup URL's installation is recorded only once the student's own token and the
app vouch for it, and the app's events (uninstall, a repository removed, renamed, moved or
deleted) keep the student's page and the board honest."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Course, Enrolment, GitHubAccess, User
from onboarding import github_access
from sandbox import github_state
from sandbox.seed import student_files
from tests.builds.support import use_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_COOKIE = "sandbox_github_login"


@pytest.fixture
def app(sandbox: Any, settings: Any) -> dict[str, Any]:
    """The seeded app, sending people back to this hubcourse (SITE_URL) after install."""
    seeded: dict[str, Any] = sandbox.seeded["github"]["app"]
    site = str(settings.SITE_URL).rstrip("/")
    _control(
        sandbox,
        "PATCH",
        f"/apps/{seeded['slug']}",
        setup_url=f"{site}{reverse('student:github_setup')}",
        callback_urls=[f"{site}{reverse('student:github_confirm')}"],
    )
    return seeded


@pytest.fixture
def hub_course(sandbox: Any, course: Course, settings: Any) -> Course:
    cache.clear()
    return use_sandbox(sandbox, course, "github-actions", settings)


@pytest.fixture
def sam(hub_course: Course, student: User) -> Enrolment:
    return Enrolment.objects.get(user=student)


def _control(sandbox: Any, method: str, path: str, **body: Any) -> Any:
    response = requests.request(
        method, f"{sandbox.url}/_sandbox/github{path}", json=body, timeout=10
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def _repo(sandbox: Any, login: str, *, private: bool, name: str = "docker-course") -> int:
    if github_state.get_user(sandbox.world, login) is None:
        github_state.create_user(sandbox.world, login)
    made = github_state.create_repo(
        sandbox.world, login, name, student_files(None), private=private
    )
    return int(made["id"])


def _give_repo(enrolment: Enrolment, full_name: str) -> Enrolment:
    # As the linking form leaves it (the form itself is tested in test_link).
    Enrolment.objects.filter(pk=enrolment.pk).update(github_repo=full_name)
    enrolment.refresh_from_db()
    return github_access.repository_linked(enrolment)


def _query(location: str) -> dict[str, str]:
    return {
        k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).items()
    }


def _install_and_come_back(
    client: Client,
    sandbox: Any,
    enrolment: Enrolment,
    *,
    login: str,
    repository_ids: list[int],
    forge: Callable[[str], str] | None = None,
) -> Any:
    """The whole round trip: hubcourse's button, GitHub's install page, the setup URL,
    GitHub's OAuth page, the confirm view. ``forge`` may rewrite the installation id."""
    start = client.post(reverse("student:github_install", args=[enrolment.pk]))
    assert start.status_code == 302, start.content
    install_page = start["Location"]
    assert install_page.startswith(f"{sandbox.url}/apps/")
    installed = requests.post(
        install_page,
        data={
            "state": _query(install_page)["state"],
            "account": login,
            "selection": "selected",
            "repository_ids": [str(i) for i in repository_ids],
        },
        cookies={SESSION_COOKIE: login},
        allow_redirects=False,
        timeout=10,
    )
    assert installed.status_code == 302, installed.text
    back = _query(installed.headers["Location"])
    installation_id = back["installation_id"]
    if forge is not None:
        installation_id = forge(installation_id)
    setup = client.get(
        reverse("student:github_setup"),
        {"installation_id": installation_id, "setup_action": "install", "state": back["state"]},
    )
    assert setup.status_code == 302, setup.content
    authorize = setup["Location"]
    assert authorize.startswith(f"{sandbox.url}/login/oauth/authorize")
    authorized = requests.post(
        f"{sandbox.url}/login/oauth/authorize",
        data={**_query(authorize), "login": login, "decision": "authorize"},
        allow_redirects=False,
        timeout=10,
    )
    assert authorized.status_code == 302, authorized.text
    answer = _query(authorized.headers["Location"])
    return client.get(reverse("student:github_confirm"), answer, follow=True)


def _page(client: Client, enrolment: Enrolment) -> str:
    return client.get(reverse("student:status", args=[enrolment.pk])).content.decode()


def test_installing_the_app_on_their_repository_records_access_through_the_app(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User
) -> None:
    repo_id = _repo(sandbox, "sam-gh", private=True)
    sam = _give_repo(sam, "sam-gh/docker-course")
    assert sam.github_access == GitHubAccess.NONE  # private: nobody can see it yet
    client.force_login(student)
    assert "cannot be watched" in _page(client, sam)

    response = _install_and_come_back(
        client, sandbox, sam, login="sam-gh", repository_ids=[repo_id]
    )

    sam.refresh_from_db()
    installation = _control(sandbox, "GET", "/installations")["installations"]
    assert sam.github_access == GitHubAccess.APP
    assert sam.github_installation_id == installation[0]["id"]
    assert sam.github_repository_id == repo_id
    html = response.content.decode()
    assert "The course&#x27;s GitHub App is installed on sam-gh/docker-course" in html
    assert "push events" in html


def test_another_users_installation_id_in_the_setup_url_is_refused(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User
) -> None:
    mine = _repo(sandbox, "sam-gh", private=True)
    theirs = _repo(sandbox, "eve-gh", private=True)
    other = _control(
        sandbox,
        "POST",
        f"/apps/{app['slug']}/installations",
        account="eve-gh",
        repositories=["eve-gh/docker-course"],
    )["installation"]["id"]
    assert theirs
    sam = _give_repo(sam, "sam-gh/docker-course")
    client.force_login(student)

    response = _install_and_come_back(
        client,
        sandbox,
        sam,
        login="sam-gh",
        repository_ids=[mine],
        forge=lambda _real: str(other),
    )

    sam.refresh_from_db()
    assert sam.github_access == GitHubAccess.NONE
    assert sam.github_installation_id is None
    assert "is not one your GitHub account can see" in response.content.decode()


def test_a_setup_url_without_hubcourses_signed_state_is_refused(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User
) -> None:
    client.force_login(student)
    response = client.get(
        reverse("student:github_setup"),
        {"installation_id": "1", "setup_action": "install", "state": f"{sam.pk}:forged"},
    )
    assert response.status_code == 400
    assert "hubcourse did not send you to GitHub with this link" in response.content.decode()


def test_an_installation_without_the_linked_repository_is_refused(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User
) -> None:
    _repo(sandbox, "sam-gh", private=True)
    other = _repo(sandbox, "sam-gh", private=False, name="homework")
    sam = _give_repo(sam, "sam-gh/docker-course")
    client.force_login(student)

    response = _install_and_come_back(client, sandbox, sam, login="sam-gh", repository_ids=[other])

    sam.refresh_from_db()
    assert sam.github_access == GitHubAccess.NONE
    assert "does not include sam-gh/docker-course" in response.content.decode()


def test_a_public_repository_without_the_app_is_checked_on_a_timer(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User, settings: Any
) -> None:
    settings.GITHUB_PUBLIC_CHECK_MINUTES = 7
    _repo(sandbox, "sam-gh", private=False)
    sam = _give_repo(sam, "sam-gh/docker-course")
    client.force_login(student)

    html = _page(client, sam)

    assert sam.github_access == GitHubAccess.PUBLIC
    assert "checked every 7 minutes" in html
    assert "Install the course's GitHub App on sam-gh/docker-course" in html


def test_a_private_repository_without_the_app_cannot_be_watched_and_says_what_to_do(
    client: Client, sandbox: Any, app: dict[str, Any], sam: Enrolment, student: User
) -> None:
    _repo(sandbox, "sam-gh", private=True)
    sam = _give_repo(sam, "sam-gh/docker-course")
    client.force_login(student)

    html = _page(client, sam)

    assert sam.github_access == GitHubAccess.NONE
    assert "cannot be watched: private repository without the app" in html
    assert "Install the course&#x27;s GitHub App on it" in html
    assert "or make it public" in html


# -- the app's events, delivered by the sandbox to a live hubcourse ------------------------------


@pytest.fixture
def events(live_server: Any, sandbox: Any, app: dict[str, Any], settings: Any) -> str:
    """The app's webhook points at the live server."""
    settings.SITE_URL = live_server.url
    _control(
        sandbox,
        "PATCH",
        f"/apps/{app['slug']}",
        hook_url=f"{live_server.url}/webhooks/github/app/",
        hook_active=True,
    )
    return str(live_server.url)


def _installed(
    sandbox: Any, app: dict[str, Any], enrolment: Enrolment, login: str, repo_id: int
) -> int:
    """Sam installed the app and hubcourse confirmed it (as in the first test)."""
    installation: dict[str, Any] = _control(
        sandbox,
        "POST",
        f"/apps/{app['slug']}/installations",
        account=login,
        repositories=[enrolment.github_repo],
    )["installation"]
    Enrolment.objects.filter(pk=enrolment.pk).update(
        github_access=GitHubAccess.APP,
        github_installation_id=installation["id"],
        github_repository_id=repo_id,
    )
    return int(installation["id"])


def _eventually(enrolment: Enrolment, check: Callable[[Enrolment], bool], sandbox: Any) -> None:
    sandbox.world.wait_idle(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        enrolment.refresh_from_db()
        if check(enrolment):
            return
        time.sleep(0.05)
    raise AssertionError(
        f"enrolment never changed: {enrolment.github_access} {enrolment.github_access_note!r}"
    )


@pytest.fixture
def watched_sam(sandbox: Any, app: dict[str, Any], sam: Enrolment, events: str) -> Enrolment:
    repo_id = _repo(sandbox, "sam-gh", private=True)
    sam = _give_repo(sam, "sam-gh/docker-course")
    _installed(sandbox, app, sam, "sam-gh", repo_id)
    sam.refresh_from_db()
    return sam


def test_uninstalling_the_app_flips_access_and_the_page_says_to_install_it_again(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    _control(sandbox, "DELETE", f"/installations/{sam.github_installation_id}")

    _eventually(sam, lambda e: e.github_access == GitHubAccess.NONE, sandbox)
    assert sam.github_installation_id is None
    client.force_login(student)
    html = _page(client, sam)
    assert "was uninstalled from your repository" in html
    assert "Install it again from this page" in html
    assert "cannot be watched" in html


def test_removing_the_repository_from_the_installation_flips_access(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    _repo(sandbox, "sam-gh", private=False, name="other")
    _control(
        sandbox,
        "POST",
        f"/installations/{sam.github_installation_id}/repositories",
        add=["sam-gh/other"],
        remove=["sam-gh/docker-course"],
    )

    _eventually(sam, lambda e: e.github_access == GitHubAccess.NONE, sandbox)
    client.force_login(student)
    html = _page(client, sam)
    assert "sam-gh/docker-course was removed from the course&#x27;s GitHub App" in html
    assert "Add it again from this page" in html


def test_a_renamed_repository_is_followed_by_its_id(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    _control(sandbox, "POST", "/repos/sam-gh/docker-course/rename", name="docker-homework")

    _eventually(sam, lambda e: e.github_repo == "sam-gh/docker-homework", sandbox)
    assert sam.github_access == GitHubAccess.APP


def test_a_transferred_repository_says_where_it_went(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    github_state.create_user(sandbox.world, "new-owner")
    _control(sandbox, "POST", "/repos/sam-gh/docker-course/transfer", new_owner="new-owner")

    _eventually(sam, lambda e: e.github_repo == "new-owner/docker-course", sandbox)
    assert sam.github_access == GitHubAccess.NONE
    client.force_login(student)
    html = _page(client, sam)
    assert "was moved to new-owner/docker-course on GitHub" in html
    assert "If it is still yours, install the course&#x27;s GitHub App on it again" in html


def test_a_deleted_repository_says_so_and_what_to_do(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    _control(sandbox, "DELETE", "/repos/sam-gh/docker-course")

    _eventually(sam, lambda e: e.github_access == GitHubAccess.NONE, sandbox)
    client.force_login(student)
    html = _page(client, sam)
    assert "Your repository sam-gh/docker-course was deleted on GitHub" in html


def test_the_board_row_says_how_each_student_is_watched(
    client: Client,
    sandbox: Any,
    app: dict[str, Any],
    hub_course: Course,
    sam: Enrolment,
    instructor: User,
) -> None:
    _repo(sandbox, "sam-gh", private=False)
    _give_repo(sam, "sam-gh/docker-course")
    _repo(sandbox, "pat-gh", private=True)
    pat = Enrolment.objects.create(course=hub_course, identifier="pat", email="pat@school.edu")
    _give_repo(pat, "pat-gh/docker-course")
    client.force_login(instructor)

    html = client.get(reverse("dashboard:board", args=[hub_course.slug])).content.decode()

    assert "checked every 5 minutes" in html
    assert "cannot be watched: private repository without the app" in html


def test_the_registered_apps_setup_and_callback_urls_are_the_join_flows_pages() -> None:
    from accounts.github_app import CONFIRM_PATH, SETUP_PATH, manifest

    assert reverse("student:github_setup") == SETUP_PATH
    assert reverse("student:github_confirm") == CONFIRM_PATH
    assert any(url.endswith(CONFIRM_PATH) for url in manifest("hubcourse")["callback_urls"])


def test_a_suspended_installation_stops_watching_until_it_is_unsuspended(
    client: Client, sandbox: Any, watched_sam: Enrolment, student: User
) -> None:
    sam = watched_sam
    _control(sandbox, "POST", f"/installations/{sam.github_installation_id}/suspend")

    _eventually(sam, lambda e: e.github_access == GitHubAccess.NONE, sandbox)
    client.force_login(student)
    assert "The course&#x27;s GitHub App is suspended" in _page(client, sam)

    _control(sandbox, "POST", f"/installations/{sam.github_installation_id}/unsuspend")
    _eventually(sam, lambda e: e.github_access == GitHubAccess.APP, sandbox)
    assert sam.github_access_note == ""


def test_a_repository_added_back_to_the_installation_is_watched_again(
    sandbox: Any, watched_sam: Enrolment
) -> None:
    sam = watched_sam
    installation = sam.github_installation_id
    _repo(sandbox, "sam-gh", private=False, name="other")
    _control(
        sandbox,
        "POST",
        f"/installations/{installation}/repositories",
        add=["sam-gh/other"],
        remove=["sam-gh/docker-course"],
    )
    _eventually(sam, lambda e: e.github_access == GitHubAccess.NONE, sandbox)

    _control(
        sandbox, "POST", f"/installations/{installation}/repositories", add=["sam-gh/docker-course"]
    )

    _eventually(sam, lambda e: e.github_access == GitHubAccess.APP, sandbox)
    assert sam.github_installation_id == installation


def test_another_students_events_leave_this_student_alone(
    sandbox: Any, app: dict[str, Any], hub_course: Course, watched_sam: Enrolment
) -> None:
    sam = watched_sam
    eve_repo = _repo(sandbox, "eve-gh", private=True)
    eve = Enrolment.objects.create(course=hub_course, identifier="eve", email="eve@school.edu")
    eve = _give_repo(eve, "eve-gh/docker-course")
    _installed(sandbox, app, eve, "eve-gh", eve_repo)

    _control(sandbox, "POST", "/repos/eve-gh/docker-course/rename", name="renamed")

    eve.refresh_from_db()
    _eventually(eve, lambda e: e.github_repo == "eve-gh/renamed", sandbox)
    sam.refresh_from_db()
    assert sam.github_repo == "sam-gh/docker-course"
    assert sam.github_access == GitHubAccess.APP


def test_without_a_student_to_vouch_the_app_says_where_it_is_installed(
    sandbox: Any, app: dict[str, Any], hub_course: Course
) -> None:
    """A roster the staff gave (the demo course's): the app's own word on each repository."""
    _repo(sandbox, "ann-gh", private=True)
    _repo(sandbox, "bob-gh", private=True)
    _repo(sandbox, "cat-gh", private=False)
    installed = _control(
        sandbox,
        "POST",
        f"/apps/{app['slug']}/installations",
        account="ann-gh",
        repositories=["docker-course"],
    )["installation"]["id"]
    suspended = _control(
        sandbox,
        "POST",
        f"/apps/{app['slug']}/installations",
        account="bob-gh",
        repositories=["docker-course"],
    )["installation"]["id"]
    _control(sandbox, "POST", f"/installations/{suspended}/suspend")
    ann, bob, cat = (
        Enrolment.objects.create(
            course=hub_course, identifier=login, github_repo=f"{login}/docker-course"
        )
        for login in ("ann-gh", "bob-gh", "cat-gh")
    )

    ann, bob, cat = (github_access.access_from_app(e) for e in (ann, bob, cat))

    assert (ann.github_access, ann.github_installation_id) == (GitHubAccess.APP, installed)
    assert ann.github_repository_id is not None  # read through the app: it is private
    assert (bob.github_access, bob.github_installation_id) == (GitHubAccess.NONE, None)
    assert (cat.github_access, cat.github_installation_id) == (GitHubAccess.PUBLIC, None)
