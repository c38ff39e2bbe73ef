"""`make run`: hubcourse on the embedded default, with the sandbox and a demo course.

Starts the sandbox (a local Docker Hub + GitHub), migrates, creates the demo accounts and
course, then runs the web server, a Celery worker and Celery beat in the foreground.
Ctrl-C stops all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WEB_PORT = int(os.environ.get("HUBCOURSE_PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "8765"))
# Seconds after which a demo student accepts the organisation's invitation by themselves, so
# the demo class onboards with nobody clicking (on Docker Hub each student accepts by email).
# 0 leaves invitations waiting, to be accepted on the sandbox's control page.
AUTO_ACCEPT_SECONDS = os.environ.get("SANDBOX_AUTO_ACCEPT_INVITES", "10")
# The sandbox's demo world (SANDBOX_DEMO_WORLD). "unkind", the default, is the class as it
# really is: students own their repositories, some private, the course's GitHub token can
# neither read nor hook them, and only some students installed the course's GitHub App.
# "kind" is the older world of public repositories the Owner may link builds from.
DEMO_WORLDS = {"unkind": "demo-unkind", "kind": "demo"}
COLOURS = {"sandbox": "35", "web": "36", "worker": "33", "beat": "32"}
# What a second shell's manage.py needs to reach this run's sandbox (see write_dev_env).
DEV_ENV_NAMES = (
    "SANDBOX_URL",
    "SITE_URL",
    "DOCKERHUB_ORG",
    "DOCKERHUB_USERNAME",
    "DOCKERHUB_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_APP_ID",
    "GITHUB_APP_SLUG",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_APP_WEBHOOK_SECRET",
    "GITHUB_APP_CLIENT_ID",
    "GITHUB_APP_CLIENT_SECRET",
)


def _pump(name: str, stream: IO[str]) -> None:
    prefix = f"\033[{COLOURS.get(name, '0')}m{name:>7}\033[0m | "
    for line in stream:
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


# Every child, as soon as it exists: a signal at any moment must find it here to stop it.
processes: dict[str, subprocess.Popen[str]] = {}


def _start(
    name: str, argv: list[str], env: dict[str, str], *, pump: bool = True
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        # Own process group: Ctrl-C reaches us, and we stop the children in order.
        start_new_session=True,
    )
    processes[name] = process
    if pump:
        assert process.stdout is not None
        threading.Thread(target=_pump, args=(name, process.stdout), daemon=True).start()
    return process


def _wait_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own loopback URL)
                return True
        except urllib.error.HTTPError:
            return True  # it answers; /healthz is 503 until the worker reports
        except OSError:
            time.sleep(0.3)
    return False


def _signal_group(pid: int, signum: int) -> bool:
    """Send ``signum`` to the child's whole process group (a worker's pool included);
    False when nothing is left in it."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _stop(processes: dict[str, subprocess.Popen[str]]) -> None:
    """Stop every child and whatever it started; no signal can interrupt this (see _on_signal)."""
    global _stopping
    _stopping = True
    for process in processes.values():
        # The process alone, as `docker stop` does: a worker then stops its pool itself,
        # after the tasks in hand (a SIGTERM to the group would kill those mid-way).
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # Anything still in the group (a slow task in a pool process, say) goes now.
        if _signal_group(process.pid, signal.SIGKILL):
            process.wait()


def read_seed(stream: IO[str], *, max_lines: int = 50) -> tuple[dict[str, Any] | None, list[str]]:
    """The sandbox's line of JSON with what its seed created (credentials, students), and
    the lines before it: its logging shares the stream, so "state loaded from
    var/sandbox.json" comes first when make run starts again. None when it never comes."""
    before: list[str] = []
    while len(before) < max_lines:
        line = stream.readline()
        if not line:
            break
        if line.startswith("{"):
            try:
                seeded = json.loads(line)
            except json.JSONDecodeError:
                pass
            else:
                if isinstance(seeded, dict):
                    return seeded, before
        before.append(line)
    return None, before


def sandbox_seed(env: Mapping[str, str]) -> str:
    """The sandbox's seed for the demo world SANDBOX_DEMO_WORLD names (unkind by default)."""
    world = env.get("SANDBOX_DEMO_WORLD", "").strip().lower() or "unkind"
    if world not in DEMO_WORLDS:
        sys.exit(f"SANDBOX_DEMO_WORLD is {world!r}: say unkind (the default) or kind.")
    return DEMO_WORLDS[world]


def seeded_world(seeded: Mapping[str, Any]) -> str:
    """The demo world the sandbox's seed made ("unkind" students say whether they installed
    the app), or "" for a seed without students. A sandbox that loaded var/sandbox.json keeps
    the world of the run that wrote it."""
    students = seeded.get("students") or []
    if not students:
        return ""
    return "unkind" if any("app_installation_id" in s for s in students) else "kind"


