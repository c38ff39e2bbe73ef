"""Benchmark 5, a lab session: every student pushes once within the window, some pushes
break the build. How long from the sandbox finishing each build to hubcourse's database
(the board, the badge, the student page) showing it: automated builds with the GitHub App
and without it, and GitHub Actions runs reported by the app's ``workflow_run`` events.

The sandbox runs in this process, so the moment each automated build ends is read from its
state; hubcourse runs as deployed (Celery worker, beat, gunicorn receiving the app's
webhooks). Setup (not timed): ``students`` students with an automated build configured by
hubcourse's services, their first builds done, the course's own repository webhooks removed
so that only the path measured tells hubcourse of a push.

* with the app: the seeded GitHub App is installed on every repository and its hook URL is
  hubcourse's receiver; a push event expects the build and the student's builds are read
  every ``BUILD_EXPECT_POLL_INTERVAL`` until it has finished (Docker Hub sends nothing for a
  failed automated build).
* without the app: the repositories are public and watched; their branch heads are read
  with conditional requests at the interval the request budget gives (a 304 is free).
* github-actions: a second class on the github-actions backend, each student owning their
  repository and having installed the app on it (one installation each); hubcourse wrote the
  workflow and its secrets through the app during set-up. A run's signed ``workflow_run``
  event carries its result: the lag runs from the sandbox completing the Actions run to the
  database showing it, with no polling in between.

Each push happens at a random moment of the window; about a third of them break the build.
A lag is the first time the watcher here sees that commit's build final in the database
minus the moment the sandbox finished it (the automated build's end, or the Actions run's
completion; sampled every 0.1 s). Calls are the requests the
sandbox served per service during the phase (GitHub's 304s listed apart), and 429s served.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.context import Context, Sandbox, seat_class
from bench.harness import Figure, Result, percentile

TARGET_APP_FAILED_P95 = 15.0
TARGET_WATCHED_P95 = 120.0
TARGET_ACTIONS_P95 = 3.0
# "app": automated builds, the app's push events; "watched": automated builds, branch heads
# read without the app; "actions": the github-actions backend, the app's workflow_run events.
CASES = ("app", "watched", "actions")
WATCH_INTERVAL = 0.1
BROKEN_SHARE = 1 / 3


def _calls(world: Any, service: str) -> tuple[int, int, int]:
    """(requests, of which 304, of which 429) the sandbox served for ``service``."""
    with world.lock:
        routes = world.stats["requests"].get(service, {})
        total = not_modified = limited = 0
        for statuses in routes.values():
            for status, count in statuses.items():
                total += count
                if str(status) == "304":
                    not_modified += count
                if str(status) == "429":
                    limited += count
    return total, not_modified, limited


def _by_route(world: Any, service: str) -> dict[str, int]:
    """Requests the sandbox served for ``service``, per route (429s included)."""
    with world.lock:
        routes = world.stats["requests"].get(service, {})
        return {route: sum(statuses.values()) for route, statuses in routes.items()}


def _setup(sandbox: Sandbox, world: Any, students: int) -> Any:
    """The automated-build class: first builds done, the course's repository webhooks gone."""
    from builds.backends import data as backend_data
    from builds.backends.data import PushHooks
    from builds.services import build_trigger_first, builds_refresh
    from repositories.models import StudentRepository
    from sandbox import github_state

    course = seat_class(sandbox, students, prefix="lab", name="Lab session")
    ids = list(course.enrolments.values_list("pk", flat=True))
    for enrolment_id in ids:
        build_trigger_first(enrolment_id=enrolment_id)
    world.wait_idle(timeout=120)
    for enrolment_id in ids:
        builds_refresh(enrolment_id=enrolment_id)
    # Only the path measured may tell hubcourse of a push: the course's repository webhooks go.
    with world.lock:
        for full_name in course.enrolments.values_list("github_repo", flat=True):
            repo = github_state.get_repo(world, full_name)
            if repo is not None:
                repo["hooks"].clear()
    for repository in StudentRepository.objects.filter(enrolment__course=course):
        backend_data.update(repository, PushHooks, github_hook_id=None)
    return course


