"""Benchmark B5, a term's start: N courses of M students in one organisation, all applied at
once, onboarded by several Celery worker processes that share one Docker Hub budget.

The set-up is the onboarding benchmark's (``bench/onboarding.py``): the sandbox as its own
process, gunicorn receiving its webhooks, beat with its 30 s reconcile, students accepting
their invites as soon as they exist. Here the courses (each its own teams, its own class)
share the organisation, hence Docker Hub's budget, and the site's GitHub token, and
``--term-workers`` worker processes (each its own main process and prefork children) share
the governor's state in Redis, as workers on several machines would.

The clock starts when every course's reconcile is enqueued (what "Apply" on each does) and
stops when every student's stored state is ``first_build_succeeded``. Each course's finish
is the moment its last student got there; fairness is the last course's finish over the
first course's (no course starved: at most 1.3). The floor is the API's minimum calls per
student (``bench.onboarding.MINIMUM_CALLS``) times all students over the rate limit.
"""

from __future__ import annotations

import time
from typing import Any

from bench.context import Context, Sandbox, make_class
from bench.harness import Figure, MemorySampler, Result, wait_until
from bench.onboarding import MINIMUM_CALLS, RECONCILE_INTERVAL, Students

TARGET_RATIO = 1.15
TARGET_FAIRNESS = 1.3
TARGET_MEMORY_MB = 250
# One per student of each: more is a duplicate (as bench/recovery.py reads them).
KINDS = ("dockerhub.repository", "dockerhub.build_source", "dockerhub.invite")
# Per course, not per student: its two teams (create) and its one bulk invite.
COURSE_CALLS = 3
# The governor spaces GitHub writes (one push webhook per student) a second apart per token
# (integrations/github/client.py): with one token for the organisation's courses, a floor too.
GITHUB_WRITE_SPACING_S = 1.0
# GitHub's hourly budget per token: 5000 for a person's token, 15000 for an app on GitHub
# Enterprise Cloud. Pre-flight reads about 5 per student: 1000 students on one 5000 budget
# wait most of an hour for pre-flight alone (measured; see bench/README.md).
GITHUB_RATE_LIMIT = 15000


def minimum_floor(students: int, rate_limit: int, courses: int = 1) -> float:
    """Seconds the API's minimum calls take at ``rate_limit`` a minute: the floor."""
    return (students * MINIMUM_CALLS + courses * COURSE_CALLS) / rate_limit * 60


def _courses(sandbox: Sandbox, courses: int, students: int) -> list[Any]:
    from accounts.models import Course, Enrolment

    made = []
    for n in range(1, courses + 1):
        course = Course.objects.create(
            name=f"Term course {n}",
            slug=f"term{n}",
            organisation=sandbox.seeded["dockerhub"]["org"],
            build_backend="dockerhub-autobuild",
            access_policy=Course.AccessPolicy.COURSE_TEAM,
            team=f"term{n}-students",
            instructors_team=f"term{n}-instructors",
        )
        roster = make_class(sandbox, students, prefix=f"c{n}s")
        Enrolment.objects.bulk_create(
            [
                Enrolment(
                    course=course,
                    identifier=f"{docker_id}@example.edu",
                    docker_id=docker_id,
                    github_repo=github_repo,
                )
                for docker_id, github_repo in roster
            ]
        )
        made.append(course)
    return made


def _done_by_course(course_ids: list[int]) -> dict[int, int]:
    """Students at a final state (succeeded or stopped on an error), per course."""
    from django.db.models import Count

    from accounts.models import Enrolment, OnboardingState

    rows = (
        Enrolment.objects.filter(
            course_id__in=course_ids,
            state__in=(OnboardingState.FIRST_BUILD_SUCCEEDED, OnboardingState.ERROR),
        )
        .values("course_id")
        .annotate(n=Count("pk"))
    )
    return {row["course_id"]: row["n"] for row in rows}


def _github_calls(sandbox: Sandbox) -> int:
    requests = sandbox.stats()["requests"].get("github", {})
    return sum(sum(statuses.values()) for statuses in requests.values())


