"""Benchmark B3, a lab session's live pages under an open-loop load.

Data (not timed): the board benchmark's course (``students`` x ``builds_per_student`` builds,
a spread of states), each student with an account, and ``boards`` staff members (the
instructor and TAs). gunicorn serves hubcourse as deployed. Every student first opens their
status page (which gives them their CSRF cookie and badge, as a browser has), then, for
``duration`` seconds, each page refreshes its live part every ``interval`` seconds as
``static/js/live.js`` does: ``If-None-Match`` with the ETag of the HTML it holds, kept from
the last 200. Arrivals are open loop: each page's requests are sent on its own schedule
(a random phase, then every ``interval`` s) whether or not earlier answers came, so a slow
server meets the same arrivals, not fewer. Meanwhile a build of a random student starts
every ``change_every`` seconds and the one started before it finishes (bare ``update()``s,
as the engine writes): those students' pages and every board change.

The load generator is one asyncio loop on raw sockets (HTTP/1.1, one connection a request,
as gunicorn's sync workers close each one); its lateness, how long after its scheduled
moment each request was sent, is printed: if it grows, the figures measure the generator.
Latency is from the scheduled moment to the whole answer read.

Also measured before gunicorn starts: the server CPU of an unchanged refresh (304) of each
partial, in this process (``board.conditional_cost``), and the SQL queries per page (the
board and a student page) at each of ``query_sizes`` students.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench import board
from bench.context import Context
from bench.harness import Figure, Result, percentile

TARGET_P95_MS = 100
TARGET_304_CPU_MS = 3
REQUEST_TIMEOUT = 30.0


@dataclass
class Page:
    """One open page: whose cookies, which live part, the ETag of the HTML it shows."""

    kind: str  # "status" or "board"
    path: str
    cookie: str
    etag: str = ""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def _get(host: str, port: int, page: Page) -> tuple[int, str]:
    """One GET of the page's live part, as live.js sends it: (status, ETag of the answer)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [
            f"GET {page.path} HTTP/1.1",
            f"Host: {host}:{port}",
            "X-Requested-With: fetch",
            f"Cookie: {page.cookie}",
            "Connection: close",
        ]
        if page.etag:
            lines.append(f"If-None-Match: {page.etag}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # the body, to the end: gunicorn closes the connection
    finally:
        writer.close()
    header_lines = head.decode("latin-1").split("\r\n")
    status = int(header_lines[0].split()[1])
    etag = ""
    for line in header_lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "etag":
            etag = value.strip()
    return status, etag


async def _open_loop(
    base: str, pages: list[Page], *, interval: float, duration: float, seed: int
) -> dict[str, Tally]:
    host, _, port_text = base.removeprefix("http://").partition(":")
    port = int(port_text)
    loop = asyncio.get_running_loop()
    tallies = {kind: Tally() for kind in ("status", "board")}
    pending: set[asyncio.Task[None]] = set()
    rng = random.Random(seed)
    start = loop.time() + 0.5

    async def one(page: Page, scheduled: float) -> None:
        tally = tallies[page.kind]
        tally.lateness.append(loop.time() - scheduled)
        try:
            status, etag = await asyncio.wait_for(_get(host, port, page), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            tally.error(type(error).__name__)
            return
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status == 200:
            page.etag = etag or page.etag
        elif status != 304:
            tally.error(f"HTTP {status}")
            return
        tally.latencies.append(loop.time() - scheduled)

    def fire(page: Page, scheduled: float) -> None:
        task = loop.create_task(one(page, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        following = scheduled + interval
        if following < start + duration:
            loop.call_at(following, fire, page, following)

    for page in pages:
        first = start + rng.uniform(0, interval)
        loop.call_at(first, fire, page, first)
    await asyncio.sleep(duration + 0.5)
    if pending:
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT + 5)
    return tallies


def _changes(course_id: int, every: float, stop: threading.Event) -> dict[str, int]:
    """Until ``stop``: every ``every`` s one student's build starts (a new row) and the build
    started before it finishes (a bare update, as the engine's status reads write)."""
    from django.db import connection

    from accounts.models import Enrolment
    from builds.models import Build, BuildState

    rng = random.Random(course_id)
    ids = list(Enrolment.objects.filter(course_id=course_id).values_list("pk", flat=True))
    running: int | None = None
    done = {"started": 0, "finished": 0}
    n = 0
    while not stop.wait(every):
        now = dt.datetime.now(dt.UTC)
        if running is not None:
            Build.objects.filter(pk=running).update(state=BuildState.SUCCESS, finished_at=now)
            done["finished"] += 1
        n += 1
        running = Build.objects.create(
            enrolment_id=rng.choice(ids),
            backend="dockerhub-autobuild",
            external_id=f"lab-{n}",
            state=BuildState.RUNNING,
            commit_sha=f"{rng.getrandbits(160):040x}",
            branch="main",
            tag="latest",
            created_at=now,
            started_at=now,
        ).pk
        done["started"] += 1
    connection.close()
    return done


def _students_with_accounts(course: Any) -> list[tuple[int, int]]:
    """(enrolment, user) for every student: accounts made in bulk, as joining makes them."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Enrolment, User

    enrolments = list(course.enrolments.order_by("pk"))
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(email=e.identifier, password=unusable) for e in enrolments], batch_size=1000
    )
    for e, user in zip(enrolments, users, strict=True):
        e.user = user
    Enrolment.objects.bulk_update(enrolments, ["user"], batch_size=1000)
    return [(e.pk, e.user.pk) for e in enrolments]


def _sessions(user_ids: list[int]) -> dict[int, str]:
    """A signed-in session for each user, as ``Client.force_login`` makes one."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    from accounts.models import User

    backend = settings.AUTHENTICATION_BACKENDS[0]
    found = {}
    for user in User.objects.filter(pk__in=user_ids):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        assert session.session_key is not None
        found[user.pk] = session.session_key
    return found


def _open_pages(base: str, pages: list[Page], opened: list[str], threads: int) -> int:
    """Each student opens their status page (the whole page, once): their CSRF cookie and
    badge exist from then on, as for a browser. Returns the failures."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def open_one(item: tuple[Page, str]) -> bool:
        page, url = item
        try:
            response = requests.get(
                base + url, headers={"Cookie": page.cookie}, timeout=60, allow_redirects=False
            )
        except requests.RequestException:
            return False
        csrf = response.cookies.get("csrftoken")
        if csrf:
            page.cookie += f"; csrftoken={csrf}"
        return response.status_code == 200

    with ThreadPoolExecutor(threads) as pool:
        return sum(1 for ok in pool.map(open_one, zip(pages, opened, strict=True)) if not ok)


def _summary(tally: Tally) -> dict[str, Any]:
    def ms(values: list[float], p: float) -> float | None:
        found = percentile(values, p)
        return None if found is None else round(found * 1000, 1)

    return {
        "requests": len(tally.latencies) + tally.errors,
        "answered": len(tally.latencies),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": tally.errors,
        "error_kinds": tally.error_kinds,
        "p50_ms": ms(tally.latencies, 50),
        "p95_ms": ms(tally.latencies, 95),
        "max_ms": ms(tally.latencies, 100),
        "late_p50_ms": ms(tally.lateness, 50),
        "late_p95_ms": ms(tally.lateness, 95),
        "late_max_ms": ms(tally.lateness, 100),
    }


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return ""


def run(
    ctx: Context,
    *,
    students: int,
    builds_per_student: int,
    boards: int,
    interval: float,
    duration: float,
    change_every: float,
    query_sizes: list[int],
    web_workers: int,
) -> Result:
    from django.db import connection
    from django.urls import reverse

    from accounts.models import CourseRole, User

    result = Result(
        "lab_load",
        "A lab session's live pages, open loop",
        {
            "students": students,
            "builds_each": builds_per_student,
            "boards": boards,
            "interval_s": interval,
            "duration_s": duration,
            "build_change_every_s": change_every,
            "gunicorn": f"{web_workers} sync workers",
            "database": "postgresql" if ctx.postgres else "sqlite (embedded: not the asked setup)",
        },
    )
    ctx.reset_state()
    instructor = board._instructor()
    course = board.make_course("lab", students, builds_per_student, instructor)
    sizes = {}
    for size in query_sizes:
        sized = (
            course
            if size == students
            else board.make_course(f"q{size}", size, builds_per_student, instructor)
        )
        sizes[size] = board.count_queries(sized, instructor)
    result.details["queries"] = sizes
    staff = [instructor]
    for i in range(1, boards):
        ta = User.objects.create_user(f"bench.ta{i}@example.edu", first_name=f"TA {i}")
        CourseRole.objects.create(course=course, user=ta, role=CourseRole.Role.TA)
        staff.append(ta)
    if ctx.postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would have, after the bulk load
    conditional = board.conditional_cost(course, instructor)
    result.details["conditional"] = conditional
    pairs = _students_with_accounts(course)
    sessions = _sessions([u for _, u in pairs] + [s.pk for s in staff])
    status_pages = [
        Page("status", reverse("student:status_live", args=[e]), f"sessionid={sessions[u]}")
        for e, u in pairs
    ]
    board_pages = [
        Page(
            "board",
            reverse("dashboard:board_live", args=[course.slug]),
            f"sessionid={sessions[s.pk]}",
        )
        for s in staff
    ]
    connection.close()  # gunicorn's workers must not inherit it; the change thread opens its own
    web = ctx.start_web(workers=web_workers)
    opened_at = time.monotonic()
    failed_opens = _open_pages(
        ctx.web_url, status_pages, [reverse("student:status", args=[e]) for e, _ in pairs], 8
    )
    result.details["opening_s"] = round(time.monotonic() - opened_at, 1)
    result.details["open_failures"] = failed_opens
    database = str(ctx.env["DATABASE_URL"]).rpartition("/")[2] if ctx.postgres else None
    meter = board.CpuMeter(web.process.pid, database)
    stop = threading.Event()
    changes: dict[str, int] = {}
    changer = threading.Thread(
        target=lambda: changes.update(_changes(course.pk, change_every, stop)), daemon=True
    )
    load_before = _load_average()
    tallies: dict[str, Tally] = {}

    def load() -> dict[str, Any]:
        changer.start()
        try:
            tallies.update(
                asyncio.run(
                    _open_loop(
                        ctx.web_url,
                        status_pages + board_pages,
                        interval=interval,
                        duration=duration,
                        seed=students,
                    )
                )
            )
        finally:
            stop.set()
            changer.join(timeout=30)
        return {"requests": sum(len(t.latencies) + t.errors for t in tallies.values())}

    spent = meter.measure(load)
    ctx.processes.stop_all()
    load_after = _load_average()
    pages = {
        label: _summary(tallies[kind])
        for kind, label in (("status", "status page"), ("board", "board"))
    }
    result.details.update(
        pages=pages,
        changes=changes,
        load_average={"before": load_before, "after": load_after},
        web_cpu_ms_per_request=round(spent["web_cpu_ms"], 2),
        db_cpu_ms_per_request=None if spent["db_cpu_ms"] is None else round(spent["db_cpu_ms"], 2),
    )
    total = sum(p["requests"] for p in pages.values())
    result.add(
        Figure("requests sent", total, "", note=f"{total / duration:.0f}/s over {duration:.0f} s"),
        Figure("load average (1, 5, 15 min) after", load_after, "", note=f"before: {load_before}"),
    )
    for label, figures in pages.items():
        statuses = ", ".join(f"{k}: {v}" for k, v in figures["statuses"].items())
        result.add(
            Figure(f"{label}: p50", figures["p50_ms"], "ms", note=statuses),
            Figure(
                f"{label}: p95",
                figures["p95_ms"],
                "ms",
                f"< {TARGET_P95_MS} ms",
                figures["p95_ms"] is not None and figures["p95_ms"] < TARGET_P95_MS,
            ),
            Figure(f"{label}: max", figures["max_ms"], "ms"),
            Figure(
                f"{label}: errors",
                figures["errors"],
                "",
                "0",
                figures["errors"] == 0,
                note=", ".join(f"{k}: {v}" for k, v in figures["error_kinds"].items()),
            ),
            Figure(
                f"{label}: generator lateness p95",
                figures["late_p95_ms"],
                "ms",
                note=f"p50 {figures['late_p50_ms']} ms, max {figures['late_max_ms']} ms "
                "(send time after schedule: the generator's own delay)",
            ),
        )
    result.add(
        Figure(
            "web CPU per request during the run",
            round(spent["web_cpu_ms"], 2),
            "ms",
            note="gunicorn, all requests (304s and 200s)"
            + (
                ""
                if spent["db_cpu_ms"] is None
                else f"; database {spent['db_cpu_ms']:.2f} ms per request"
            ),
        )
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
                f"< {TARGET_304_CPU_MS} ms",
                figures["304_cpu_ms"] < TARGET_304_CPU_MS,
                note=f"{figures['304_queries']:.0f} queries, {figures['304_wall_ms']:.2f} ms "
                f"wall; full answer {figures['full_cpu_ms']:.2f} ms CPU (in-process, "
                "database CPU not counted)",
            )
        )
    for label in ("board", "student page"):
        counts = [sizes[s][label] for s in query_sizes]
        result.add(
            Figure(
                f"{label}: SQL queries per request by class size",
                ", ".join(f"{s}: {sizes[s][label]}" for s in query_sizes),
                "",
                "the same for every size",
                len(set(counts)) == 1,
            )
        )
    return result