def _setup_actions(
    sandbox: Sandbox, world: Any, students: int, app: dict[str, Any], build_delay: float
) -> Any:
    """The github-actions class: each student's own repository with the app installed, the
    workflow and secrets written through it, the first runs (started by the workflow's own
    commit) finished and recorded."""
    from builds.services import builds_refresh

    world.config.build_delay = build_delay
    course = seat_class(
        sandbox,
        students,
        prefix="act",
        name="Lab session (Actions)",
        backend="github-actions",
        app=app,
    )
    world.wait_idle(timeout=4 * build_delay + 120)
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        builds_refresh(enrolment_id=enrolment_id)
    return course


@contextlib.contextmanager
def _setup_writes(*, quick: bool) -> Iterator[None]:
    """In a quick run, this process's GitHub writes during set-up (not timed) go without the
    governor's second between them: the sandbox does not ask for it, and the Actions class's
    writes through the app (a token, two secrets, the workflow per student) would otherwise
    be most of a quick run."""
    from integrations.github.client import GOVERNOR

    spacing = GOVERNOR.write_spacing
    if quick:
        GOVERNOR.write_spacing = 0.0
    try:
        yield
    finally:
        GOVERNOR.write_spacing = spacing


class Watcher(threading.Thread):
    """Every 0.1 s: when each pushed commit's build ended in the sandbox (the automated
    build's end, or with ``actions`` the Actions run's completion), and when the database
    first showed it final."""

    def __init__(self, world: Any, *, actions: bool = False) -> None:
        super().__init__(name="watcher", daemon=True)
        self.world = world
        self.actions = actions
        self.pushed: dict[str, bool] = {}  # sha -> broken
        self.repos: dict[str, str] = {}  # sha -> repository full name
        self.ended: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def track(self, sha: str, broken: bool, full_name: str) -> None:
        with self._lock:
            self.pushed[sha] = broken
            self.repos[sha] = full_name

    def _ended(self, waiting: set[str]) -> None:
        """Record the end of each build in ``waiting`` that the sandbox has finished."""
        from sandbox import github_state

        with self.world.lock:
            if not self.actions:
                for action in self.world.dockerhub["builds"]["actions"].values():
                    sha = action.get("commit")
                    if sha in waiting and action["end_date"] is not None:
                        self.ended[sha] = float(action["end_date"])
                return
            for sha in waiting:
                repo = github_state.get_repo(self.world, self.repos[sha])
                for run in (repo or {}).get("runs", {}).values():
                    if run["head_sha"] == sha and run["status"] == "completed":
                        self.ended[sha] = float(run["updated_at"])

    def run(self) -> None:
        from django.db import connection

        from builds.models import FINAL_STATES, Build

        try:
            while not self._halt.wait(WATCH_INTERVAL):
                with self._lock:
                    shas = set(self.pushed)
                now = time.time()
                waiting = shas - self.ended.keys()
                if waiting:
                    with self._lock:
                        self._ended(waiting)
                unseen = shas - self.seen.keys()
                if unseen:
                    final = Build.objects.filter(
                        commit_sha__in=unseen, state__in=FINAL_STATES
                    ).values_list("commit_sha", flat=True)
                    for sha in final:
                        self.seen[sha] = now
        finally:
            connection.close()

    def done(self, expected: int) -> bool:
        return len(self.pushed) == expected and self.seen.keys() >= self.pushed.keys()

    def lags(self, broken: bool | None = None) -> list[float]:
        return [
            max(self.seen[s] - self.ended[s], 0.0)
            for s, b in self.pushed.items()
            if s in self.seen and s in self.ended and (broken is None or b == broken)
        ]

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _phase(
    ctx: Context,
    world: Any,
    course: Any,
    *,
    window: float,
    build_delay: float,
    seed: int,
    actions: bool = False,
) -> dict[str, Any]:
    from accounts.models import Enrolment
    from sandbox import github_state
    from sandbox.seed import student_files

    rng = random.Random(seed)
    students = list(Enrolment.objects.filter(course=course).values_list("github_repo", flat=True))
    moments = sorted(rng.uniform(0, window) for _ in students)
    rng.shuffle(students)
    good = student_files(None)["DockerfileVolume"]
    bad = student_files("unknown-base-image")["DockerfileVolume"]
    before = {service: _calls(world, service) for service in ("dockerhub", "github")}
    routes_before = {service: _by_route(world, service) for service in ("dockerhub", "github")}
    watcher = Watcher(world, actions=actions)
    watcher.start()
    started = time.monotonic()
    for n, (full_name, moment) in enumerate(zip(students, moments, strict=True)):
        delay = started + moment - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        broken = rng.random() < BROKEN_SHARE
        world.config.build_delay = rng.uniform(0.5, 1.5) * build_delay
        # A new line each time: every push is a new commit, whatever it breaks.
        files = {"DockerfileVolume": (bad if broken else good) + f"# push {seed}-{n}\n"}
        # The repository's owner pushes: the student, or the course account that holds it.
        owner = full_name.split("/", 1)[0]
        sha = github_state.push(world, full_name, "main", files, "Lab work", owner)
        watcher.track(sha, broken, full_name)
        ctx.processes.check_alive()
    deadline = time.monotonic() + 3 * build_delay + 600
    while not watcher.done(len(students)) and time.monotonic() < deadline:
        time.sleep(0.2)
        ctx.processes.check_alive()
    span = time.monotonic() - started
    watcher.stop()
    after = {service: _calls(world, service) for service in ("dockerhub", "github")}
    spent = {
        service: tuple(a - b for a, b in zip(after[service], before[service], strict=True))
        for service in after
    }
    routes = {}
    for service, earlier in routes_before.items():
        later = _by_route(world, service)
        routes[service] = {
            route: count - earlier.get(route, 0)
            for route, count in sorted(later.items())
            if count - earlier.get(route, 0)
        }
    return {
        "routes": routes,
        "all": watcher.lags(),
        "failed": watcher.lags(broken=True),
        "missing": len(students) - len(watcher.lags()),
        "span": span,
        "spent": spent,
    }


