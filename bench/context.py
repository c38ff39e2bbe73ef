"""One benchmark run's environment: database, broker, ports, Django in this process, and the
sandbox, Celery and gunicorn processes each benchmark starts and stops.

PostgreSQL and Redis are used when they answer on this machine (a ``hubcourse_bench``
database, Redis databases 12 and 13 that only the benchmarks use), else the embedded default
(SQLite and the filesystem broker under a temporary ``VAR_DIR``). ``--embedded`` forces the
latter; ``BENCH_DATABASE_URL``/``BENCH_REDIS_URL`` point elsewhere, and
``BENCH_BROKER_DB``/``BENCH_CACHE_DB`` pick other Redis databases (engineers measuring at the
same time must not flush each other's).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import PY, ROOT, Processes, Started, free_port, http_json, wait_for_http

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/hubcourse_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
BROKER_DB = int(os.environ.get("BENCH_BROKER_DB", "12"))
CACHE_DB = int(os.environ.get("BENCH_CACHE_DB", "13"))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _ensure_postgres_database(url: str) -> bool:
    """Create the benchmark database when missing; False when PostgreSQL is not usable."""
    import psycopg
    from psycopg import sql

    head, _, name = url.rpartition("/")
    try:
        with psycopg.connect(f"{head}/postgres", autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error:
        return False
    return True


@dataclasses.dataclass
class Sandbox:
    url: str
    # None for a sandbox served in this process (sandbox.testing.start_sandbox).
    started: Started | None
    seeded: dict[str, Any]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return http_json(method, f"{self.url}/_sandbox{path}", body)

    def configure(self, **changes: Any) -> None:
        self.control("PATCH", "/config", changes)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "/stats")
        return stats

    def dockerhub_requests(self, *, exclude_429: bool = True) -> int:
        """Docker Hub requests the sandbox answered (429 refusals excluded by default)."""
        total = 0
        for statuses in self.stats()["requests"].get("dockerhub", {}).values():
            for status, count in statuses.items():
                if exclude_429 and status == "429":
                    continue
                total += count
        return total

    def route_requests(self, method: str, rule_part: str) -> int:
        total = 0
        for service in self.stats()["requests"].values():
            for route, statuses in service.items():
                if route.startswith(method + " ") and rule_part in route:
                    total += sum(c for s, c in statuses.items() if s != "429")
        return total

    def rate_limited(self) -> int:
        return int(self.stats()["rate_limited"].get("dockerhub", 0))


AUTOBUILD = "dockerhub-autobuild"


def make_class(
    sandbox: Sandbox, count: int, prefix: str = "student", *, own: bool = False
) -> list[tuple[str, str]]:
    """``count`` Docker IDs, each with a GitHub repository holding a good DockerfileVolume,
    owned by the course's GitHub account (GitHub-Classroom style) or, with ``own``, by the
    student's own GitHub account (login: the Docker ID), as in a real class."""
    from sandbox.seed import INSTRUCTOR_LOGIN, student_files

    students = []
    for i in range(count):
        docker_id = f"{prefix}{i:04d}"
        sandbox.control("POST", "/dockerhub/users", {"username": docker_id})
        if own:
            sandbox.control("POST", "/github/users", {"login": docker_id})
        repo = sandbox.control(
            "POST",
            "/github/repos",
            {
                "owner": docker_id if own else INSTRUCTOR_LOGIN,
                "name": f"{docker_id}-course",
                "files": student_files(None),
            },
        )
        students.append((docker_id, repo["full_name"]))
    return students


def seat_class(
    sandbox: Sandbox,
    count: int,
    *,
    prefix: str,
    name: str,
    backend: str = AUTOBUILD,
    app: dict[str, Any] | None = None,
) -> Any:
    """A course of ``count`` students (``make_class``) who passed pre-flight and are members
    of the organisation already (membership is not what the build benchmarks measure), each
    with a Docker Hub repository and a build configured by hubcourse's own services.

    With ``app`` (the seeded GitHub App, see ``Context.use_github_app``) every student owns
    their repository and installs the app on it (one installation each, each with its own
    GitHub budget), and hubcourse reaches the repository only through the app. Returns the
    course.
    """
    import datetime as dt

    from accounts.models import Course, Enrolment, GitHubAccess, InviteState, PreflightState
    from builds.services import build_configure
    from repositories.services import repository_ensure

    roster = make_class(sandbox, count, prefix=prefix, own=app is not None)
    installations: dict[str, int] = {}
    if app is not None:
        for _, full_name in roster:
            owner, repo = full_name.split("/", 1)
            answer = sandbox.control(
                "POST",
                f"/github/apps/{app['slug']}/installations",
                {"account": owner, "repositories": [repo]},
            )
            installations[full_name] = int(answer["installation"]["id"])
    course = Course.objects.create(
        name=name,
        slug=prefix,
        organisation=sandbox.seeded["dockerhub"]["org"],
        build_backend=backend,
        access_policy=Course.AccessPolicy.COURSE_TEAM,
    )
    now = dt.datetime.now(dt.UTC)
    Enrolment.objects.bulk_create(
        [
            Enrolment(
                course=course,
                identifier=f"{docker_id}@example.edu",
                email=f"{docker_id}@example.edu",
                docker_id=docker_id,
                github_repo=github_repo,
                preflight_state=PreflightState.PASSED,
                docker_id_verified_at=now,
                invite_state=InviteState.ACCEPTED,
                member_at=now,
                team_at=now,
                **(
                    {
                        "github_access": GitHubAccess.APP,
                        "github_installation_id": installations[github_repo],
                    }
                    if github_repo in installations
                    else {}
                ),
            )
            for docker_id, github_repo in roster
        ]
    )
    for enrolment_id in course.enrolments.values_list("pk", flat=True):
        repository_ensure(enrolment_id=enrolment_id)
        build_configure(enrolment_id=enrolment_id)
    return course


