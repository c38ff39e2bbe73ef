"""`make run` for real: a second shell's manage.py reaches its sandbox, and signals sent while
it stops leave no process and no port behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the test process's own settings put in the environment; `make run` must not see it.
NOT_FOR_MAKE_RUN = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "RATE_LIMIT_REDIS_URL",
    "TEST_SANDBOX_PORT",
    "SANDBOX_URL",
    "SITE_URL",
    "VAR_DIR",
    "HUBCOURSE_ENV",
    "CELERY_TASK_ALWAYS_EAGER",
    "HUBCOURSE_TEST_PROCESS",
    "PYTEST_XDIST_WORKER",
)


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


def _processes_with(marker: bytes) -> list[int]:
    """Processes whose environment holds ``marker`` (everything this make run started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to read
    return found


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_a_second_shell_works_and_two_signals_while_stopping_leave_nothing_behind(tmp_path):
    web_port, sandbox_port = _free_port(), _free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_FOR_MAKE_RUN and not name.startswith(("DOCKERHUB_", "GITHUB_"))
    }
    env |= {
        "VAR_DIR": str(tmp_path),
        "HUBCOURSE_PORT": str(web_port),
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_AUTO_ACCEPT_INVITES": "0",
    }
    run = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    stream = run.stdout
    assert stream is not None
    threading.Thread(target=lambda: output.extend(iter(stream.readline, "")), daemon=True).start()
    marker = f"VAR_DIR={tmp_path}".encode()
    try:
        deadline = time.monotonic() + 180
        while not any("hubcourse is running" in line for line in output):
            assert run.poll() is None, "make run stopped:\n" + "".join(output[-40:])
            assert time.monotonic() < deadline, "make run did not start:\n" + "".join(output[-40:])
            time.sleep(0.5)

        # A second shell: no credentials of its own, only the VAR_DIR make run uses.
        doctor = subprocess.run(
            [sys.executable, "manage.py", "hub_doctor"],
            cwd=ROOT,
            env={name: value for name, value in env.items() if "PORT" not in name},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert len(_processes_with(marker)) >= 4  # sandbox, web, worker, beat (and the pool)

        run.send_signal(signal.SIGTERM)
        while not any("Stopping" in line for line in output) and run.poll() is None:
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)  # Ctrl-C while it stops
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, "".join(output[-40:])
        left_behind = _processes_with(marker)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for pid in _processes_with(marker):  # never leave them to the next test, pass or fail
            os.kill(pid, signal.SIGKILL)

    assert not any("Traceback" in line for line in output), "".join(output)
    assert _port_is_free(web_port) and _port_is_free(sandbox_port)
    assert left_behind == []