def _wait_heads_known(course: Any, timeout: float) -> bool:
    from repositories.models import StudentRepository

    deadline = time.monotonic() + timeout
    rows = StudentRepository.objects.filter(enrolment__course=course)
    while time.monotonic() < deadline:
        if not rows.filter(head_sha="").exists():
            return True
        time.sleep(0.5)
    return False


def run(
    ctx: Context,
    *,
    students: int,
    window: float,
    build_delay: float,
    rate_limit: int,
    latency_ms: int = 50,
    cases: tuple[str, ...] = CASES,
) -> Result:
    from django.conf import settings

    from accounts.models import Enrolment, GitHubAccess
    from builds.tracking import watch_interval
    from sandbox.config import SandboxConfig
    from sandbox.seed import INSTRUCTOR_LOGIN
    from sandbox.testing import start_sandbox

    unknown = set(cases) - set(CASES)
    if unknown or not cases:
        raise ValueError(f"lab session cases are {', '.join(CASES)}, not {cases}")
    result = Result(
        "lab_session",
        "Lab session: every student pushes once; build finished to shown by hubcourse",
        {
            "students": students,
            "window_s": window,
            "build_s": f"{build_delay:g}..{3 * build_delay:g}",
            "broken_share": round(BROKEN_SHARE, 2),
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "expect_poll_s": settings.BUILD_EXPECT_POLL_INTERVAL,
            "poll_tick_s": settings.BUILD_POLL_TICK,
            "watch_interval_s": watch_interval(students).total_seconds(),
            "cases": ",".join(cases),
            "sandbox": "in-process",
        },
    )
    ctx.reset_state()
    running = start_sandbox(
        SandboxConfig(rate_limit=100_000, latency_ms=0, build_delay=build_delay, random_seed=7),
        seed="empty",
        port=ctx.sandbox_port,
    )
    world = running.world
    phases: list[tuple[str, dict[str, Any], float | None, float | None]] = []
    heads_known = True
    try:
        sandbox = Sandbox(running.url, None, running.seeded)
        ctx.hub_env(sandbox)
        app = ctx.use_github_app(sandbox)
        ctx.use_env({"RECONCILE_INTERVAL": "86400"})
        # Every class is set up before the clock starts, with the rate limit lifted.
        with _setup_writes(quick=ctx.quick):
            course = None
            if "app" in cases or "watched" in cases:
                course = _setup(sandbox, world, students)
            actions_course = None
            if "actions" in cases:
                actions_course = _setup_actions(sandbox, world, students, app, build_delay)
        world.config.update({"rate_limit": rate_limit, "latency_ms": latency_ms})
        ctx.start_hubcourse(workers=1, concurrency=2)
        hook = {"hook_url": f"{ctx.web_url}/webhooks/github/app/"}

        if course is not None and "app" in cases:
            # 1. With the app: installed on every repository, events to hubcourse's receiver.
            names = [
                full.split("/", 1)[1]
                for full in Enrolment.objects.filter(course=course).values_list(
                    "github_repo", flat=True
                )
            ]
            sandbox.control("PATCH", f"/github/apps/{app['slug']}", hook)
            sandbox.control(
                "POST",
                f"/github/apps/{app['slug']}/installations",
                {"account": INSTRUCTOR_LOGIN, "repositories": names},
            )
            Enrolment.objects.filter(course=course).update(github_access=GitHubAccess.APP)
            with_app = _phase(ctx, world, course, window=window, build_delay=build_delay, seed=1)
            phases.append(("with the app", with_app, None, TARGET_APP_FAILED_P95))

        if course is not None and "watched" in cases:
            # 2. Without the app: no events; public repositories watched with conditional reads.
            sandbox.control("PATCH", f"/github/apps/{app['slug']}", {"hook_url": None})
            Enrolment.objects.filter(course=course).update(github_access=GitHubAccess.PUBLIC)
            heads_known = _wait_heads_known(
                course, timeout=watch_interval(students).total_seconds() * 3
            )
            without = _phase(ctx, world, course, window=window, build_delay=build_delay, seed=2)
            phases.append(("without the app", without, TARGET_WATCHED_P95, None))

        if actions_course is not None:
            # 3. GitHub Actions: each run's workflow_run events to hubcourse's receiver.
            sandbox.control("PATCH", f"/github/apps/{app['slug']}", hook)
            actions = _phase(
                ctx,
                world,
                actions_course,
                window=window,
                build_delay=build_delay,
                seed=3,
                actions=True,
            )
            phases.append(("github-actions", actions, TARGET_ACTIONS_P95, None))
    finally:
        ctx.processes.stop_all()
        running.stop()
    if not heads_known:
        result.notes.append("not every branch head was known before the pushes began")
    for label, phase, target_all, target_failed in phases:
        _figures(result, label, phase, target_all, target_failed)
    return result