class Context:
    """Ports, URLs and environment for every process of one ``python -m bench`` run."""

    def __init__(
        self, *, embedded: bool = False, keep_logs: bool = False, quick: bool = False
    ) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="hubcourse-bench-"))
        self.keep_logs = keep_logs
        # A quick run (``--quick``) waits for readiness instead of a cold start's fixed time.
        self.quick = quick
        self.sandbox_port = free_port()
        self.web_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        pg = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)
        redis = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS).rstrip("/")
        self.services = "embedded"
        env: dict[str, str] = {
            **os.environ,
            "HUBCOURSE_ENV": "development",
            # DEBUG keeps every SQL query in memory: not what a deployment runs.
            "DEBUG": "false",
            "LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
            "VAR_DIR": str(self.var),
            "SANDBOX_URL": self.sandbox_url,
            "SITE_URL": self.web_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DOCKERHUB_ORG": "Revelare",
        }
        # Whatever started us (a test run, a shell) does not choose the benchmarks' services.
        for name in (
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "REDIS_URL",
            "RATE_LIMIT_REDIS_URL",
            "CELERY_TASK_ALWAYS_EAGER",
            "TEST_SANDBOX_PORT",
            "DOCKERHUB_API_URL",
            "DOCKERHUB_WEB_URL",
            "GITHUB_URL",
            "GITHUB_API_URL",
        ):
            env.pop(name, None)
        env["DJANGO_SETTINGS_MODULE"] = "hubcourse.settings"
        if not embedded and _answers("127.0.0.1", 5432) and _answers("127.0.0.1", 6379):
            if _ensure_postgres_database(pg):
                self.services = "postgresql+redis"
                env["DATABASE_URL"] = pg
                env["CELERY_BROKER_URL"] = f"{redis}/{BROKER_DB}"
                env["REDIS_URL"] = f"{redis}/{CACHE_DB}"
        self.env = env
        self.processes = Processes(env, self.var / "logs")
        self.processes.kill = quick
        self._django_ready = False

    @property
    def postgres(self) -> bool:
        return self.services == "postgresql+redis"

    def describe(self) -> dict[str, Any]:
        return {
            "services": self.services,
            "database": self.env.get("DATABASE_URL", "sqlite (embedded)"),
            "broker": self.env.get("CELERY_BROKER_URL", "filesystem (embedded)"),
        }

    # -- Django in this process ---------------------------------------------------------------

    def django(self) -> None:
        """Set up Django here with the same environment the subprocesses get; migrate once."""
        if self._django_ready:
            return
        for name in list(os.environ):
            if name not in self.env:
                del os.environ[name]
        os.environ.update(self.env)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        self._django_ready = True

    def reset_state(self) -> None:
        """An empty database, cache, governor and broker: every benchmark starts clean."""
        self.django()
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection

        call_command("flush", interactive=False, verbosity=0)
        connection.close()
        cache.clear()
        if self.postgres:
            import redis

            for db in (BROKER_DB, CACHE_DB):
                redis.Redis.from_url(f"{self.env['REDIS_URL'].rsplit('/', 1)[0]}/{db}").flushdb()
        else:
            for sub in ("broker", "cache", "governor.sqlite3"):
                path = self.var / sub
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                elif path.exists():
                    path.unlink()
            for sub in ("queue", "processed", "control"):
                (self.var / "broker" / sub).mkdir(parents=True, exist_ok=True)
        from integrations.dockerhub.client import clear_token_cache

        clear_token_cache()

    # -- processes ------------------------------------------------------------------------------

    def start_sandbox(
        self,
        *,
        rate_limit: int,
        latency_ms: int,
        build_delay: float = 2.0,
        webhooks: bool = True,
        seed: str = "empty",
    ) -> Sandbox:
        argv = [
            PY,
            "-m",
            "sandbox",
            "--port",
            str(self.sandbox_port),
            "--seed",
            seed,
            "--rate-limit",
            str(rate_limit),
            "--latency-ms",
            str(latency_ms),
            "--build-delay",
            str(build_delay),
            "--random-seed",
            "7",
        ]
        if not webhooks:
            argv.append("--no-webhooks")
        started = self.processes.start("sandbox", argv)
        if not wait_for_http(f"{self.sandbox_url}/_sandbox/seed", 30):
            self.processes.check_alive()
            raise RuntimeError("the sandbox did not answer within 30 s")
        seeded: dict[str, Any] = http_json("GET", f"{self.sandbox_url}/_sandbox/seed")
        return Sandbox(self.sandbox_url, started, seeded)

    def stop_sandbox(self, sandbox: Sandbox) -> None:
        if sandbox.started is not None:
            self.processes.stop(sandbox.started)

    def hub_env(self, sandbox: Sandbox) -> None:
        """Point every later process (and this one) at the sandbox's organisation and Owner."""
        hub = sandbox.seeded["dockerhub"]
        values = {
            "DOCKERHUB_ORG": hub["org"],
            # An Owner's personal token: automated builds need an Owner.
            "DOCKERHUB_USERNAME": hub["owner"],
            "DOCKERHUB_TOKEN": hub["owner_token"],
            "GITHUB_TOKEN": sandbox.seeded["github"]["instructor"]["token"],
        }
        self.use_env(values)

    def use_github_app(self, sandbox: Sandbox) -> dict[str, Any]:
        """hubcourse runs as the sandbox's seeded GitHub App (here and in later processes);
        the app's seeded credentials."""
        app: dict[str, Any] = sandbox.seeded["github"]["app"]
        self.use_env(
            {
                "GITHUB_APP_ID": str(app["id"]),
                "GITHUB_APP_SLUG": app["slug"],
                "GITHUB_APP_PRIVATE_KEY": app["pem"],
                "GITHUB_APP_WEBHOOK_SECRET": app["webhook_secret"],
                "GITHUB_APP_CLIENT_ID": app["client_id"],
                "GITHUB_APP_CLIENT_SECRET": app["client_secret"],
            }
        )
        return app

    def use_env(self, values: dict[str, str]) -> None:
        """Environment for every later process, and the same settings in this one."""
        self.env.update(values)
        self.processes.env.update(values)
        if self._django_ready:
            from django.conf import settings

            for name, value in values.items():
                setattr(settings, name, value)

    def start_workers(self, count: int, concurrency: int) -> list[Started]:
        workers = []
        for i in range(count):
            started = self.processes.start(
                f"worker{i}",
                [
                    PY,
                    "-m",
                    "celery",
                    "-A",
                    "hubcourse",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    str(concurrency),
                    "--hostname",
                    f"bench{i}@%h",
                    "--without-mingle",
                    "--without-gossip",
                ],
            )
            # Celery expands %h to this host's name.
            started.node = f"bench{i}@{socket.gethostname()}"
            workers.append(started)
        return workers

    def start_hubcourse(
        self, *, workers: int = 1, concurrency: int = 2, warm: float = 0.0
    ) -> list[Started]:
        """gunicorn (receiving the sandbox's webhooks), ``workers`` Celery workers and beat,
        started together (their imports overlap); returns the workers once gunicorn answers
        and then, in a quick run, once every worker answers a ping. A full run waits ``warm``
        seconds more instead, as it always has (a cold start is not what is measured).

        gunicorn has 2 workers, as deployed; a quick run's webhooks need 1 (one import less
        while everything starts at once on a shared machine)."""
        web = self._spawn_web(workers=1 if self.quick else 2, threads=1)
        started = self.start_workers(workers, concurrency)
        self.start_beat()
        self._web_answers(web)
        if self.quick:
            self.workers_answer(started)
        elif warm:
            time.sleep(warm)
        self.processes.check_alive()
        return started

    def workers_answer(self, started: list[Started], timeout: float = 60) -> None:
        """Until each worker of ``started`` answers a ping: it consumes from the broker."""
        from hubcourse.celery import app

        names = {s.node for s in started}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(destination=sorted(names), timeout=0.5, limit=len(names))
            if names <= {name for reply in replies for name in reply}:
                return
            self.processes.check_alive()
        raise RuntimeError(f"workers {sorted(names)} did not answer within {timeout:.0f} s")

    def start_beat(self, *, env: dict[str, str] | None = None) -> Started:
        return self.processes.start(
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "hubcourse",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(self.var / f"celerybeat-{time.monotonic_ns()}"),
            ],
            env=env,
        )

    def start_web(self, *, workers: int = 2, threads: int = 1) -> Started:
        started = self._spawn_web(workers=workers, threads=threads)
        self._web_answers(started)
        return started

    def _spawn_web(self, *, workers: int, threads: int) -> Started:
        return self.processes.start(
            "web",
            [
                PY,
                "-m",
                "gunicorn",
                "hubcourse.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
        )

    def _web_answers(self, started: Started) -> None:
        if not wait_for_http(f"{self.web_url}/healthz", 60):
            self.processes.check_alive()
            raise RuntimeError(f"gunicorn ({started.name}) did not answer within 60 s")

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def close(self) -> None:
        self.processes.stop_all()
        if self._django_ready:
            from django.db import connections

            connections.close_all()
        if not self.keep_logs:
            shutil.rmtree(self.var, ignore_errors=True)

    def logs_hint(self) -> str:
        return str(self.var / "logs")


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