def _start_sandbox(env: dict[str, str], var: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = _start(
        "sandbox",
        [
            PY,
            "-m",
            "sandbox",
            "--port",
            str(SANDBOX_PORT),
            "--seed",
            sandbox_seed(env),
            "--data-file",
            str(var / "sandbox.json"),
            "--auto-accept-invites",
            AUTO_ACCEPT_SECONDS,
        ],
        env,
        pump=False,
    )
    assert process.stdout is not None
    seeded, before = read_seed(process.stdout)
    if seeded is None:
        process.kill()
        sys.exit("The sandbox did not start:\n" + "".join(before))
    for line in before:
        sys.stdout.write(f"\033[{COLOURS['sandbox']}m{'sandbox':>7}\033[0m | {line}")
    threading.Thread(target=_pump, args=("sandbox", process.stdout), daemon=True).start()
    return process, seeded


_stopping = False


def _on_signal(signum: int, frame: object) -> None:
    """Ctrl-C, `kill` or a closed terminal: the first one stops everything; more while
    stopping are noted, never raised inside the stop routine (which would leave children
    running and holding their ports)."""
    global _stopping
    if _stopping:
        print("  (already stopping)", flush=True)
        return
    _stopping = True
    raise KeyboardInterrupt


def write_dev_env(path: Path, env: dict[str, str]) -> None:
    """The settings this run gives its processes, for manage.py in a second shell (read by
    hubcourse/settings.py in development only)."""
    lines = [
        "# Written by `make run` at each start: what it points hubcourse at (development only).",
        # One line each: the app's private key keeps its line breaks as "\\n", which the
        # settings read back as line breaks.
        *(
            f"{name}={env[name].replace(chr(10), chr(92) + 'n')}"
            for name in DEV_ENV_NAMES
            if env.get(name)
        ),
    ]
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.chmod(0o600)  # it holds the sandbox's tokens
    partial.replace(path)


def _point_app_at(env: dict[str, str], slug: str) -> None:
    """The seeded app sends its events to this hubcourse and students back to its setup page."""
    site = env["SITE_URL"].rstrip("/")
    body = json.dumps(
        {"hook_url": f"{site}/webhooks/github/app/", "setup_url": f"{site}/github/app/setup/"}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (the local sandbox's control API)
        f"{env['SANDBOX_URL']}/_sandbox/github/apps/{slug}",
        data=body,
        method="PATCH",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    env = {**os.environ, "HUBCOURSE_ENV": os.environ.get("HUBCOURSE_ENV", "development")}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["SANDBOX_URL"] = f"http://127.0.0.1:{SANDBOX_PORT}"
    env.setdefault("SITE_URL", f"http://127.0.0.1:{WEB_PORT}")
    # /healthz counts only heartbeats of the worker and beat started below, not the last run's.
    env["HUBCOURSE_RUN_ID"] = f"{int(time.time())}-{os.getpid()}"
    var = Path(env.get("VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)

    try:
        _sandbox, seeded = _start_sandbox(env, var)
        world = seeded_world(seeded)
        if world and DEMO_WORLDS[world] != sandbox_seed(env):
            print(
                f"  The sandbox kept the {world} demo world of an earlier run ({var}/sandbox.json):"
                f" delete {var} to start the one SANDBOX_DEMO_WORLD asks for.",
                flush=True,
            )
        seed_file = var / "sandbox-seed.json"
        seed_file.write_text(json.dumps(seeded, indent=2))
        # Point hubcourse at the sandbox's organisation and tokens, unless told otherwise.
        hub = seeded.get("dockerhub", {})
        github = seeded.get("github", {}).get("instructor", {})
        app = seeded.get("github", {}).get("app", {})
        for name, value in (
            ("DOCKERHUB_ORG", hub.get("org")),
            # An Owner's personal token: automated builds need an Owner (an organisation
            # access token cannot configure them).
            ("DOCKERHUB_USERNAME", hub.get("owner")),
            ("DOCKERHUB_TOKEN", hub.get("owner_token")),
            ("GITHUB_TOKEN", github.get("token")),
            # hubcourse's GitHub App is the one the sandbox seeds.
            ("GITHUB_APP_ID", app.get("id")),
            ("GITHUB_APP_SLUG", app.get("slug")),
            ("GITHUB_APP_PRIVATE_KEY", app.get("pem")),
            ("GITHUB_APP_WEBHOOK_SECRET", app.get("webhook_secret")),
            ("GITHUB_APP_CLIENT_ID", app.get("client_id")),
            ("GITHUB_APP_CLIENT_SECRET", app.get("client_secret")),
        ):
            if value and name not in os.environ:
                env[name] = str(value)
        write_dev_env(var / "dev.env", env)
        if app.get("slug") and "GITHUB_APP_ID" not in os.environ:
            _point_app_at(env, str(app["slug"]))

        subprocess.run(
            [PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [PY, "manage.py", "demo_setup", "--sandbox-seed", str(seed_file)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        _start("web", [PY, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"], env)
        _start(
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "hubcourse",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                "worker@%h",
            ],
            env,
        )
        _start(
            "beat",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "hubcourse",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(var / "celerybeat-schedule"),
            ],
            env,
        )
        if _wait_for(f"http://127.0.0.1:{WEB_PORT}/healthz", 60):
            print(
                f"\n  hubcourse is running: open http://127.0.0.1:{WEB_PORT}/\n"
                f"  sandbox (Docker Hub + GitHub stand-in): http://127.0.0.1:{SANDBOX_PORT}/_sandbox/\n"
                "  demo accounts are printed above. Press Ctrl-C to stop everything.\n",
                flush=True,
            )
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"\n{name} stopped (exit {process.returncode}); stopping the rest.",
                        flush=True,
                    )
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
