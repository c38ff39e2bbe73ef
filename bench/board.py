"""Benchmark 3, the class board under load.

Data (not timed): a course of ``students`` students with ``builds_per_student`` builds each,
in a spread of onboarding states, written straight to the database (the board reads only
the database). Then gunicorn serves hubcourse and ``clients`` threads here each keep one
request in flight for ``duration`` seconds, signed in as the course's instructor: first the
board (its first page, as opened), then student pages (a random student each time).

Queries per request are counted in this process with Django's test client for courses of
each size in ``query_sizes`` (same data shape), for the board and a student page: the count
must not grow with the class.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
from typing import Any

import requests

from bench.context import Context
from bench.harness import Figure, Result, percentile, process_tree

TARGET_BOARD_P95_MS = 150
PASSWORD = "bench-instructor-password"  # noqa: S105 (a throwaway local account)


def make_course(slug: str, students: int, builds_per_student: int, instructor: Any) -> Any:
    """A course with a realistic spread of states and build histories."""
    from accounts.models import Course, CourseRole, Enrolment, InviteState, OnboardingState
    from builds.models import Build, BuildState
    from onboarding.state import ORDER
    from repositories.models import StudentRepository

    rng = random.Random(slug)
    course = Course.objects.create(name=f"Board {slug}", slug=slug)
    CourseRole.objects.create(course=course, user=instructor, role=CourseRole.Role.INSTRUCTOR)
    now = dt.datetime.now(dt.UTC)
    enrolments = []
    for i in range(students):
        # Most of a class has built; some are part-way, a few are stopped by an error.
        roll = rng.random()
        if roll < 0.8:
            state = OnboardingState.FIRST_BUILD_SUCCEEDED
        elif roll < 0.95:
            state = rng.choice(ORDER[1:-1])
        else:
            state = OnboardingState.ERROR
        enrolments.append(
            Enrolment(
                course=course,
                identifier=f"s{i:05d}@{slug}.example.edu",
                name=f"Student {i}",
                docker_id=f"{slug.replace('-', '')}s{i:05d}"[:30],
                github_repo=f"course-{slug}/s{i:05d}",
                state=state,
                invite_state=InviteState.ACCEPTED,
                docker_id_verified_at=now,
                member_at=now,
                team_at=now,
                error_step="configure_build" if state == OnboardingState.ERROR else "",
                error_message="The build rule could not be saved."
                if state == OnboardingState.ERROR
                else "",
                error_permanent=state == OnboardingState.ERROR,
            )
        )
    Enrolment.objects.bulk_create(enrolments, batch_size=1000)
    enrolments = list(course.enrolments.order_by("pk"))
    StudentRepository.objects.bulk_create(
        [
            StudentRepository(
                enrolment=e,
                namespace="revelare",
                name=course.repository_name(e.docker_id),
                created_at=now,
                permission_granted_at=now,
                instructors_permission_at=now,
                build_configured_at=now,
            )
            for e in enrolments
        ],
        batch_size=1000,
    )
    builds = []
    finals = [BuildState.SUCCESS] * 8 + [BuildState.FAILED] * 2
    for e in enrolments:
        for n in range(builds_per_student):
            created = now - dt.timedelta(
                hours=(builds_per_student - n) * 6, minutes=rng.randint(0, 300)
            )
            latest = n == builds_per_student - 1
            build_state = (
                rng.choice([BuildState.RUNNING, *finals]) if latest else rng.choice(finals)
            )
            builds.append(
                Build(
                    enrolment=e,
                    backend="dockerhub-autobuild",
                    external_id=f"{e.pk}-{n}",
                    state=build_state,
                    commit_sha=f"{rng.getrandbits(160):040x}",
                    branch="main",
                    tag="latest",
                    created_at=created,
                    started_at=created,
                    finished_at=None
                    if build_state == BuildState.RUNNING
                    else created + dt.timedelta(minutes=3),
                    log_excerpt="Step 1/5 : FROM python:3.12-slim\n...\nBuild finished",
                )
            )
        if len(builds) >= 5000:
            Build.objects.bulk_create(builds, batch_size=1000)
            builds = []
    Build.objects.bulk_create(builds, batch_size=1000)
    return course


def _instructor() -> Any:
    from accounts.models import User

    return User.objects.create_user("bench.instructor@example.edu", PASSWORD, first_name="Bench")


def count_queries(course: Any, user: Any) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, not "testserver"
    client.force_login(user)
    student = course.enrolments.order_by("pk").first()
    counts = {}
    for label, url in (
        ("board", reverse("dashboard:board", args=[course.slug])),
        ("student page", reverse("dashboard:student", args=[course.slug, student.pk])),
    ):
        client.get(url)  # warm: the first request also loads the session and templates
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        counts[label] = len(captured.captured_queries)
    return counts


CONDITIONAL_ROUNDS = 40


def conditional_cost(
    course: Any, instructor: Any, rounds: int = CONDITIONAL_ROUNDS
) -> dict[str, dict[str, float]]:
    """Server time of a polled partial, rendered in full and answered 304 (the client sends
    the ETag it holds): Django's CPU in this process (``process_time``, the test client's
    share included, the database's not) and wall time, per request, for the board's and a
    student's live part; and the queries of one 304."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User

    enrolment = course.enrolments.order_by("pk").first()
    if enrolment.user_id is None:
        enrolment.user = User.objects.create_user(f"bench.student.{course.slug}@example.edu")
        enrolment.save(update_fields=["user"])
    pages = (
        ("board", instructor, reverse("dashboard:board_live", args=[course.slug])),
        ("status page", enrolment.user, reverse("student:status_live", args=[enrolment.pk])),
    )
    found: dict[str, dict[str, float]] = {}
    for label, user, url in pages:
        client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, not "testserver"
        client.force_login(user)
        if label == "status page":  # as opened: the badge and the CSRF cookie exist
            client.get(reverse("student:status", args=[enrolment.pk]))
        etag = client.get(url).headers.get("ETag", "")
        figures: dict[str, float] = {}
        if not etag:  # no validator on this database (SQLite): every refresh renders
            continue
        for mode in ("full", "304"):
            expected = 304 if mode == "304" else 200
            renewed = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                headers = {"If-None-Match": etag} if mode == "304" else {}
                response = client.get(url, headers=headers)
                if response.status_code == 200 and mode == "304" and renewed < 2:
                    # The minute turned (the time words may move): hold the new ETag, as
                    # the page would, and go on.
                    etag, renewed = response.headers.get("ETag", etag), renewed + 1
                    continue
                if response.status_code != expected:
                    raise RuntimeError(f"{url} answered {response.status_code}, not {expected}")
            figures[f"{mode}_cpu_ms"] = (time.process_time() - cpu0) * 1000 / rounds
            figures[f"{mode}_wall_ms"] = (time.perf_counter() - wall0) * 1000 / rounds
        with CaptureQueriesContext(connection) as captured:
            client.get(url, headers={"If-None-Match": etag})
        figures["304_queries"] = len(captured.captured_queries)
        found[label] = figures
    return found


