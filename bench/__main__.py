"""``python -m bench [name ...] [--options]``: run the benchmarks, print one table, write JSON.

Names: those of ``NAMES`` below (default: all, in that order). Every option has the issue's
default; ``--quick`` shrinks every size for a fast look (figures from a quick run say little
about the targets).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import RESULTS_DIR, Result, print_table, write_json

# Settings for every process of a quick run (the shortest each setting allows): the engine's
# cadence, not its work, is what a tiny class would otherwise spend its run waiting for.
QUICK_ENV = {
    # An accepted invite was seen only at the next watch (60 s by default).
    "INVITE_WATCH_INTERVAL": "10",
    # A build in flight read every 2 s instead of 10, the sweep every second instead of 2
    # (freshness without webhooks, lab session, the builds of every onboarding-like run).
    "BUILD_POLL_INTERVAL": "2",
    "BUILD_POLL_TICK": "1",
    # After a push, the student's builds read every second instead of 5 (a failed
    # automated build sends nothing: lab session with the app).
    "BUILD_EXPECT_POLL_INTERVAL": "1",
    # Watched branch heads read every 2 s instead of 30 (lab session without the app).
    "GITHUB_WATCH_MIN_INTERVAL": "2",
}

NAMES = (
    "onboarding",
    "freshness",
    "board",
    "bulk_add",
    "lab_session",
    "recovery",
    "move",
    "lab_load",
    "term_start",
    "signin",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*NAMES, []], metavar="name")
    parser.add_argument("--embedded", action="store_true", help="SQLite + filesystem broker")
    parser.add_argument("--keep-logs", action="store_true", help="keep process logs (printed)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--results-dir", default=None, help="default: bench/results/")
    one = parser.add_argument_group("1. onboarding")
    one.add_argument("--students", type=int, default=200)
    one.add_argument("--rate-limit", type=int, default=600, help="Docker Hub requests/minute")
    one.add_argument("--latency-ms", type=int, default=50)
    one.add_argument("--build-delay", type=float, default=2.0, help="sandbox s per build phase")
    one.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    one.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    one.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    one.add_argument("--onboarding-timeout", type=float, default=1800)
    one.add_argument(
        "--onboarding-backends",
        default="autobuild",
        help="autobuild (Docker Hub automated builds, then the naive script), actions "
        "(github-actions backend, students' own repositories with the GitHub App); "
        "e.g. autobuild,actions",
    )
    two = parser.add_argument_group("2. status freshness")
    two.add_argument("--repos", type=int, default=500)
    two.add_argument("--builds", type=int, default=100, help="builds finishing in the window")
    two.add_argument("--window", type=float, default=120, help="s over which builds start")
    two.add_argument("--freshness-rate-limit", type=int, default=600)
    two.add_argument("--freshness-build-delay", type=float, default=5.0)
    two.add_argument("--quiet", type=float, default=30, help="s of idle polling measured")
    three = parser.add_argument_group("3. class board")
    three.add_argument("--board-students", type=int, default=1000)
    three.add_argument("--builds-per-student", type=int, default=20)
    three.add_argument("--clients", type=int, default=8)
    three.add_argument("--duration", type=float, default=30)
    three.add_argument("--query-sizes", default="10,100,1000")
    # One sync worker per core: measured on this 2-core machine, 2 workers served more board
    # requests per second than 3, 4 or 6 (each extra process only adds switching).
    three.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    three.add_argument(
        "--board-conditional-rounds", type=int, default=40, help="requests per 304 figure"
    )
    three.add_argument(
        "--web-threads", type=int, default=1, help="gunicorn threads per worker (gthread if > 1)"
    )
    four = parser.add_argument_group("4. bulk add")
    four.add_argument("--bulk", type=int, default=1000, help="Docker IDs pasted")
    four.add_argument(
        "--bulk-latency-ms", type=int, default=None, help="default: the sandbox's default"
    )
    five = parser.add_argument_group("5. lab session")
    five.add_argument("--lab-students", type=int, default=200)
    five.add_argument("--lab-window", type=float, default=600, help="s over which all push")
    five.add_argument("--lab-build-delay", type=float, default=20.0, help="s per build phase")
    five.add_argument("--lab-rate-limit", type=int, default=600, help="Docker Hub requests/min")
    five.add_argument(
        "--lab-cases",
        default="app,watched,actions",
        help="app (automated builds, push events), watched (automated builds, no app), "
        "actions (github-actions backend, workflow_run events)",
    )
    seven = parser.add_argument_group(
        "7. recovery (onboarding's rate limit, latency, build phase, workers)"
    )
    seven.add_argument("--recovery-students", type=int, default=200)
    seven.add_argument("--recovery-timeout", type=float, default=900, help="s per run")
    move = parser.add_argument_group(
        "move (onboarding's rate limit, latency, build phase, workers)"
    )
    move.add_argument("--move-students", type=int, default=200)
    move.add_argument("--move-timeout", type=float, default=1800, help="s per phase")
    move.add_argument(
        "--move-github-rate-limit",
        type=int,
        default=5000,
        help="GitHub requests/hour on the course's token (5000 a person's, 15000 on Enterprise)",
    )
    b3 = parser.add_argument_group(
        "B3. lab load (the class board's size, builds, query sizes and gunicorn workers)"
    )
    b3.add_argument("--lab-load-boards", type=int, default=10, help="staff boards open")
    b3.add_argument("--lab-load-interval", type=float, default=5.0, help="s between refreshes")
    b3.add_argument("--lab-load-duration", type=float, default=60.0)
    b3.add_argument(
        "--lab-load-change-every", type=float, default=1.0, help="s between build changes"
    )
    term = parser.add_argument_group(
        "B5. term start (onboarding's rate limit, latency and build phase)"
    )
    term.add_argument("--term-courses", type=int, default=5)
    term.add_argument("--term-students", type=int, default=200, help="students per course")
    term.add_argument("--term-workers", type=int, default=4, help="Celery worker processes")
    term.add_argument("--term-concurrency", type=int, default=2)
    term.add_argument("--term-timeout", type=float, default=3600)
    term.add_argument(
        "--term-github-rate-limit", type=int, default=15000, help="GitHub requests/hour"
    )
    eight = parser.add_argument_group("8. signing in")
    # allauth lets one address try 30 sign-ins a minute: 25 (and 2 to warm) stay under it.
    eight.add_argument("--signins", type=int, default=25, help="sign-ins through the form")
    args = parser.parse_args(argv)
    if args.quick:
        args.signins = 5
        # Its GitHub writes (5 a student on one token, a second apart) set the move's pace.
        args.move_students = 1
        args.lab_load_boards, args.lab_load_interval, args.lab_load_duration = 2, 2, 4
        # The onboarding-like runs' pace is the push webhooks' GitHub writes, a second apart.
        args.recovery_students = 4
        args.students, args.repos, args.builds, args.window = 4, 20, 6, 5
        args.board_students, args.builds_per_student, args.duration = 50, 3, 2
        args.query_sizes, args.bulk, args.clients = "2,5", 30, 2
        args.freshness_build_delay, args.quiet = 0.5, 3
        args.lab_students, args.lab_window, args.lab_build_delay = 6, 5, 0.5
        args.term_courses, args.term_students, args.term_workers = 2, 3, 2
        # What made a quick run slow (each measured at about 40-60 s): the 304 figures'
        # 160 in-process requests, the sandbox's 2 s build phases, and an accepted invite
        # seen only by the next 60 s invite watch (QUICK_ENV) in each onboarding-like run.
        args.board_conditional_rounds, args.build_delay = 5, 0.5
    return args


def runners(args: argparse.Namespace) -> dict[str, Callable[[Any], Result]]:
    from bench import (
        board,
        bulk_add,
        freshness,
        lab_load,
        lab_session,
        move,
        onboarding,
        recovery,
        signin,
        term_start,
    )

    return {
        "onboarding": lambda ctx: onboarding.run(
            ctx,
            students=args.students,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
            build_delay=args.build_delay,
            workers=args.workers,
            concurrency=args.concurrency,
            naive=not args.no_naive,
            timeout=args.onboarding_timeout,
            backends=tuple(b.strip() for b in args.onboarding_backends.split(",") if b.strip()),
        ),
        "freshness": lambda ctx: freshness.run(
            ctx,
            repos=args.repos,
            builds=args.builds,
            window=args.window,
            rate_limit=args.freshness_rate_limit,
            build_delay=args.freshness_build_delay,
            quiet=args.quiet,
        ),
        "board": lambda ctx: board.run(
            ctx,
            students=args.board_students,
            builds_per_student=args.builds_per_student,
            clients=args.clients,
            duration=args.duration,
            query_sizes=[int(s) for s in args.query_sizes.split(",") if s],
            web_workers=args.web_workers,
            web_threads=args.web_threads,
            conditional_rounds=args.board_conditional_rounds,
        ),
        "bulk_add": lambda ctx: bulk_add.run(
            ctx,
            count=args.bulk,
            latency_ms=(
                args.bulk_latency_ms
                if args.bulk_latency_ms is not None
                else bulk_add.default_latency()
            ),
            rate_limit=args.rate_limit,
        ),
        "lab_session": lambda ctx: lab_session.run(
            ctx,
            students=args.lab_students,
            window=args.lab_window,
            build_delay=args.lab_build_delay,
            rate_limit=args.lab_rate_limit,
            cases=tuple(c.strip() for c in args.lab_cases.split(",") if c.strip()),
        ),
        "recovery": lambda ctx: recovery.run(
            ctx,
            students=args.recovery_students,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
            build_delay=args.build_delay,
            workers=args.workers,
            concurrency=args.concurrency,
            timeout=args.recovery_timeout,
        ),
        "move": lambda ctx: move.run(
            ctx,
            students=args.move_students,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
            build_delay=1.0 if args.quick else args.build_delay,
            workers=args.workers,
            concurrency=args.concurrency,
            timeout=args.move_timeout,
            github_rate_limit=args.move_github_rate_limit,
        ),
        "lab_load": lambda ctx: lab_load.run(
            ctx,
            students=args.board_students,
            builds_per_student=args.builds_per_student,
            boards=args.lab_load_boards,
            interval=args.lab_load_interval,
            duration=args.lab_load_duration,
            change_every=args.lab_load_change_every,
            query_sizes=[int(s) for s in args.query_sizes.split(",") if s],
            web_workers=args.web_workers,
        ),
        "term_start": lambda ctx: term_start.run(
            ctx,
            courses=args.term_courses,
            students=args.term_students,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
            build_delay=args.build_delay,
            workers=args.term_workers,
            concurrency=args.term_concurrency,
            timeout=args.term_timeout,
            github_rate_limit=args.term_github_rate_limit,
        ),
        "signin": lambda ctx: signin.run(ctx, count=args.signins, web_workers=args.web_workers),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.context import Context

    args = parse_args(argv)
    names = args.names or list(NAMES)
    ctx = Context(embedded=args.embedded, keep_logs=args.keep_logs, quick=args.quick)
    if args.quick:
        ctx.use_env(QUICK_ENV)
    results: list[Result] = []
    print(f"hubcourse benchmarks on {ctx.describe()['services']}: {', '.join(names)}", flush=True)
    try:
        ctx.django()
        table = runners(args)
        for name in names:
            print(f"\n== {name} ==", flush=True)
            started = time.monotonic()
            try:
                result = table[name](ctx)
            except Exception as error:  # one failing benchmark must not hide the others
                traceback.print_exc()
                result = Result(name, name, {}, error=f"{type(error).__name__}: {error}")
            finally:
                ctx.processes.stop_all()
            result.seconds = round(time.monotonic() - started, 1)
            result.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            results.append(result)
            print_table([result])
    finally:
        ctx.close()
    print("\n== all ==")
    print_table(results)
    for result in results:
        for note in result.notes:
            print(f"note [{result.name}]: {note}")
    if not args.no_json:
        extra = {"context": ctx.describe(), "argv": argv if argv is not None else sys.argv[1:]}
        directory = Path(args.results_dir) if args.results_dir else RESULTS_DIR
        path = write_json(results, extra, directory)
        print(f"\nJSON: {path}")
    if args.keep_logs:
        print(f"logs: {ctx.logs_hint()}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