def _states(course_ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    from accounts.models import Enrolment

    rows = (
        Enrolment.objects.filter(course_id__in=course_ids).values("state").annotate(n=Count("pk"))
    )
    return {row["state"]: row["n"] for row in rows}


def run(
    ctx: Context,
    *,
    courses: int,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    workers: int,
    concurrency: int,
    timeout: float,
    github_rate_limit: int = GITHUB_RATE_LIMIT,
) -> Result:
    from accounts.models import OnboardingState
    from onboarding.tasks.course import reconcile_course_task

    total = courses * students
    result = Result(
        "term_start",
        "A term's start: courses onboarded at once by workers sharing one budget",
        {
            "courses": courses,
            "students_per_course": students,
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "build_phase_s": build_delay,
            "workers": f"{workers}x{concurrency}",
            "reconcile_s": RECONCILE_INTERVAL,
            "backend": "dockerhub-autobuild",
            "policy": "course-team",
            "github_anonymous_per_hour": 5000,
            "github_per_hour": github_rate_limit,
        },
    )
    ctx.reset_state()
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    # As bench/recovery.py: pre-flight reads the governor would pace at GitHub's 60 an hour
    # for anonymous callers would measure that limit, not the term's start.
    sandbox.configure(github_anonymous_rate_limit=5000, github_rate_limit=github_rate_limit)
    ctx.hub_env(sandbox)
    org = sandbox.seeded["dockerhub"]["org"]
    made = _courses(sandbox, courses, students)
    ids = [c.pk for c in made]
    ctx.processes.env["RECONCILE_INTERVAL"] = str(RECONCILE_INTERVAL)
    # Workers connected: a cold start is not onboarding time.
    started_workers = ctx.start_hubcourse(workers=workers, concurrency=concurrency, warm=4)
    calls_before = sandbox.dockerhub_requests()
    github_before = _github_calls(sandbox)
    accepting = Students(sandbox, org, courses=ids if ctx.quick else ())
    accepting.start()
    finished_at: dict[int, float] = {}
    with MemorySampler([w.process.pid for w in started_workers]) as memory:
        started = time.monotonic()
        for course_id in ids:
            reconcile_course_task.delay(course_id)

        def finished() -> bool:
            now = time.monotonic() - started
            for course_id, done in _done_by_course(ids).items():
                if done == students and course_id not in finished_at:
                    finished_at[course_id] = now
                    print(f"course {ids.index(course_id) + 1} done at {now:.1f} s", flush=True)
            return len(finished_at) == courses

        converged = wait_until(
            finished, timeout=timeout, interval=0.5, alive=ctx.processes.check_alive
        )
        seconds = time.monotonic() - started
    accepting.stop()
    states = _states(ids)
    calls = sandbox.dockerhub_requests() - calls_before
    github_calls = _github_calls(sandbox) - github_before
    limited = sandbox.rate_limited()
    made_objects = {k: int(v) for k, v in sandbox.stats().get("objects_created", {}).items()}
    duplicates = {kind: max(0, made_objects.get(kind, 0) - total) for kind in KINDS}
    floor = minimum_floor(total, rate_limit, courses)
    github_floor = total * GITHUB_WRITE_SPACING_S
    succeeded = states.get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0)
    if not converged:
        result.notes.append(f"not converged after {timeout:.0f} s: {states}")
    finishes = [finished_at.get(course_id) for course_id in ids]
    known = [f for f in finishes if f is not None]
    fairness = max(known) / min(known) if len(known) == courses and min(known) > 0 else None
    peak_mb = round(memory.peak_process_rss_kb / 1024, 1)
    result.add(
        Figure("students at first_build_succeeded", succeeded, "", str(total), succeeded == total),
        Figure("wall time", round(seconds, 1), "s"),
        Figure(
            "floor: the API's minimum calls / rate limit",
            round(floor, 1),
            "s",
            note=f"{MINIMUM_CALLS} per student + {COURSE_CALLS} per course",
        ),
        Figure(
            "wall time / floor",
            round(seconds / floor, 2),
            "x",
            f"<= {TARGET_RATIO}",
            seconds / floor <= TARGET_RATIO,
        ),
        Figure(
            "GitHub writes floor (1 s apart, one token)",
            round(github_floor, 1),
            "s",
            note="one push webhook per student",
        ),
        Figure("wall time / the larger floor", round(seconds / max(floor, github_floor), 2), "x"),
        Figure("429s served by the sandbox", limited, "", "0", limited == 0),
        Figure("Docker Hub calls per student", round(calls / total, 2)),
        Figure("GitHub calls per student", round(github_calls / total, 2)),
    )
    for n, at in enumerate(finishes, start=1):
        result.add(Figure(f"course {n}: last student done at", at and round(at, 1), "s"))
    result.add(
        Figure(
            "fairness: last course's finish / first course's",
            round(fairness, 2) if fairness else None,
            "x",
            f"<= {TARGET_FAIRNESS}",
            fairness is not None and fairness <= TARGET_FAIRNESS,
        ),
        Figure(
            "duplicates on Docker Hub",
            sum(duplicates.values()),
            "",
            "0",
            sum(duplicates.values()) == 0,
            note="repositories, build links, invites beyond one per student",
        ),
        Figure(
            "worker peak memory (largest process RSS)",
            peak_mb,
            "MB",
            f"< {TARGET_MEMORY_MB} MB",
            peak_mb < TARGET_MEMORY_MB,
        ),
    )
    result.details["states"] = states
    result.details["created"] = {kind: made_objects.get(kind, 0) for kind in KINDS}
    result.details["course_finish_s"] = finishes
    ctx.processes.stop_all()
    return result
