"""`make rehearse`: the production path, end to end, without Docker.

1. Assembles exactly the files the image holds: the Dockerfile's COPY lines filtered by
   .dockerignore (both read here, so the rehearsal and the image cannot drift), and checks
   that set: every app of INSTALLED_APPS is in it, no test, benchmark or sandbox file is,
   and no module in it imports one that is left out.
2. Installs it into a fresh virtual environment with the Dockerfile's own RUN lines (the
   lock file, then collectstatic), migrates with the compose file's `migrate` command.
3. Starts web, worker and beat with the commands of docker-compose.yml, in production mode
   on PostgreSQL and Redis, against the sandbox (started from this checkout) as Docker Hub
   and GitHub.
4. Checks over HTTP: /healthz with worker and beat alive; the sign-in page, its stylesheet
   and script (hashed names, far-future cache headers, compressed); an instructor signs in
   and the class board renders; a personal API token works; a course apply runs on the
   worker; `check --deploy` is clean; then everything stops on SIGTERM.

Servers: REHEARSE_DATABASE_URL (a PostgreSQL database it drops and creates, default
postgres://postgres@127.0.0.1:5432/hubcourse_rehearsal), REHEARSE_BROKER_URL and
REHEARSE_REDIS_URL (Redis databases it empties, default 13 and 14 on 127.0.0.1:6379).
REHEARSE_KEEP=1 keeps its folder (the files, the processes' logs) after a pass too.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEV_PYTHON = sys.executable
# Top-level folders of the checkout that must never reach the image.
NEVER_IN_IMAGE = ("tests", "bench", "sandbox", ".venv", "var", ".git", ".cache")
STOP_SECONDS = 30


class RehearsalFailed(Exception):
    """A check failed; the message says which and why, in words."""


# --- The image's files ---------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: relative to the context's root, `*` and
    `?` within one path segment, `**` across any number of them."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", i)
            if end == -1:
                out += re.escape(char)
            else:
                out += pattern[i : end + 1]
                i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


@dataclass
class DockerIgnore:
    rules: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
            rules.append((include, _pattern_regex(pattern)))
        return cls(rules)

    def excludes(self, path: str) -> bool:
        """Whether Docker leaves ``path`` out: the last rule matching it or one of its
        parent folders decides."""
        parts = PurePosixPath(path).parts
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for include, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                excluded = not include
        return excluded

    @property
    def has_exceptions(self) -> bool:
        return any(include for include, _regex in self.rules)


@dataclass
class Dockerfile:
    workdir: str
    env: dict[str, str]
    copies: list[tuple[list[str], str]]
    runs: list[str]

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        # Continuation lines joined, comments dropped, as Docker reads them.
        logical: list[str] = []
        pending = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append(pending + line)
            pending = ""
        parsed = cls(workdir="/", env={}, copies=[], runs=[])
        for line in logical:
            instruction, _, rest = line.partition(" ")
            instruction = instruction.upper()
            if instruction == "WORKDIR":
                parsed.workdir = rest.strip()
            elif instruction == "ENV":
                for item in shlex.split(rest):
                    name, _, value = item.partition("=")
                    parsed.env[name] = value
            elif instruction in ("COPY", "ADD"):
                args = json.loads(rest) if rest.lstrip().startswith("[") else shlex.split(rest)
                args = [arg for arg in args if not arg.startswith("--")]
                if any(arg.startswith("--from") for arg in shlex.split(rest)):
                    continue  # from another stage, not from the project
                parsed.copies.append((args[:-1], args[-1]))
            elif instruction == "RUN":
                parsed.runs.append(rest.strip())
        return parsed


def _walk(root: Path, start: Path, ignore: DockerIgnore) -> Iterator[Path]:
    for folder, dirs, files in os.walk(start):
        here = Path(folder)
        if not ignore.has_exceptions:
            # Nothing under an excluded folder can come back: do not descend (.venv is big).
            dirs[:] = [
                d for d in dirs if not ignore.excludes((here / d).relative_to(root).as_posix())
            ]
        for name in files:
            path = here / name
            if not ignore.excludes(path.relative_to(root).as_posix()):
                yield path


def image_files(
    root: Path = ROOT, *, dockerfile: str | None = None, dockerignore: str | None = None
) -> dict[str, Path]:
    """Path in the image's work folder -> file in the checkout, for every file the
    Dockerfile copies (its COPY lines, minus what .dockerignore leaves out)."""
    spec = Dockerfile.parse(
        dockerfile if dockerfile is not None else (root / "Dockerfile").read_text()
    )
    ignore = DockerIgnore.parse(
        dockerignore if dockerignore is not None else (root / ".dockerignore").read_text()
    )
    files: dict[str, Path] = {}
    for sources, dest in spec.copies:
        target = PurePosixPath(spec.workdir) / dest
        target_rel = PurePosixPath(os.path.relpath(str(target), spec.workdir))
        for source in sources:
            origin = (root / source).resolve()
            if origin.is_dir():
                for path in _walk(root, origin, ignore):
                    files[(target_rel / path.relative_to(origin).as_posix()).as_posix()] = path
            elif origin.is_file() and not ignore.excludes(origin.relative_to(root).as_posix()):
                into_folder = dest.endswith("/") or len(sources) > 1
                name = target_rel / origin.name if into_folder else target_rel
                files[PurePosixPath(os.path.normpath(str(name))).as_posix()] = origin
    return files


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    return modules


def check_file_set(
    files: dict[str, Path], installed_apps: Iterable[str], root: Path = ROOT
) -> list[str]:
    """What is wrong with the image's files, in words (empty when nothing is)."""
    problems: list[str] = []
    for app in installed_apps:
        top = app.split(".")[0]
        if not (root / top).is_dir():
            continue  # a third-party app, installed from the lock file
        if f"{app.replace('.', '/')}/__init__.py" not in files:
            problems.append(
                f"the image leaves out the app {app!r} (in INSTALLED_APPS): the Dockerfile's "
                "COPY lines or .dockerignore drop it"
            )
    for name in ("manage.py", "requirements/runtime.txt"):
        if name not in files:
            problems.append(f"the image leaves out {name}")
    for folder in ("templates", "static"):
        if (root / folder).is_dir() and not any(path.startswith(f"{folder}/") for path in files):
            problems.append(f"the image leaves out the project's {folder}/ folder")
    for path in files:
        top = path.split("/")[0]
        hidden = any(part.startswith(".") for part in path.split("/"))
        if top in NEVER_IN_IMAGE or hidden:
            problems.append(f"the image would contain {path}: .dockerignore must leave it out")
    # Top-level modules of the checkout that the image leaves out must not be imported by it.
    left_out = {
        entry.name.removesuffix(".py")
        for entry in root.iterdir()
        if (entry.is_dir() and (entry / "__init__.py").exists()) or entry.suffix == ".py"
    } - {path.split("/")[0].removesuffix(".py") for path in files}
    for path, origin in sorted(files.items()):
        if path.endswith(".py"):
            for module in sorted(_imported_modules(origin.read_text()) & left_out):
                problems.append(f"{path} imports {module}, which the image leaves out")
    return sorted(set(problems), key=problems.index)


