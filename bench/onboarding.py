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

The floor is the API's minimum calls per student (``MINIMUM_CALLS``, not the calls hubcourse
happens to make) over the rate limit. ``--onboarding-backends autobuild,actions`` adds a class
on the github-actions backend (students own their repositories, the GitHub App installed on
each), with Docker Hub's and GitHub's calls per student against each service's floor.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from bench.context import Context, Sandbox, make_class
from bench.harness import Figure, MemorySampler, Result, cpu_seconds, run_until_settled
from bench.naive import run_naive

AUTOBUILD = "dockerhub-autobuild"
ACTIONS = "github-actions"
BACKENDS = {"autobuild": AUTOBUILD, "actions": ACTIONS}
# Per student, on the documented and undocumented routes: create the repository, grant the
# course team read, grant the instructors admin, link the automated build (the answer names
# the rule), start the first build, read its result once; 7 with the Docker Hub webhook that
# tells hubcourse of each push (kept: it is what makes freshness fast). The invite shares one
# bulk call per 1000 students; the course's two teams and login are per class.
MINIMUM_CALLS = 6
MINIMUM_WITH_WEBHOOK = 7
MINIMUM_NAMED = "repo, 2 team grants, build link, webhook, trigger, 1 status read"
# github-actions, per student. Docker Hub: the repository, its two team grants, the
# organisation access token the workflow pushes with, the webhook. GitHub: the pre-flight's
# reads (repository, branch, Dockerfile), an installation token, the secrets' public key, two
# secrets, the workflow's commit (its push starts the first run); the run's result comes as
# the app's workflow_run event (no read). GitHub asks for a second between writes: the app's
# token minting is one write per student for the whole class.
ACTIONS_MINIMUM_DOCKERHUB = 5
ACTIONS_MINIMUM_GITHUB = 8
ACTIONS_SERIAL_GITHUB_WRITES = 1
TARGET_RATIO = 1.1
TARGET_MEMORY_MB = 250
# The recovery benchmark's reconcile (every 30 s, the shortest allowed): there the reconcile
# is what brings a killed worker's students back.
RECONCILE_INTERVAL = 30
# Onboarding runs with the deployed default (settings' RECONCILE_INTERVAL): a pass reads the
# organisation's lists (about 14 calls at 200 students), so a pass every 30 s would cost a
# class more than its students' own calls save. Acceptances are still seen within a minute
# (watch_pending_invites), and the follow-up pass after Apply runs as deployed.
ONBOARDING_RECONCILE_INTERVAL = 300
# Calls made once per class (login, teams, the bulk invite and its dry run) or per reconcile
# pass (the organisation's lists), not per student.
CLASS_ROUTES = (
    "POST /v2/auth/token",
    "POST /v2/orgs/",
    "POST /v2/invites/bulk",
    "GET /v2/orgs/",
    "GET /v2/namespaces/<namespace>/repositories",
    "GET /v2/namespaces/library/",
)
# GitHub's "at least a second between writes" (the governor's write spacing).
GITHUB_WRITE_SPACING = 1.0


class Students(threading.Thread):
    """Students accept their invites as soon as they get them (bounded by ``stop``).

    Docker Hub says nothing when an invite is accepted: hubcourse sees it at the next invite
    watch (beat, every ``INVITE_WATCH_INTERVAL`` s, 10 at the shortest). A quick run passes
    ``courses``, and after each acceptance this thread runs what the watch queues, the
    course's reconcile pass, itself: a tiny class would otherwise spend most of its run
    waiting for that beat. In this thread, so that no student accepts while the pass reads
    the organisation (it reads members, then invites: a student who accepts in between is
    in neither list and taken for cancelled).
    """

    def __init__(
        self, sandbox: Sandbox, org: str, interval: float = 1.0, courses: Sequence[int] = ()
    ) -> None:
        super().__init__(name="students", daemon=True)
        self.sandbox, self.org, self.interval = sandbox, org, interval
        self.courses = tuple(courses)
        self.accepted = 0
        self._halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        due = False
        try:
            while not self._halt.wait(self.interval):
                try:
                    answer = self.sandbox.control(
                        "POST", f"/dockerhub/orgs/{self.org}/accept", {"invitee": "all"}
                    )
                    self.accepted += len(answer["accepted"])
                    due = due or bool(answer["accepted"])
                except OSError:
                    pass  # 404: nothing pending yet
                if due and self.courses:
                    due = not self._reconcile()
        finally:
            connection.close()

    def _reconcile(self) -> bool:
        """The courses' reconcile pass (reconcile_course_task's body); False to try again."""
        from accounts.models import Course
        from hubcourse.errors import TransientError
        from onboarding import engine

        try:
            for course in Course.objects.filter(pk__in=self.courses):
                engine.apply_plan(engine.plan_course(course, observe=True))
        except TransientError:
            return False
        return True

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _course(
    ctx: Context,
    sandbox: Sandbox,
    students: list[tuple[str, str]],
    *,
    backend: str = AUTOBUILD,
    slug: str = "bench",
    installations: dict[str, int] | None = None,
) -> Any:
    from accounts.models import Course, Enrolment, GitHubAccess

    course = Course.objects.create(
        name="Benchmark class",
        slug=slug,
        organisation=sandbox.seeded["dockerhub"]["org"],
        build_backend=backend,
        access_policy=Course.AccessPolicy.COURSE_TEAM,
    )
    Enrolment.objects.bulk_create(
        [
            Enrolment(
                course=course,
                identifier=f"{docker_id}@example.edu",
                docker_id=docker_id,
                github_repo=github_repo,
                **(
                    {
                        "github_access": GitHubAccess.APP,
                        "github_installation_id": installations[github_repo],
                    }
                    if installations
                    else {}
                ),
            )
            for docker_id, github_repo in students
        ]
    )
    return course