def _figures(
    result: Result,
    label: str,
    phase: dict[str, Any],
    target_all: float | None,
    target_failed: float | None,
) -> None:
    lags, failed = phase["all"], phase["failed"]
    p50, p95 = percentile(lags, 50), percentile(lags, 95)
    f95 = percentile(failed, 95)
    result.add(
        Figure(f"{label}: p50 lag", p50 and round(p50, 2), "s"),
        Figure(
            f"{label}: p95 lag",
            p95 and round(p95, 2),
            "s",
            f"< {target_all:.0f} s" if target_all else "",
            (p95 is not None and p95 < target_all and phase["missing"] == 0)
            if target_all
            else None,
        ),
        Figure(f"{label}: max lag", round(max(lags), 2) if lags else None, "s"),
        Figure(
            f"{label}: p95 lag, failed builds",
            f95 and round(f95, 2),
            "s",
            f"< {target_failed:.0f} s" if target_failed else "",
            (f95 is not None and f95 < target_failed) if target_failed else None,
            note=f"{len(failed)} failed builds",
        ),
        Figure(f"{label}: builds never shown", phase["missing"], "", "0", phase["missing"] == 0),
    )
    hub_calls, _, hub_429 = phase["spent"]["dockerhub"]
    gh_calls, gh_304, gh_429 = phase["spent"]["github"]
    result.add(
        Figure(f"{label}: Docker Hub calls", hub_calls, "", note=f"in {phase['span']:.0f} s"),
        Figure(f"{label}: GitHub calls", gh_calls, "", note=f"{gh_304} of them 304 (not counted)"),
        Figure(f"{label}: 429s served", hub_429 + gh_429, "", "0", hub_429 + gh_429 == 0),
    )
    result.details[label] = {
        "lags": sorted(round(x, 3) for x in lags),
        "failed_lags": sorted(round(x, 3) for x in failed),
        "calls_by_route": phase["routes"],
    }