def _session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, not "testserver"
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU each process has used so far."""
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that ended in between is lost (undercounted), never subtracted.
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _database_backends(database: str) -> list[int]:
    """PostgreSQL's server processes for one database (their title names it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                title = fh.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pids.append(int(entry))
    return pids


class CpuMeter:
    """CPU used by gunicorn and by the database's backends during a load phase: on a shared
    machine the latency moves with other people's work, the CPU per request much less."""

    def __init__(self, web_root: int, database: str | None) -> None:
        self.web_root = web_root
        self.database = database

    def _now(self) -> tuple[dict[int, float], dict[int, float]]:
        web = _cpu_seconds(process_tree(self.web_root))
        db = _cpu_seconds(_database_backends(self.database)) if self.database else {}
        return web, db

    def measure(self, run: Any) -> dict[str, Any]:
        web0, db0 = self._now()
        figures: dict[str, Any] = run()
        web1, db1 = self._now()
        done = max(figures["requests"], 1)
        figures["web_cpu_ms"] = _spent(web0, web1) * 1000 / done
        figures["db_cpu_ms"] = _spent(db0, db1) * 1000 / done if self.database else None
        return figures


def load(
    base: str, paths: list[str], cookie: str, *, clients: int, duration: float
) -> dict[str, Any]:
    """``clients`` threads, each with one request in flight, for ``duration`` seconds."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                response = session.get(base + rng.choice(paths), timeout=30)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = time.monotonic() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    span = time.monotonic() - started
    return {
        "p50_ms": (percentile(latencies, 50) or 0) * 1000,
        "p95_ms": (percentile(latencies, 95) or 0) * 1000,
        "rps": len(latencies) / span,
        "requests": len(latencies),
        "errors": errors,
    }


def run(
    ctx: Context,
    *,
    students: int,
    builds_per_student: int,
    clients: int,
    duration: float,
    query_sizes: list[int],
    web_workers: int,
    web_threads: int = 1,
    conditional_rounds: int = CONDITIONAL_ROUNDS,
) -> Result:
    from django.urls import reverse

    result = Result(
        "board",
        "Class board under load",
        {
            "students": students,
            "builds_each": builds_per_student,
            "clients": clients,
            "duration_s": duration,
            "gunicorn": f"{web_workers} sync workers"
            if web_threads == 1
            else f"{web_workers} workers x {web_threads} threads",
            "database": "postgresql" if ctx.postgres else "sqlite (embedded: not the asked setup)",
        },
    )
    ctx.reset_state()
    instructor = _instructor()
    course = make_course("load", students, builds_per_student, instructor)
    sizes = {}
    for size in query_sizes:
        sized = (
            course
            if size == students
            else make_course(f"q{size}", size, builds_per_student, instructor)
        )
        sizes[size] = count_queries(sized, instructor)
    result.details["queries"] = sizes
    if ctx.postgres:
        # A deployed database has statistics (autovacuum analyses new tables); rows just
        # bulk-inserted have none, and the planner would guess one row per course.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    # Unchanged refreshes of the polled parts, before gunicorn starts (in this process).
    conditional = conditional_cost(course, instructor, conditional_rounds)
    result.details["conditional"] = conditional
    cookie = _session_cookie(instructor)
    web = ctx.start_web(workers=web_workers, threads=web_threads)
    board_path = reverse("dashboard:board", args=[course.slug])
    student_paths = [
        reverse("dashboard:student", args=[course.slug, pk])
        for pk in course.enrolments.values_list("pk", flat=True)
    ]
    # Warm every gunicorn worker (imports, templates, connections) before timing.
    load(ctx.web_url, [board_path, *student_paths[:5]], cookie, clients=clients, duration=3)
    # The database's backends are counted only when they are ours alone (PostgreSQL).
    database = str(ctx.env["DATABASE_URL"]).rpartition("/")[2] if ctx.postgres else None
    meter = CpuMeter(web.process.pid, database)
    board = meter.measure(
        lambda: load(ctx.web_url, [board_path], cookie, clients=clients, duration=duration)
    )
    student = meter.measure(
        lambda: load(ctx.web_url, student_paths, cookie, clients=clients, duration=duration)
    )
    ctx.processes.stop_all()
    for label, figures, target in (
        ("board", board, TARGET_BOARD_P95_MS),
        ("student page", student, None),
    ):
        result.add(
            Figure(f"{label}: p50", round(figures["p50_ms"], 1), "ms"),
            Figure(
                f"{label}: p95",
                round(figures["p95_ms"], 1),
                "ms",
                f"< {target} ms" if target else "",
                figures["p95_ms"] < target if target else None,
            ),
            Figure(f"{label}: requests per second", round(figures["rps"], 1), "/s"),
            Figure(f"{label}: web CPU per request", round(figures["web_cpu_ms"], 1), "ms"),
            Figure(
                f"{label}: database CPU per request",
                None if figures["db_cpu_ms"] is None else round(figures["db_cpu_ms"], 1),
                "ms",
            ),
            Figure(f"{label}: failed requests", figures["errors"], "", "0", figures["errors"] == 0),
        )
    for label in ("board", "status page"):
        figures = conditional.get(label, {})
        if not figures:
            result.add(
                Figure(
                    f"{label} live part, unchanged (304): server CPU per request",
                    None,
                    "ms",
                    note="no ETag on this database: every refresh renders",
                )
            )
            continue
        result.add(
            Figure(
                f"{label} live part, unchanged (304): server CPU per request",
                round(figures["304_cpu_ms"], 2),
                "ms",
                "< 3 ms",
                figures["304_cpu_ms"] < 3,
                note=f"{figures['304_wall_ms']:.2f} ms wall, {figures['304_queries']:.0f} "
                f"queries; full answer {figures['full_cpu_ms']:.2f} ms CPU, "
                f"{figures['full_wall_ms']:.2f} ms wall (in-process, database CPU not counted)",
            )
        )
    for label in ("board", "student page"):
        counts = [sizes[s][label] for s in query_sizes]
        shown = ", ".join(f"{s}: {sizes[s][label]}" for s in query_sizes)
        result.add(
            Figure(
                f"{label}: SQL queries per request by class size",
                shown,
                "",
                "the same for every size",
                len(set(counts)) == 1,
            )
        )
    return result