def _installations(sandbox: Sandbox, app: dict[str, Any], roster: list[tuple[str, str]]) -> Any:
    """Each student installs the app on their own repository: one installation each."""
    installed: dict[str, int] = {}
    for _, full_name in roster:
        owner, repo = full_name.split("/", 1)
        answer = sandbox.control(
            "POST",
            f"/github/apps/{app['slug']}/installations",
            {"account": owner, "repositories": [repo]},
        )
        installed[full_name] = int(answer["installation"]["id"])
    return installed


def _settled(course: Any) -> int:
    """Students at a final state: their first build succeeded, or stopped by an error."""
    from accounts.models import OnboardingState

    states = _states(course)
    return states.get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0) + states.get(
        OnboardingState.ERROR, 0
    )


def _states(course: Any) -> dict[str, int]:
    from django.db.models import Count

    rows = course.enrolments.values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def _github_calls(sandbox: Sandbox) -> tuple[int, int]:
    """(GitHub requests answered, of which writes), rate-limit refusals excluded."""
    calls = writes = 0
    for route, statuses in sandbox.stats()["requests"].get("github", {}).items():
        n = sum(c for status, c in statuses.items() if status != "429")
        calls += n
        if not route.startswith("GET "):
            writes += n
    return calls, writes


def _routes(sandbox: Sandbox, service: str) -> dict[str, int]:
    routes: dict[str, int] = {}
    for route, statuses in sandbox.stats()["requests"].get(service, {}).items():
        routes[route] = sum(c for s, c in statuses.items() if s != "429")
    return dict(sorted(routes.items(), key=lambda kv: -kv[1]))


def _class_calls(routes: dict[str, int]) -> int:
    return sum(
        n
        for route, n in routes.items()
        if any(route == c or (c.endswith("/") and route.startswith(c)) for c in CLASS_ROUTES)
    )


def _top_routes(sandbox: Sandbox) -> dict[str, int]:
    return _routes(sandbox, "dockerhub")