def installed_apps() -> list[str]:
    """INSTALLED_APPS as the settings compute them (read in a process of its own)."""
    with tempfile.TemporaryDirectory() as var:
        env = {
            **os.environ,
            "HUBCOURSE_ENV": "development",
            "VAR_DIR": var,
            "DJANGO_SETTINGS_MODULE": "hubcourse.settings",
        }
        out = subprocess.run(
            [
                DEV_PYTHON,
                "-c",
                "import json; from django.conf import settings; print(json.dumps(settings.INSTALLED_APPS))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    apps: list[str] = json.loads(out.strip().splitlines()[-1])
    return apps


# --- The rehearsal -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Nothing listens on it, and a new server may (connections of the old one may linger in
    TIME_WAIT, which servers' SO_REUSEADDR ignores)."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Rehearsal:
    work: Path
    database_url: str
    broker_url: str
    redis_url: str
    started: float = field(default_factory=time.monotonic)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    web_port: int = 0

    @property
    def app(self) -> Path:
        return self.work / "app"

    @property
    def venv(self) -> Path:
        return self.work / "venv"

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.say(title)
        yield

    def run(self, argv: list[str] | str, *, what: str, timeout: float = 600, **kwargs: Any) -> str:
        result = subprocess.run(
            argv,
            cwd=kwargs.pop("cwd", self.app),
            env=kwargs.pop("env", self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
            shell=isinstance(argv, str),
            check=False,
            **kwargs,
        )
        if result.returncode != 0:
            raise RehearsalFailed(
                f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return str(result.stdout) + str(result.stderr)

    def start(
        self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        log = self.work / f"{name}.log"
        self.logs[name] = log
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: its children stop with it
        )
        self.processes[name] = process
        return process

    def stop(self, name: str) -> str | None:
        """SIGTERM to the main process only, as `docker stop` does (a worker then finishes
        the tasks in hand and stops its pool); a problem in words when it does not stop."""
        process = self.processes[name]
        if process.poll() is not None:
            return f"{name} had already exited (exit {process.returncode})"
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return f"{name} did not stop within {STOP_SECONDS} s of SIGTERM"
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return f"{name} left processes behind after it exited"

    def tail_logs(self) -> None:
        for name, log in self.logs.items():
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-25:]
                print(f"\n--- last lines of {name} ({log}) ---\n" + "\n".join(lines))


class Browser:
    """Just enough of a browser behind a TLS proxy: it sends X-Forwarded-Proto as the proxy
    would and keeps cookies, Secure ones included (the rehearsal itself speaks plain HTTP)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.origin = "https://" + urlsplit(base).netloc
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        headers = {
            "X-Forwarded-Proto": "https",
            "Referer": self.origin + path,
            "Origin": self.origin,
            **kwargs.pop("headers", {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        self.cookies.update(response.cookies.items())
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, data: dict[str, str]) -> Any:
        page = self.get(path)
        expect(page.status_code == 200, f"GET {path} answered {page.status_code}")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        expect(token is not None, f"{path} has no CSRF token in its form")
        assert token is not None
        return self.request("POST", path, data={"csrfmiddlewaretoken": token.group(1), **data})


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise RehearsalFailed(message)


def wait_until(what: str, seconds: float, probe: Any) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # a server still starting: connection refused, say
            last = exc
        else:
            if last:
                return last
        time.sleep(1)
    raise RehearsalFailed(f"{what}: not within {seconds:.0f} s (last: {last!r})"[:2000])


def prepare_servers(r: Rehearsal) -> None:
    import psycopg
    import redis

    name = urlsplit(r.database_url).path.lstrip("/")
    with psycopg.connect(_with_db(r.database_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    for url in (r.broker_url, r.redis_url):
        redis.Redis.from_url(url).flushdb()


def drop_database(r: Rehearsal) -> None:
    import psycopg

    name = urlsplit(r.database_url).path.lstrip("/")
    with psycopg.connect(_with_db(r.database_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_sandbox(r: Rehearsal) -> dict[str, Any]:
    """The outside world: the sandbox from this checkout (it is never in the image)."""
    port = _free_port()
    r.start(
        "sandbox",
        [
            DEV_PYTHON,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "demo",
            "--data-file",
            str(r.work / "sandbox.json"),
            "--auto-accept-invites",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    def seeded() -> dict[str, Any] | None:
        for line in r.logs["sandbox"].read_text().splitlines():
            if line.startswith("{"):
                data: dict[str, Any] = json.loads(line)
                return data
        expect(r.processes["sandbox"].poll() is None, "the sandbox stopped at start")
        return None

    seed: dict[str, Any] = wait_until("the sandbox prints its seed", 30, seeded)
    seed["url"] = f"http://127.0.0.1:{port}"
    return seed


def production_env(r: Rehearsal, spec: Dockerfile, seed: dict[str, Any]) -> dict[str, str]:
    from cryptography.fernet import Fernet

    var = r.work / "var"
    var.mkdir()

    def here(value: str) -> str:
        # The image's paths, moved into the rehearsal's folder.
        value = value.replace(spec.env.get("VAR_DIR", "/var/lib/hubcourse"), str(var))
        return value.replace(spec.workdir, str(r.app)) if value.startswith(spec.workdir) else value

    sandbox = seed["url"]
    env = {
        "PATH": f"{r.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(r.work),
        "LANG": "C.UTF-8",
        **{name: here(value) for name, value in spec.env.items()},
        "VAR_DIR": str(var),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{r.web_port}",
        "DATABASE_URL": r.database_url,
        "CELERY_BROKER_URL": r.broker_url,
        "REDIS_URL": r.redis_url,
        "DOCKERHUB_API_URL": sandbox,
        "DOCKERHUB_WEB_URL": sandbox,
        "DOCKERHUB_ORG": seed["dockerhub"]["org"],
        "DOCKERHUB_USERNAME": seed["dockerhub"]["owner"],
        "DOCKERHUB_TOKEN": seed["dockerhub"]["owner_token"],
        "GITHUB_URL": sandbox,
        "GITHUB_API_URL": f"{sandbox}/api/v3",
        "GITHUB_TOKEN": seed["github"]["instructor"]["token"],
        "GITHUB_WEBHOOK_SECRET": secrets.token_urlsafe(20),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        # The demo students accept after a second; look for that often.
        "INVITE_WATCH_INTERVAL": "10",
    }
    expect(
        env.get("HUBCOURSE_ENV") == "production",
        "the Dockerfile does not set HUBCOURSE_ENV=production",
    )
    return env


def compose_commands(r: Rehearsal, spec: Dockerfile) -> dict[str, list[str]]:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    var = spec.env.get("VAR_DIR", "/var/lib/hubcourse")
    commands: dict[str, list[str]] = {}
    for name in ("migrate", "web", "worker", "beat"):
        argv = [str(arg) for arg in compose["services"][name]["command"]]
        # The container's address and folders, moved to the rehearsal's.
        argv = [
            f"127.0.0.1:{r.web_port}"
            if arg.startswith("0.0.0.0:")
            else arg.replace(var, r.env["VAR_DIR"])
            for arg in argv
        ]
        commands[name] = argv
    return commands


SYSTEM_SETUP = ("useradd", "groupadd", "adduser", "apt-get", "apk", "chown", "mkdir")


def rehearse(r: Rehearsal) -> None:
    spec = Dockerfile.parse((ROOT / "Dockerfile").read_text())
    with r.step("assembling the image's files (Dockerfile COPY lines + .dockerignore)"):
        files = image_files()
        problems = check_file_set(files, installed_apps())
        expect(not problems, "the image's files are wrong:\n  " + "\n  ".join(problems))
        for rel, origin in files.items():
            target = r.app / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
        r.say(f"  {len(files)} files")

    with r.step("preparing PostgreSQL and Redis, starting the sandbox"):
        prepare_servers(r)
        seed = start_sandbox(r)
        r.web_port = _free_port()
        r.env = production_env(r, spec, seed)

    with r.step("a fresh virtual environment, and the Dockerfile's RUN lines in it"):
        subprocess.run([sys.executable, "-m", "venv", str(r.venv)], check=True)
        for line in spec.runs:
            if line.split()[0] in SYSTEM_SETUP:
                continue  # the image's user and folders; nothing to do here
            r.say(f"  RUN {line[:100]}")
            r.run(line, what=f"RUN {line[:60]}")
        installed = r.run(["python", "-m", "pip", "list", "--format=freeze"], what="pip list")
        for package in ("flask", "werkzeug", "pytest"):
            expect(
                not re.search(rf"^{package}==", installed, re.IGNORECASE | re.MULTILINE),
                f"the runtime lock installs {package}, which production never needs",
            )

    commands = compose_commands(r, spec)
    with r.step("migrating (compose's migrate command), creating the demo course"):
        r.run(commands["migrate"], what="migrate")
        seed_file = r.work / "sandbox-seed.json"
        seed_file.write_text(json.dumps(seed))
        r.run(
            ["python", "manage.py", "demo_setup", "--sandbox-seed", str(seed_file)],
            what="demo_setup",
        )
        passwords = json.loads((Path(r.env["VAR_DIR"]) / "demo-accounts.json").read_text())

    with r.step("starting web, worker and beat with docker-compose.yml's commands"):
        for name in ("web", "worker", "beat"):
            r.say(f"  {name}: {' '.join(commands[name])}")
            r.start(name, commands[name], cwd=r.app, env=r.env)

    base = f"http://127.0.0.1:{r.web_port}"
    browser = Browser(base)
    with r.step("GET /healthz: 200 with the database, the broker, a worker and beat"):

        def healthy() -> Any:
            for name in ("web", "worker", "beat"):
                expect(r.processes[name].poll() is None, f"{name} exited at start")
            response = browser.get("/healthz")
            return response.json() if response.status_code == 200 else None

        body = wait_until("/healthz answers 200", 90, healthy)
        # An anonymous caller gets the verdict only; 200 means the database, the broker, a
        # worker and beat all answered (the details are for a signed-in administrator).
        expect(body == {"status": "ok"}, f"/healthz: {body}")

    with r.step("the sign-in page, its stylesheets and scripts (whitenoise)"):
        login = browser.get("/accounts/login/")
        expect(login.status_code == 200, f"/accounts/login/ answered {login.status_code}")
        check_assets(browser, login.text)

    with r.step("the instructor signs in and the class board renders"):
        email = "instructor@hubcourse.local"
        signed_in = browser.post_form(
            "/accounts/login/", {"login": email, "password": passwords[email]}
        )
        expect(
            signed_in.status_code == 302 and "login" not in signed_in.headers.get("Location", ""),
            f"signing in answered {signed_in.status_code}: {signed_in.text[:500]}",
        )
        board = browser.get("/courses/demo/")
        expect(board.status_code == 200, f"the class board answered {board.status_code}")
        expect("Docker 101 (demo)" in board.text, "the class board does not name its course")
        check_assets(browser, board.text)

    with r.step("a personal API token, and the API with it"):
        made = browser.post_form("/settings/tokens/", {"name": "rehearsal"})
        found = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
        expect(made.status_code == 200 and found is not None, "the tokens page showed no new token")
        assert found is not None
        api = Browser(base)  # no cookies: the token alone
        bearer = {"Authorization": f"Bearer {found.group(1)}"}
        courses = api.get("/api/v1/courses/", headers=bearer)
        expect(courses.status_code == 200, f"GET /api/v1/courses/ answered {courses.status_code}")
        expect(
            any(c["slug"] == "demo" for c in courses.json()["results"]),
            "the API lists no demo course",
        )

    with r.step("a course apply through the API runs on the worker"):
        applied = api.request("POST", "/api/v1/courses/demo/plan/apply/", headers=bearer)
        expect(
            applied.status_code == 202,
            f"apply answered {applied.status_code}: {applied.text[:300]}",
        )
        run_id = applied.json()["id"]

        def progressed() -> Any:
            run = api.get(f"/api/v1/courses/demo/apply-runs/{run_id}/", headers=bearer).json()
            done = run["finished_at"] or (
                run["remaining"] is not None and run["remaining"] < run["total_steps"]
            )
            return run if done else None

        run = wait_until("the worker works through the apply", 120, progressed)
        r.say(f"  run {run_id}: {run['total_steps']} steps, {run['remaining']} remaining")
        invited = api.get("/api/v1/courses/demo/enrolments/?page_size=100", headers=bearer).json()
        r.say(f"  {invited.get('count', '?')} students enrolled")

    with r.step("manage.py check --deploy"):
        out = r.run(
            ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            what="check --deploy",
        )
        expect("no issues" in out, f"check --deploy: {out}")

    with r.step("stopping web, worker and beat with SIGTERM"):
        problems = []
        for name in ("web", "worker", "beat"):
            began = time.monotonic()
            problem = r.stop(name)
            r.say(
                f"  {name}: {'stopped' if problem is None else problem} in {time.monotonic() - began:.1f} s"
            )
            problems += [problem] if problem else []
        expect(not problems, "; ".join(problems))
        lost = "WorkerLostError" in r.logs["worker"].read_text(errors="replace")
        expect(not lost, "a task was killed mid-way while the worker stopped (WorkerLostError)")
        expect(_port_is_free(r.web_port), f"port {r.web_port} is still taken after web stopped")


HASHED = re.compile(r"\.[0-9a-f]{12}\.(css|js)$")


def check_assets(browser: Browser, html: str) -> None:
    assets = re.findall(r'<link[^>]+href="(/static/[^"]+\.css)"', html) + re.findall(
        r'<script[^>]+src="(/static/[^"]+\.js)"', html
    )
    expect(bool(assets), "the page links no stylesheet or script under /static/")
    compressed = False
    for path in assets:
        expect(bool(HASHED.search(path)), f"{path} has no content hash in its name")
        response = browser.get(path, headers={"Accept-Encoding": "gzip"})
        expect(response.status_code == 200, f"{path} answered {response.status_code}")
        cache = response.headers.get("Cache-Control", "")
        expect(
            "immutable" in cache and "max-age=315360000" in cache,
            f"{path}: Cache-Control {cache!r}",
        )
        compressed = compressed or response.headers.get("Content-Encoding") == "gzip"
    expect(compressed, "no stylesheet or script was served compressed")


def main() -> int:
    database_url = os.environ.get(
        "REHEARSE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hubcourse_rehearsal"
    )
    broker_url = os.environ.get("REHEARSE_BROKER_URL", "redis://127.0.0.1:6379/13")
    redis_url = os.environ.get("REHEARSE_REDIS_URL", "redis://127.0.0.1:6379/14")
    work = Path(tempfile.mkdtemp(prefix="hubcourse-rehearsal-"))
    r = Rehearsal(work=work, database_url=database_url, broker_url=broker_url, redis_url=redis_url)
    ok = False
    try:
        rehearse(r)
        ok = True
    except RehearsalFailed as exc:
        print(f"\nREHEARSAL FAILED: {exc}", file=sys.stderr, flush=True)
        r.tail_logs()
    finally:
        for name, process in r.processes.items():
            if process.poll() is None:
                r.stop(name)
        try:
            drop_database(r)
        except Exception as exc:  # the rehearsal's verdict stands; say why cleaning failed
            print(f"note: could not drop the rehearsal database: {exc}", file=sys.stderr)
    if ok:
        if os.environ.get("REHEARSE_KEEP") == "1":
            r.say(f"rehearsal passed (files and logs kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
            r.say("rehearsal passed")
        return 0
    print(f"(files and logs kept in {work})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
