"""The world: persistence, reset, scheduler, events, webhook delivery faults, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from sandbox import github_state
from sandbox.config import SandboxConfig
from sandbox.dockerhub import push_tag
from sandbox.testing import start_sandbox
from sandbox.world import World
from tests.sandbox.conftest import Hub
from tests.sandbox.test_autobuild import history, linked_repo

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_state_survives_a_restart_with_a_data_file(tmp_path: Path) -> None:
    data_file = str(tmp_path / "sandbox.json")
    first = start_sandbox(SandboxConfig(data_file=data_file), seed="empty")
    seeded = first.seeded["dockerhub"]
    token = requests.post(
        f"{first.url}/v2/auth/token",
        json={"identifier": seeded["org"], "secret": seeded["org_token"]},
        timeout=5,
    ).json()["access_token"]
    created = requests.post(
        f"{first.url}/v2/namespaces/{seeded['org']}/repositories",
        json={"name": "kept", "namespace": seeded["org"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert created.status_code == 201
    first.stop()
    assert os.path.exists(data_file)

    second = start_sandbox(SandboxConfig(data_file=data_file), seed="empty")
    try:
        # Same signing secret and same state: the old token still works and the repo is there.
        got = requests.get(
            f"{second.url}/v2/namespaces/{seeded['org']}/repositories/kept",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert got.status_code == 200
        assert got.json()["permissions"]["admin"] is True
    finally:
        second.stop()


def test_an_unfinished_build_resumes_after_a_restart(tmp_path: Path) -> None:
    data_file = str(tmp_path / "sandbox.json")
    first = start_sandbox(SandboxConfig(data_file=data_file, build_delay=60), seed="empty")
    hub = Hub(url=first.url, world=first.world, seeded=first.seeded)
    _, full_name = linked_repo(hub, "resumed")
    github_state.push(first.world, full_name, "main", {"app.py": "x\n"}, "change", "student")
    assert [b["state"] for b in history(hub, "resumed")] == ["Pending"]
    first.stop()

    second = start_sandbox(SandboxConfig(data_file=data_file, build_delay=0.01))
    try:
        assert second.world.wait_idle(10)
        hub = Hub(url=second.url, world=second.world, seeded=second.seeded)
        assert [b["state"] for b in history(hub, "resumed")] == ["Success"]
    finally:
        second.stop()


def test_reset_through_the_control_api_forgets_everything(hub: Hub) -> None:
    hub.create_user("forgotten")
    response = requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "none"}, timeout=5)
    assert response.status_code == 200
    assert requests.get(f"{hub.url}/v2/users/forgotten", timeout=5).status_code == 404
    assert hub.world.dockerhub["orgs"] == {}
    assert (
        requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "huge"}, timeout=5).status_code
        == 400
    )


def test_the_demo_seed_makes_a_class_with_two_broken_repositories(hub: Hub) -> None:
    seeded = requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "demo"}, timeout=5).json()
    students = seeded["students"]
    assert len(students) == 12
    assert seeded["dockerhub"]["org_display_name"] == "Revelare"
    assert sorted(s["problem"] for s in students if s["problem"]) == [
        "missing-dockerfile",
        "unknown-base-image",
    ]
    for student in students:
        assert (
            requests.get(f"{hub.url}/v2/users/{student['docker_id']}", timeout=5).status_code == 200
        )
    remembered = requests.get(f"{hub.url}/_sandbox/seed", timeout=5).json()
    assert remembered == {key: value for key, value in seeded.items() if key != "seed"}


def test_scheduled_work_runs_in_order_and_reset_drops_it() -> None:
    world = World(SandboxConfig())
    try:
        ran: list[str] = []
        world.schedule(0.05, ran.append, "second")
        world.schedule(0.0, ran.append, "first")
        assert world.wait_idle(5)
        assert ran == ["first", "second"]
        world.schedule(0.2, ran.append, "dropped")
        world.reset(None)
        assert world.wait_idle(5)
        assert ran == ["first", "second"]
    finally:
        world.close()


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    world = World(SandboxConfig())
    try:
        got: list[dict[str, Any]] = []

        def broken(_: World, **payload: Any) -> None:
            raise RuntimeError("boom")

        world.subscribe("thing", broken)
        world.subscribe("thing", lambda _w, **payload: got.append(payload))
        world.emit("thing", a=1)
        assert got == [{"a": 1}]
        assert world.stats["subscriber_errors"] == 1
    finally:
        world.close()


def test_webhooks_are_dropped_at_the_configured_rate(hub: Hub) -> None:
    hub.create_repo("dropped", hub.org_token())
    with socket.socket() as sock:  # a port nobody listens on: delivery would fail, never hang
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    requests.post(
        f"{hub.url}/v2/repositories/{hub.org}/dropped/webhook_pipeline",
        json={"name": "d", "webhooks": [{"name": "d", "hook_url": dead_url}]},
        headers=hub.org_token(),
        timeout=5,
    )
    requests.patch(f"{hub.url}/_sandbox/config", json={"drop_webhook_rate": 1.0}, timeout=5)
    push_tag(hub.world, hub.org, "dropped", "latest", "someone")
    requests.patch(f"{hub.url}/_sandbox/config", json={"drop_webhook_rate": 0.0}, timeout=5)
    push_tag(hub.world, hub.org, "dropped", "latest", "someone")
    assert hub.world.wait_idle(10)
    counts = hub.world.stats["webhooks"]["dockerhub"]
    assert counts["dropped"] == 1 and counts["failed"] == 1
    deliveries = requests.get(f"{hub.url}/_sandbox/deliveries", timeout=5).json()["deliveries"]
    assert [d["status"] for d in deliveries] == ["failed", "dropped"]


def test_concurrent_requests_keep_the_state_consistent(hub: Hub) -> None:
    headers = hub.org_token()
    statuses: list[int] = []

    def create(index: int) -> None:
        statuses.append(hub.create_repo(f"race-{index % 5}", headers).status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(statuses) == [201] * 5 + [400] * 15
    assert len(hub.world.dockerhub["repos"]) == 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_cli_serves_seeds_and_flushes_its_data_file_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    data_file = tmp_path / "cli.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "demo",
            "--build-delay",
            "0.1",
            "--data-file",
            str(data_file),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["sandbox"] == f"http://127.0.0.1:{port}"
        assert first["dockerhub"]["org"] == "revelare" and len(first["students"]) == 12
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if (
                    requests.get(
                        f"http://127.0.0.1:{port}/v2/users/adalovelace", timeout=1
                    ).status_code
                    == 200
                ):
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            raise AssertionError("the sandbox did not answer")
        page = requests.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=5)
        assert page.status_code == 200 and "Revelare" in page.text
    finally:
        process.terminate()
        assert process.wait(10) == 0
    saved = json.loads(data_file.read_text())
    assert "adalovelace" in saved["dockerhub"]["users"]
