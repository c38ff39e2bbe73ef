"""Benchmark 1, onboarding: N students from an empty organisation to all first builds
succeeded, through hubcourse's real engine, then the naive baseline on a fresh sandbox.

The sandbox runs as its own process (``python -m sandbox``) with the asked rate limit and
latency, so its work never competes with hubcourse's for one interpreter. hubcourse runs as
it is deployed: Celery worker(s), beat (the reconcile every 30 s, the shortest allowed),
gunicorn receiving the sandbox's webhooks. The clock starts when the course's reconcile is
enqueued (what "Apply" does) and stops when every student's stored state is
``first_build_succeeded``. Students accept their invites as soon as they exist (a thread
calling the sandbox's control API, which is never rate limited): a real class takes hours
for that, which no benchmark measures.

The floor is the Docker Hub calls hubcourse made divided by the rate limit; the minimum per
student is what the API allows for the course-team policy and automated builds (see
``MINIMUM_CALLS``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.context import Context, Sandbox, make_class
from bench.harness import Figure, MemorySampler, Result, wait_until
from bench.naive import run_naive

# Per student, on the documented and undocumented routes: create the repository, grant the
# course team read, grant the instructors admin, link the automated build (the answer names
# the rule), start the first build, read its result once. The invite shares one bulk call
# per 1000 students; the course's two teams and login are per class.
MINIMUM_CALLS = 6
MINIMUM_NAMED = "repo, 2 team grants, build link, trigger, 1 status read; invite: 1 bulk/1000"
TARGET_RATIO = 1.2
TARGET_MEMORY_MB = 250
RECONCILE_INTERVAL = 30


class Students(threading.Thread):
    """Students accept their invites as soon as they get them (bounded by ``stop``)."""

    def __init__(self, sandbox: Sandbox, org: str, interval: float = 1.0) -> None:
        super().__init__(name="students", daemon=True)
        self.sandbox, self.org, self.interval = sandbox, org, interval
        self.accepted = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                answer = self.sandbox.control(
                    "POST", f"/dockerhub/orgs/{self.org}/accept", {"invitee": "all"}
                )
                self.accepted += len(answer["accepted"])
            except OSError:
                continue  # 404: nothing pending yet

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _course(ctx: Context, sandbox: Sandbox, students: list[tuple[str, str]]) -> Any:
    from accounts.models import Course, Enrolment

    course = Course.objects.create(
        name="Benchmark class",
        slug="bench",
        organisation=sandbox.seeded["dockerhub"]["org"],
        build_backend="dockerhub-autobuild",
        access_policy=Course.AccessPolicy.COURSE_TEAM,
    )
    Enrolment.objects.bulk_create(
        [
            Enrolment(
                course=course,
                identifier=f"{docker_id}@example.edu",
                docker_id=docker_id,
                github_repo=github_repo,
            )
            for docker_id, github_repo in students
        ]
    )
    return course


def _states(course: Any) -> dict[str, int]:
    from django.db.models import Count

    rows = course.enrolments.values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def run(
    ctx: Context,
    *,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    workers: int,
    concurrency: int,
    naive: bool,
    timeout: float,
) -> Result:
    from accounts.models import OnboardingState
    from builds.models import Build, BuildState
    from onboarding.tasks.course import reconcile_course_task

    result = Result(
        "onboarding",
        "Onboarding: empty organisation to all first builds succeeded",
        {
            "students": students,
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "build_phase_s": build_delay,
            "workers": f"{workers}x{concurrency}",
            "reconcile_s": RECONCILE_INTERVAL,
            "backend": "dockerhub-autobuild",
            "policy": "course-team",
        },
    )
    ctx.reset_state()
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    ctx.hub_env(sandbox)
    org = sandbox.seeded["dockerhub"]["org"]
    roster = make_class(sandbox, students)
    course = _course(ctx, sandbox, roster)
    ctx.processes.env["RECONCILE_INTERVAL"] = str(RECONCILE_INTERVAL)
    ctx.start_web(workers=2)
    started_workers = ctx.start_workers(workers, concurrency)
    ctx.start_beat()
    time.sleep(4)  # workers connected: a cold start is not onboarding time
    ctx.processes.check_alive()
    calls_before = sandbox.dockerhub_requests()
    github_before = sum(
        sum(s.values()) for s in sandbox.stats()["requests"].get("github", {}).values()
    )
    accepting = Students(sandbox, org)
    accepting.start()
    all_built_at: float | None = None
    with MemorySampler([w.process.pid for w in started_workers]) as memory:
        started = time.monotonic()
        reconcile_course_task.delay(course.pk)

        def finished() -> bool:
            nonlocal all_built_at
            states = _states(course)
            if all_built_at is None:
                built = (
                    Build.objects.filter(enrolment__course=course, state=BuildState.SUCCESS)
                    .values("enrolment")
                    .distinct()
                    .count()
                )
                if built == students:
                    all_built_at = time.monotonic() - started
            done = states.get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0)
            return done + states.get(OnboardingState.ERROR, 0) == students

        converged = wait_until(
            finished, timeout=timeout, interval=0.5, alive=ctx.processes.check_alive
        )
        seconds = time.monotonic() - started
    accepting.stop()
    states = _states(course)
    calls = sandbox.dockerhub_requests() - calls_before
    github_calls = (
        sum(sum(s.values()) for s in sandbox.stats()["requests"].get("github", {}).values())
        - github_before
    )
    limited = sandbox.rate_limited()
    floor = calls / rate_limit * 60
    minimum_floor = (students * MINIMUM_CALLS + 4) / rate_limit * 60
    succeeded = states.get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0)
    if not converged:
        result.notes.append(f"not converged after {timeout:.0f} s: {states}")
    per_student = calls / students
    peak_mb = round(memory.peak_process_rss_kb / 1024, 1)
    tree_mb = round(memory.peak_tree_pss_kb / 1024, 1)
    result.add(
        Figure(
            "students at first_build_succeeded", succeeded, "", str(students), succeeded == students
        ),
        Figure("wall time", round(seconds, 1), "s"),
        Figure("all builds succeeded (Build rows)", all_built_at and round(all_built_at, 1), "s"),
        Figure("floor: Docker Hub calls made / rate limit", round(floor, 1), "s"),
        Figure(
            "wall time / floor",
            round(seconds / floor, 2) if floor else None,
            "x",
            f"<= {TARGET_RATIO}",
            bool(floor) and seconds / floor <= TARGET_RATIO,
        ),
        Figure("floor at the API's minimum calls", round(minimum_floor, 1), "s"),
        Figure("wall time / minimum floor", round(seconds / minimum_floor, 2), "x"),
        Figure("Docker Hub calls (429s excluded)", calls),
        Figure(
            "Docker Hub calls per student",
            round(per_student, 2),
            "",
            f"= {MINIMUM_CALLS} (the minimum)",
            per_student <= MINIMUM_CALLS + 0.05,
            note=MINIMUM_NAMED,
        ),
        Figure("GitHub calls per student", round(github_calls / students, 2), note="pre-flight"),
        Figure("429s served by the sandbox", limited, "", "0", limited == 0),
        Figure(
            "worker peak memory (largest process RSS)",
            peak_mb,
            "MB",
            f"< {TARGET_MEMORY_MB} MB",
            peak_mb < TARGET_MEMORY_MB,
        ),
        Figure(
            "worker peak memory (whole worker, PSS)",
            tree_mb,
            "MB",
            f"< {TARGET_MEMORY_MB} MB",
            tree_mb < TARGET_MEMORY_MB,
            note=f"main + {concurrency} children",
        ),
    )
    result.details["calls_by_route"] = _top_routes(sandbox)
    ctx.processes.stop_all()
    if naive:
        _naive(
            ctx,
            result,
            students=students,
            rate_limit=rate_limit,
            latency_ms=latency_ms,
            build_delay=build_delay,
            hubcourse_seconds=seconds,
            timeout=timeout,
        )
    return result


def _top_routes(sandbox: Sandbox) -> dict[str, int]:
    routes: dict[str, int] = {}
    for route, statuses in sandbox.stats()["requests"].get("dockerhub", {}).items():
        routes[route] = sum(c for s, c in statuses.items() if s != "429")
    return dict(sorted(routes.items(), key=lambda kv: -kv[1]))


def _naive(
    ctx: Context,
    result: Result,
    *,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    hubcourse_seconds: float,
    timeout: float,
) -> None:
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    hub = sandbox.seeded["dockerhub"]
    roster = make_class(sandbox, students)
    accepting = Students(sandbox, hub["org"])
    accepting.start()
    report = run_naive(
        base_url=sandbox.url,
        org=hub["org"],
        identifier=hub["owner"],
        secret=hub["owner_token"],
        students=roster,
        build_timeout=timeout,
    )
    accepting.stop()
    limited = sandbox.rate_limited()
    result.add(
        Figure("naive: wall time", round(report.seconds, 1), "s"),
        Figure(
            "naive: students built",
            report.succeeded,
            "",
            str(students),
            met=report.succeeded == students,
        ),
        Figure("naive: Docker Hub calls (429s excluded)", sandbox.dockerhub_requests()),
        Figure("naive: 429s served", limited),
        Figure(
            "naive / hubcourse wall time",
            round(report.seconds / hubcourse_seconds, 2) if hubcourse_seconds else None,
            "x",
        ),
    )
    ctx.stop_sandbox(sandbox)