def _onboard(
    ctx: Context,
    *,
    backend: str,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    workers: int,
    concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    """One class onboarded on ``backend`` on a fresh sandbox; what was measured."""
    from builds.models import Build, BuildState
    from onboarding.tasks.course import reconcile_course_task

    ctx.reset_state()
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    ctx.hub_env(sandbox)
    org = sandbox.seeded["dockerhub"]["org"]
    if backend == ACTIONS:
        app = ctx.use_github_app(sandbox)
        roster = make_class(sandbox, students, prefix="act", own=True)
        course = _course(
            ctx,
            sandbox,
            roster,
            backend=ACTIONS,
            slug="act",
            installations=_installations(sandbox, app, roster),
        )
    else:
        course = _course(ctx, sandbox, make_class(sandbox, students))
    ctx.processes.env["RECONCILE_INTERVAL"] = str(ONBOARDING_RECONCILE_INTERVAL)
    # Workers connected: a cold start is not onboarding time.
    started_workers = ctx.start_hubcourse(workers=workers, concurrency=concurrency, warm=4)
    calls_before = sandbox.dockerhub_requests()
    github_before, writes_before = _github_calls(sandbox)
    accepting = Students(sandbox, org, courses=[course.pk] if ctx.quick else ())
    accepting.start()
    all_built_at: float | None = None

    def note_all_built(elapsed: float) -> bool:
        nonlocal all_built_at
        if all_built_at is None:
            built = (
                Build.objects.filter(enrolment__course=course, state=BuildState.SUCCESS)
                .values("enrolment")
                .distinct()
                .count()
            )
            if built == students:
                all_built_at = elapsed
        return True

    with MemorySampler([w.process.pid for w in started_workers]) as memory:
        run_ = run_until_settled(
            lambda: reconcile_course_task.delay(course.pk),
            lambda: _settled(course),
            students,
            timeout=timeout,
            alive=ctx.processes.check_alive,
            each=note_all_built,
        )
    accepting.stop()
    worker_cpu = sum(cpu_seconds(w.process.pid) for w in started_workers)
    github_calls, github_writes = _github_calls(sandbox)
    limited = sandbox.stats()["rate_limited"]
    outcome = {
        "converged": run_.converged,
        "seconds": run_.seconds,
        "all_built_at": all_built_at,
        "states": _states(course),
        "dockerhub_calls": sandbox.dockerhub_requests() - calls_before,
        "github_calls": github_calls - github_before,
        "github_writes": github_writes - writes_before,
        "dockerhub_429": int(limited.get("dockerhub", 0)),
        "github_limited": int(limited.get("github", 0)),
        "worker_cpu_s": round(worker_cpu, 1),
        "peak_rss_mb": round(memory.peak_process_rss_kb / 1024, 1),
        "tree_pss_mb": round(memory.peak_tree_pss_kb / 1024, 1),
        "calls_by_route": _routes(sandbox, "dockerhub"),
        "github_calls_by_route": _routes(sandbox, "github"),
    }
    ctx.processes.stop_all()
    ctx.stop_sandbox(sandbox)
    return outcome


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
    backends: tuple[str, ...] = ("autobuild",),
) -> Result:
    from accounts.models import OnboardingState

    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        raise ValueError(f"onboarding backends are {', '.join(BACKENDS)}, not {backends}")
    result = Result(
        "onboarding",
        "Onboarding: empty organisation to all first builds succeeded",
        {
            "students": students,
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "build_phase_s": build_delay,
            "workers": f"{workers}x{concurrency}",
            "reconcile_s": ONBOARDING_RECONCILE_INTERVAL,
            "backends": ",".join(BACKENDS[b] for b in backends),
            "policy": "course-team",
        },
    )
    options: dict[str, Any] = {
        "students": students,
        "rate_limit": rate_limit,
        "latency_ms": latency_ms,
        "build_delay": build_delay,
        "workers": workers,
        "concurrency": concurrency,
        "timeout": timeout,
    }
    hubcourse_seconds: float | None = None
    for name in backends:
        backend = BACKENDS[name]
        measured = _onboard(ctx, backend=backend, **options)
        result.details[backend] = measured
        if not measured["converged"]:
            result.notes.append(
                f"{backend}: not converged after {timeout:.0f} s: {measured['states']}"
            )
        succeeded = measured["states"].get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0)
        if backend == AUTOBUILD:
            hubcourse_seconds = measured["seconds"]
            result.details["calls_by_route"] = measured["calls_by_route"]
            _autobuild_figures(result, measured, succeeded, students, rate_limit, concurrency)
        else:
            _actions_figures(result, measured, succeeded, students, rate_limit, concurrency)
    if naive and hubcourse_seconds is not None:
        _naive(
            ctx,
            result,
            students=students,
            rate_limit=rate_limit,
            latency_ms=latency_ms,
            build_delay=build_delay,
            hubcourse_seconds=hubcourse_seconds,
            timeout=timeout,
        )
    return result


def _memory_figures(measured: dict[str, Any], concurrency: int, prefix: str = "") -> list[Figure]:
    peak_mb, tree_mb = measured["peak_rss_mb"], measured["tree_pss_mb"]
    return [
        Figure(
            f"{prefix}worker peak memory (largest process RSS)",
            peak_mb,
            "MB",
            f"< {TARGET_MEMORY_MB} MB",
            peak_mb < TARGET_MEMORY_MB,
        ),
        Figure(
            f"{prefix}worker peak memory (whole worker, PSS)",
            tree_mb,
            "MB",
            note=f"main + {concurrency} children",
        ),
    ]


