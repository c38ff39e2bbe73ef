"""Shared fixtures: the named cast (instructor, TA, student, outsider) and the sandbox."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celery.result
import pytest

from accounts import organisations
from accounts.models import Course, CourseRole, Enrolment, User
from hubcourse import workers

# Registered here, once for the whole session: see tests/browser_fixtures.py.
from tests.browser_fixtures import browser, page  # noqa: F401

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + live_server

PASSWORD = "correct horse battery staple"


@pytest.fixture
def course(db: Any) -> Course:
    return Course.objects.create(name="Docker 101", slug="docker-101")


@pytest.fixture
def instructor(course: Course) -> User:
    user = User.objects.create_user("ines.instructor@example.edu", PASSWORD, first_name="Ines")
    CourseRole.objects.create(course=course, user=user, role=CourseRole.Role.INSTRUCTOR)
    # Granted the course's organisation (the settings' own, registered on first use), as a
    # site admin grants it to the instructors who run courses on it.
    organisation = organisations.registered(course.organisation)
    if organisation is not None:
        organisations.grant(organisation, user)
    return user


@pytest.fixture
def ta(course: Course) -> User:
    user = User.objects.create_user("tom.ta@example.edu", PASSWORD, first_name="Tom")
    CourseRole.objects.create(course=course, user=user, role=CourseRole.Role.TA)
    return user


@pytest.fixture
def student(course: Course) -> User:
    user = User.objects.create_user("sam.student@example.edu", PASSWORD, first_name="Sam")
    Enrolment.objects.create(
        course=course, identifier="sam.student@example.edu", name="Sam Student", user=user
    )
    return user


@pytest.fixture
def outsider(db: Any) -> User:
    return User.objects.create_user("olga.outsider@example.edu", PASSWORD)


@pytest.fixture
def site_admin(db: Any) -> User:
    return User.objects.create_superuser("ada.admin@example.edu", PASSWORD)


# The sandbox's runtime settings at the start of every test; a test may change them.
SANDBOX_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    # Well above Docker Hub's 180/min so tests stay quick; rate-limit tests lower it.
    "rate_limit": 6000,
    "github_rate_limit": 100000,
    # Every test client is one address: a class's anonymous reads of public repositories
    # would share GitHub's 60 an hour (a test of that limit lowers it).
    "github_anonymous_rate_limit": 100000,
    "fault_rate": 0.0,
    "timeout_rate": 0.0,
    "drop_webhook_rate": 0.0,
    "webhooks_enabled": True,
    "build_delay": 0.05,
    "unconfirmed_routes_405": False,
    "seat_refusal_whole_request": False,
}


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Any]:
    from sandbox.config import SandboxConfig
    from sandbox.testing import start_sandbox

    # The port was fixed by hubcourse.settings_test before Django (and allauth) started.
    port = int(os.environ["TEST_SANDBOX_PORT"])
    running = start_sandbox(SandboxConfig(random_seed=7), seed="empty", port=port)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _no_worker_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test process is no Celery worker. An in-process test worker's worker_init names the
    process (hubcourse.workers); left behind, a lease holder with this pid but another token
    would read as this "worker's" dead predecessor in every later test on the process."""
    monkeypatch.setitem(workers._identity, "holder", "")


@pytest.fixture(autouse=True)
def _eager_tasks_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery marks "inside a task" in one process-wide flag while an eager task runs. A
    live server answers the sandbox's webhooks in other threads than the browser's requests,
    so a chain applied in a request now and then found another thread's flag up and refused
    (a 500 on the way back from GitHub, seen in the app's browser walk). Per thread, as each
    worker process has its own."""
    local = threading.local()
    monkeypatch.setattr(
        celery.result, "task_join_will_block", lambda: bool(getattr(local, "blocks", False))
    )
    monkeypatch.setattr(
        celery.result, "_set_task_join_will_block", lambda blocks: setattr(local, "blocks", blocks)
    )


@pytest.fixture
def sandbox(
    _sandbox_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Any]:
    """A running sandbox (Docker Hub + GitHub) reset to the empty seed, with hubcourse's
    settings pointing at its organisation and tokens. ``sandbox.seeded`` holds them."""
    from hubcourse import governor

    # The sandbox starts afresh, so does what the rate-limit governor learned of it: a pause
    # learned from one test's low rate limit must not throttle the next test's calls (which
    # test runs next depends on the order, and on the xdist worker it lands on).
    fresh: governor.Store = (
        governor.RedisStore(
            settings.RATE_LIMIT_REDIS_URL, prefix=f"test-governor:{uuid.uuid4().hex}:"
        )
        if settings.RATE_LIMIT_REDIS_URL
        else governor.SQLiteStore(tmp_path / "governor.sqlite3")
    )
    monkeypatch.setattr(governor, "default_store", lambda: fresh)
    errors = _sandbox_server.world.config.update(SANDBOX_DEFAULTS)
    assert not errors, errors
    seeded = _sandbox_server.reset("empty")
    hub = seeded["dockerhub"]
    settings.DOCKERHUB_ORG = hub["org"]
    # An Owner's personal access token, as the handout's instructor uses: automated builds
    # need an Owner, and an organisation access token cannot configure them.
    settings.DOCKERHUB_USERNAME = hub["owner"]
    settings.DOCKERHUB_TOKEN = hub["owner_token"]
    settings.GITHUB_TOKEN = seeded["github"]["instructor"]["token"]
    # hubcourse's GitHub App is the sandbox's seeded one (its credentials change per reset).
    app = seeded["github"]["app"]
    settings.GITHUB_APP_ID = app["id"]
    settings.GITHUB_APP_SLUG = app["slug"]
    settings.GITHUB_APP_PRIVATE_KEY = app["pem"]
    settings.GITHUB_APP_WEBHOOK_SECRET = app["webhook_secret"]
    settings.GITHUB_APP_CLIENT_ID = app["client_id"]
    settings.GITHUB_APP_CLIENT_SECRET = app["client_secret"]
    assert _sandbox_server.url == settings.SANDBOX_URL == settings.DOCKERHUB_API_URL
    yield _sandbox_server
    _sandbox_server.world.wait_idle(timeout=5)


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never reach the internet: only loopback connections are allowed."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "localhost", "::1")
            and not (host.startswith("127.") or host.startswith("/"))
        ):
            raise RuntimeError(f"Test tried to reach {host!r}; tests may only talk to loopback.")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield
