"""Benchmark B7, recovery: onboarding N students with the worker SIGKILLed halfway and
restarted at once, against the same onboarding undisturbed.

Both runs are the onboarding benchmark's (``bench/onboarding.py``: same class, same sandbox
settings, worker(s), beat with its 30 s reconcile, gunicorn), each on a fresh sandbox and an
empty database, cache and broker. In the disturbed run, once half the students' repositories
exist on Docker Hub, every worker's process group (main process and prefork children) gets
SIGKILL, and the same workers start again at once. Nothing is shut down cleanly: the messages
the workers had taken stay unacknowledged in Redis until the broker's visibility timeout
(2 hours), so only hubcourse's own recovery (the leases that die with their worker, the
reconcile the restarted worker queues) brings those students back.

Duplicates are read back from the sandbox: the objects it created of each kind (repositories,
automated-build links, invites) beyond one per student.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from bench.context import Context, Sandbox, make_class
from bench.harness import Figure, Result, Started, run_until_settled
from bench.onboarding import RECONCILE_INTERVAL, Students, _course, _settled, _states

TARGET_RATIO = 1.3
# One per student of each: more is a duplicate.
KINDS = ("dockerhub.repository", "dockerhub.build_source", "dockerhub.invite")


def _created(sandbox: Sandbox) -> dict[str, int]:
    return {k: int(v) for k, v in sandbox.stats().get("objects_created", {}).items()}


def _kill(ctx: Context, started: list[Started]) -> None:
    for worker in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        ctx.processes.started.remove(worker)


def _onboard(
    ctx: Context,
    *,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    workers: int,
    concurrency: int,
    timeout: float,
    kill: bool,
) -> dict[str, Any]:
    """One onboarding run; with ``kill``, the workers killed and restarted halfway."""
    from accounts.models import OnboardingState
    from onboarding.tasks.course import reconcile_course_task

    ctx.reset_state()
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    # Some pre-flight reads count against GitHub's 60 unauthenticated reads an hour (the
    # governor learns that limit and paces them at one a minute): that would measure the
    # limit rather than recovery (the same setting for both runs; see bench/README.md).
    sandbox.configure(github_anonymous_rate_limit=5000)
    ctx.hub_env(sandbox)
    org = sandbox.seeded["dockerhub"]["org"]
    course = _course(ctx, sandbox, make_class(sandbox, students))
    ctx.processes.env["RECONCILE_INTERVAL"] = str(RECONCILE_INTERVAL)
    # Workers connected: a cold start is not onboarding time.
    running = ctx.start_hubcourse(workers=workers, concurrency=concurrency, warm=4)
    accepting = Students(sandbox, org, courses=[course.pk] if ctx.quick else ())
    accepting.start()
    killed_at: float | None = None
    created_at_kill = 0

    def kill_halfway(elapsed: float) -> bool:
        nonlocal killed_at, running, created_at_kill
        if kill and killed_at is None:
            made = _created(sandbox).get("dockerhub.repository", 0)
            if made >= max(1, students // 2):
                _kill(ctx, running)
                killed_at = elapsed
                created_at_kill = made
                running = ctx.start_workers(workers, concurrency)
            return False
        return True

    run = run_until_settled(
        lambda: reconcile_course_task.delay(course.pk),
        lambda: _settled(course),
        students,
        timeout=timeout,
        interval=0.25,
        alive=ctx.processes.check_alive,
        each=kill_halfway,
    )
    converged, seconds = run.converged, run.seconds
    accepting.stop()
    states = _states(course)
    made = _created(sandbox)
    outcome = {
        "converged": converged,
        "seconds": seconds,
        "succeeded": states.get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0),
        "states": states,
        "created": {kind: made.get(kind, 0) for kind in KINDS},
        "duplicates": sum(max(0, made.get(kind, 0) - students) for kind in KINDS),
        "killed_at": killed_at,
        "repositories_at_kill": created_at_kill,
        "limited": sandbox.rate_limited(),
    }
    ctx.processes.stop_all()
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
    timeout: float,
) -> Result:
    result = Result(
        "recovery",
        "Recovery: workers SIGKILLed halfway through onboarding, restarted at once",
        {
            "students": students,
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "build_phase_s": build_delay,
            "workers": f"{workers}x{concurrency}",
            "reconcile_s": RECONCILE_INTERVAL,
            "github_anonymous_per_hour": 5000,
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
    calm = _onboard(ctx, kill=False, **options)
    print(f"undisturbed: {calm['seconds']:.1f} s", flush=True)
    hit = _onboard(ctx, kill=True, **options)
    ratio = hit["seconds"] / calm["seconds"] if calm["seconds"] else None
    for label, run_ in (("undisturbed", calm), ("killed", hit)):
        if not run_["converged"]:
            result.notes.append(f"{label}: not converged after {timeout:.0f} s: {run_['states']}")
    killed_at = hit["killed_at"]
    result.add(
        Figure("undisturbed: wall time", round(calm["seconds"], 1), "s"),
        Figure(
            "killed: students at first_build_succeeded",
            hit["succeeded"],
            "",
            str(students),
            hit["succeeded"] == students,
        ),
        Figure(
            "killed: workers SIGKILLed at",
            killed_at and round(killed_at, 1),
            "s",
            note=f"{hit['repositories_at_kill']} of {students} repositories made",
        ),
        Figure("killed: wall time", round(hit["seconds"], 1), "s"),
        Figure(
            "killed / undisturbed wall time",
            round(ratio, 2) if ratio else None,
            "x",
            f"<= {TARGET_RATIO}",
            ratio is not None and ratio <= TARGET_RATIO,
        ),
        Figure(
            "killed: duplicates on Docker Hub",
            hit["duplicates"],
            "",
            "0",
            hit["duplicates"] == 0,
            note="repositories, build links, invites beyond one per student",
        ),
        Figure("killed: 429s served by the sandbox", hit["limited"]),
    )
    result.details["undisturbed"] = calm
    result.details["killed"] = hit
    return result
