"""Benchmark 2, status freshness: how long from a build finishing in the sandbox to
hubcourse's database (what every page reads) showing it, with webhooks on and off.

The sandbox runs in this process (``sandbox.testing.start_sandbox``): the exact moment a
build ends is read from its state (the API's dates have one-second resolution, too coarse
for a 2 s target), and the driver here only reads. hubcourse runs as deployed: Celery
worker, beat (the 10 s poll sweep), gunicorn receiving Docker Hub's push webhooks.

Setup (not timed): ``repos`` students, each with a Docker Hub repository and an automated
build configured by hubcourse's own services (rate limit lifted while setting up), their
repositories marked as polled (the idle state of a class between pushes). Then, with the
asked rate limit, ``builds`` builds are started through hubcourse's build backend at random
moments over ``window`` seconds (as the first builds or an instructor's rebuild are), so
hubcourse knows each one is in flight; each takes between 1 and 3 x ``build_delay`` (two
sandbox phases of a random length each), so builds end at random moments of the poll
interval rather than in step with it. Each build's lag is the first time the watcher here
sees it final in the database minus the moment the sandbox finished it (sampled every 0.1 s).

Polling calls are the build-history reads (``GET /api/audit/v1/action``) hubcourse makes,
per hour of the measured span, beside the builds in flight: idle repositories cost none.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from typing import Any

from bench.context import Context, Sandbox, seat_class
from bench.harness import Figure, MemorySampler, Result, mean, percentile

TARGET_WEBHOOK_P95 = 2.0
WATCH_INTERVAL = 0.1
LIST_ROUTE = "GET /api/audit/v1/action"
# What a finished build may cost beyond the listing: its log, its tag (the pushed digest).
DETAIL_ROUTES = (
    "GET /api/audit/v1/action/<uuid>",
    "GET /v2/namespaces/<namespace>/repositories/<repository>/tags/<tag>",
)


def _reads(world: Any, *routes: str) -> int:
    with world.lock:
        requests = world.stats["requests"].get("dockerhub", {})
        return sum(
            count
            for route in routes
            for status, count in requests.get(route, {}).items()
            if status != "429"
        )


def _list_reads(world: Any) -> int:
    return _reads(world, LIST_ROUTE)


def _rate_limited(world: Any) -> int:
    with world.lock:
        return int(world.stats["rate_limited"].get("dockerhub", 0))


def _setup(sandbox: Sandbox, repos: int) -> Any:
    from builds.services import IDLE_POLL
    from repositories.models import StudentRepository

    course = seat_class(sandbox, repos, prefix="fresh", name="Freshness class")
    # Every repository was read recently and holds no build in flight: the class at rest.
    now = dt.datetime.now(dt.UTC)
    StudentRepository.objects.filter(enrolment__course=course).update(
        last_polled_at=now, next_poll_at=now + IDLE_POLL
    )
    return course


class Watcher(threading.Thread):
    """Every 0.1 s: when each started build ended in the sandbox, and when the database first
    showed it final; and how many builds were in flight."""

    def __init__(self, world: Any, course: Any) -> None:
        super().__init__(name="watcher", daemon=True)
        self.world, self.course = world, course
        self.ended: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.started_ids: set[str] = set()
        self.in_flight: list[int] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def track(self, external_id: str) -> None:
        with self._lock:
            self.started_ids.add(external_id)

    def run(self) -> None:
        from django.db import connection

        from builds.models import FINAL_STATES, Build

        try:
            while not self._halt.wait(WATCH_INTERVAL):
                with self._lock:
                    ids = set(self.started_ids)
                now = time.time()
                with self.world.lock:
                    actions = self.world.dockerhub["builds"]["actions"]
                    for uuid in ids - self.ended.keys():
                        action = actions.get(uuid)
                        if action is not None and action["end_date"] is not None:
                            self.ended[uuid] = float(action["end_date"])
                open_ids = ids - self.seen.keys()
                if open_ids:
                    final = Build.objects.filter(
                        external_id__in=open_ids, state__in=FINAL_STATES
                    ).values_list("external_id", flat=True)
                    for external_id in final:
                        self.seen[external_id] = now
                self.in_flight.append(len(ids - self.ended.keys()))
        finally:
            connection.close()

    def done(self, expected: int) -> bool:
        return len(self.started_ids) == expected and self.seen.keys() >= self.started_ids

    def lags(self) -> list[float]:
        return [
            self.seen[i] - self.ended[i]
            for i in self.started_ids
            if i in self.seen and i in self.ended
        ]

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _start_build(enrolment: Any) -> str:
    """What the first-build step and a rebuild do: start it, record it queued, poll soon."""
    from django.utils import timezone

    from builds.backends import BuildInfo, backend_for
    from builds.models import BuildState
    from builds.services import build_record, poll_interval
    from repositories.models import StudentRepository

    external_id = backend_for(enrolment.course).trigger(enrolment)
    assert external_id
    build_record(enrolment, BuildInfo(external_id=external_id, state=BuildState.QUEUED))
    StudentRepository.objects.filter(enrolment=enrolment).update(
        next_poll_at=timezone.now() + poll_interval()
    )
    return external_id


def _phase(
    ctx: Context,
    world: Any,
    course: Any,
    *,
    webhooks: bool,
    builds: int,
    window: float,
    build_delay: float,
    seed: int,
) -> dict[str, Any]:
    from accounts.models import Enrolment

    world.config.webhooks_enabled = webhooks
    rng = random.Random(seed)
    enrolments = list(Enrolment.objects.filter(course=course).select_related("course"))
    chosen = rng.sample(enrolments, min(builds, len(enrolments)))
    moments = sorted(rng.uniform(0, window) for _ in chosen)
    watcher = Watcher(world, course)
    reads_before = _list_reads(world)
    details_before = _reads(world, *DETAIL_ROUTES)
    limited_before = _rate_limited(world)
    watcher.start()
    started = time.monotonic()
    trigger_calls = 0
    for enrolment, moment in zip(chosen, moments, strict=True):
        delay = started + moment - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # The sandbox times each phase when it begins: a new length for every start makes
        # every build's length random.
        world.config.build_delay = rng.uniform(0.5, 1.5) * build_delay
        watcher.track(_start_build(enrolment))
        trigger_calls += 3
        ctx.processes.check_alive()
    deadline = time.monotonic() + 3 * build_delay + 300
    while not watcher.done(len(chosen)) and time.monotonic() < deadline:
        time.sleep(0.2)
        ctx.processes.check_alive()
    span = time.monotonic() - started
    watcher.stop()
    reads = _list_reads(world) - reads_before
    details = _reads(world, *DETAIL_ROUTES) - details_before
    lags = watcher.lags()
    return {
        "lags": lags,
        "missing": len(chosen) - len(lags),
        "span": span,
        "reads": reads,
        "details": details,
        "in_flight": mean([float(n) for n in watcher.in_flight]) or 0.0,
        "limited": _rate_limited(world) - limited_before,
    }


def run(
    ctx: Context,
    *,
    repos: int,
    builds: int,
    window: float,
    rate_limit: int,
    build_delay: float,
    latency_ms: int = 50,
    quiet: float = 30,
) -> Result:
    from django.conf import settings

    from builds.services import POLL_MAX, poll_interval
    from sandbox.config import SandboxConfig
    from sandbox.testing import start_sandbox

    interval = poll_interval().total_seconds()
    poll_target = interval + 5
    result = Result(
        "freshness",
        "Status freshness: build finished in the sandbox to shown by hubcourse",
        {
            "repositories": repos,
            "builds": builds,
            "window_s": window,
            "build_s": f"{build_delay:g}..{3 * build_delay:g}",
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            # BUILD_POLL_INTERVAL and BUILD_POLL_TICK, from the environment as for the workers.
            "poll_s": f"{interval:.0f}..{max(POLL_MAX.total_seconds(), interval):.0f}",
            "poll_tick_s": settings.BUILD_POLL_TICK,
            "sandbox": "in-process",
        },
    )
    ctx.reset_state()
    running = start_sandbox(
        SandboxConfig(rate_limit=100_000, latency_ms=0, build_delay=build_delay, random_seed=7),
        seed="empty",
        port=ctx.sandbox_port,
    )
    try:
        sandbox = Sandbox(running.url, None, running.seeded)
        ctx.hub_env(sandbox)
        course = _setup(sandbox, repos)
        running.world.config.update({"rate_limit": rate_limit, "latency_ms": latency_ms})
        # Long enough that the reconcile never runs while builds are timed.
        ctx.processes.env["RECONCILE_INTERVAL"] = "86400"
        workers = ctx.start_hubcourse(workers=1, concurrency=2)
        # The class at rest: what does polling cost with nothing in flight?
        quiet_before = _list_reads(running.world)
        time.sleep(quiet)
        quiet_reads = _list_reads(running.world) - quiet_before
        with MemorySampler([w.process.pid for w in workers]):
            on = _phase(
                ctx,
                running.world,
                course,
                webhooks=True,
                builds=builds,
                window=window,
                build_delay=build_delay,
                seed=1,
            )
            off = _phase(
                ctx,
                running.world,
                course,
                webhooks=False,
                builds=builds,
                window=window,
                build_delay=build_delay,
                seed=2,
            )
    finally:
        ctx.processes.stop_all()
        running.stop()
    for label, phase in (("webhooks on", on), ("webhooks off", off)):
        p50, p95 = percentile(phase["lags"], 50), percentile(phase["lags"], 95)
        target = TARGET_WEBHOOK_P95 if label == "webhooks on" else poll_target
        result.add(
            Figure(f"{label}: p50 lag", p50 and round(p50, 2), "s"),
            Figure(
                f"{label}: p95 lag",
                p95 and round(p95, 2),
                "s",
                f"< {target:.0f} s",
                p95 is not None and p95 < target and phase["missing"] == 0,
            ),
            Figure(
                f"{label}: builds never shown", phase["missing"], "", "0", phase["missing"] == 0
            ),
            Figure(
                f"{label}: status reads per hour",
                round(phase["reads"] / phase["span"] * 3600),
                "/h",
                note=f"{phase['reads']} in {phase['span']:.0f} s, {phase['in_flight']:.1f} builds in flight on average",
            ),
            Figure(f"{label}: 429s served", phase["limited"], "", "0", phase["limited"] == 0),
        )
        finished = len(phase["lags"])
        result.add(
            Figure(
                f"{label}: log and tag reads per finished build",
                finished and round(phase["details"] / finished, 2),
                "",
                note=f"{phase['details']} for {finished} builds, besides the listing",
            )
        )
        result.details[label] = {"lags": sorted(round(x, 3) for x in phase["lags"])}
    per_hour_idle = round(quiet_reads / quiet * 3600)
    result.add(
        Figure(
            "polling reads per hour, nothing in flight",
            per_hour_idle,
            "/h",
            "~0 (not the class size)",
            per_hour_idle <= repos * 3600 / (6 * 3600) + 1,
            note=f"{repos} repositories idle",
        )
    )
    off_in_flight = off["in_flight"]
    if off_in_flight:
        per_build = off["reads"] / off["span"] * 3600 / off_in_flight
        result.add(
            Figure("webhooks off: reads per hour per build in flight", round(per_build), "/h")
        )
    return result