def _autobuild_figures(
    result: Result,
    measured: dict[str, Any],
    succeeded: int,
    students: int,
    rate_limit: int,
    concurrency: int,
) -> None:
    seconds = measured["seconds"]
    calls = measured["dockerhub_calls"]
    per_student = calls / students
    class_calls = _class_calls(measured["calls_by_route"])
    own_per_student = (calls - class_calls) / students
    floor = students * MINIMUM_WITH_WEBHOOK / rate_limit * 60
    made_floor = calls / rate_limit * 60
    github_floor = measured["github_writes"] * GITHUB_WRITE_SPACING
    limited = measured["dockerhub_429"]
    all_built_at = measured["all_built_at"]
    result.add(
        Figure(
            "students at first_build_succeeded", succeeded, "", str(students), succeeded == students
        ),
        Figure("wall time", round(seconds, 1), "s"),
        Figure("all builds succeeded (Build rows)", all_built_at and round(all_built_at, 1), "s"),
        Figure(
            "worker CPU time",
            measured["worker_cpu_s"],
            "s",
            note=f"{measured['worker_cpu_s'] / students:.2f} s a student; the machine is shared",
        ),
        Figure(
            "floor: API minimum calls / rate limit",
            round(floor, 1),
            "s",
            note=f"{MINIMUM_WITH_WEBHOOK} per student ({MINIMUM_CALLS} without the webhook)",
        ),
        Figure(
            "wall time / floor",
            round(seconds / floor, 2),
            "x",
            f"<= {TARGET_RATIO}",
            seconds / floor <= TARGET_RATIO,
        ),
        Figure("Docker Hub calls made / rate limit", round(made_floor, 1), "s"),
        Figure(
            "GitHub writes x 1 s spacing",
            round(github_floor, 1),
            "s",
            note="push webhooks: one write a second",
        ),
        Figure("Docker Hub calls (429s excluded)", calls),
        Figure(
            "of which per class (login, teams, invites, organisation lists)",
            class_calls,
        ),
        Figure(
            "Docker Hub calls per student, the class's own calls left out",
            round(own_per_student, 2),
            "",
            f"<= {MINIMUM_WITH_WEBHOOK}",
            own_per_student <= MINIMUM_WITH_WEBHOOK + 0.005,
        ),
        Figure(
            "Docker Hub calls per student",
            round(per_student, 2),
            "",
            f"<= {MINIMUM_WITH_WEBHOOK}",
            per_student <= MINIMUM_WITH_WEBHOOK + 0.005,
            note=MINIMUM_NAMED,
        ),
        Figure(
            "GitHub calls per student",
            round(measured["github_calls"] / students, 2),
            note=f"writes {measured['github_writes'] / students:.2f}; pre-flight reads",
        ),
        Figure("429s served by the sandbox", limited, "", "0", limited == 0),
        *_memory_figures(measured, concurrency),
    )


def _actions_figures(
    result: Result,
    measured: dict[str, Any],
    succeeded: int,
    students: int,
    rate_limit: int,
    concurrency: int,
) -> None:
    seconds = measured["seconds"]
    hub_per = measured["dockerhub_calls"] / students
    github_per = measured["github_calls"] / students
    hub_floor = students * ACTIONS_MINIMUM_DOCKERHUB / rate_limit * 60
    github_floor = students * ACTIONS_SERIAL_GITHUB_WRITES * GITHUB_WRITE_SPACING
    floor = max(hub_floor, github_floor)
    limited = measured["dockerhub_429"]
    p = "github-actions: "
    result.add(
        Figure(
            f"{p}students at first_build_succeeded",
            succeeded,
            "",
            str(students),
            succeeded == students,
        ),
        Figure(f"{p}wall time", round(seconds, 1), "s"),
        Figure(f"{p}worker CPU time", measured["worker_cpu_s"], "s"),
        Figure(
            f"{p}Docker Hub floor",
            round(hub_floor, 1),
            "s",
            note=f"{ACTIONS_MINIMUM_DOCKERHUB} calls per student / rate limit",
        ),
        Figure(
            f"{p}GitHub floor",
            round(github_floor, 1),
            "s",
            note="the app's token minting, one write a second for the class",
        ),
        Figure(
            f"{p}wall time / floor",
            round(seconds / floor, 2),
            "x",
            f"<= {TARGET_RATIO}",
            seconds / floor <= TARGET_RATIO,
        ),
        Figure(
            f"{p}Docker Hub calls per student",
            round(hub_per, 2),
            "",
            f"<= {ACTIONS_MINIMUM_DOCKERHUB}",
            hub_per <= ACTIONS_MINIMUM_DOCKERHUB + 0.005,
        ),
        Figure(
            f"{p}GitHub calls per student",
            round(github_per, 2),
            "",
            f"<= {ACTIONS_MINIMUM_GITHUB}",
            github_per <= ACTIONS_MINIMUM_GITHUB + 0.005,
            note=f"writes {measured['github_writes'] / students:.2f}",
        ),
        Figure(f"{p}429s served by the sandbox", limited, "", "0", limited == 0),
        *_memory_figures(measured, concurrency, p),
    )


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
        Figure(
            "naive: Docker Hub calls per student",
            round(sandbox.dockerhub_requests() / students, 2),
        ),
        Figure("naive: 429s served", limited),
        Figure(
            "hubcourse / naive wall time",
            round(hubcourse_seconds / report.seconds, 2) if report.seconds else None,
            "x",
            "< 1 (faster than naive)",
            hubcourse_seconds < report.seconds,
        ),
    )
    ctx.stop_sandbox(sandbox)
