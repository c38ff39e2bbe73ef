"""`make run` reads what the sandbox seeded, also when the sandbox logs first, and seeds the
unkind demo world unless told otherwise."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hubcourse_run", ROOT / "scripts" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEED = {"sandbox": "http://127.0.0.1:8765", "dockerhub": {"org": "revelare"}}


def test_it_reads_the_seed_of_a_fresh_sandbox() -> None:
    seeded, before = _run_script().read_seed(io.StringIO(json.dumps(SEED) + "\nlater\n"))

    assert (seeded, before) == (SEED, [])


def test_it_reads_the_seed_after_the_sandbox_says_it_loaded_its_state() -> None:
    stream = io.StringIO(
        "2026-11-28 05:26:05,640 sandbox INFO state loaded from var/sandbox.json\n"
        + json.dumps(SEED)
        + "\n"
    )

    seeded, before = _run_script().read_seed(stream)

    assert seeded == SEED
    assert before == ["2026-11-28 05:26:05,640 sandbox INFO state loaded from var/sandbox.json\n"]


def test_a_sandbox_that_stops_without_a_seed_is_reported_with_what_it_said() -> None:
    stream = io.StringIO("Traceback (most recent call last):\nOSError: address in use\n")

    seeded, before = _run_script().read_seed(stream)

    assert seeded is None
    assert before[-1] == "OSError: address in use\n"


def test_the_demo_world_is_the_unkind_one_unless_the_kind_one_is_asked_for() -> None:
    run = _run_script()

    assert run.sandbox_seed({}) == "demo-unkind"
    assert run.sandbox_seed({"SANDBOX_DEMO_WORLD": "unkind"}) == "demo-unkind"
    assert run.sandbox_seed({"SANDBOX_DEMO_WORLD": "Kind"}) == "demo"


def test_an_unknown_demo_world_stops_make_run_with_the_choices() -> None:
    with pytest.raises(SystemExit, match="say unkind \\(the default\\) or kind"):
        _run_script().sandbox_seed({"SANDBOX_DEMO_WORLD": "friendly"})


def test_the_default_seed_is_the_world_where_students_own_their_repositories(
    sandbox: Any,
) -> None:
    run = _run_script()
    seeded = sandbox.reset(run.sandbox_seed({}))
    students = seeded["students"]

    assert run.seeded_world(seeded) == "unkind"
    # Students own their repositories, some private; only some installed the course's app.
    assert all(s["github_repo"].startswith(f"{s['github_login']}/") for s in students)
    assert any(s["private"] for s in students) and not all(s["private"] for s in students)
    installed = [s for s in students if s["app_installation_id"]]
    assert installed and len(installed) < len(students)
    # The course's token can neither read a private one nor hook any.
    token = seeded["github"]["instructor"]["token"]
    api = f"{sandbox.url}/api/v3"
    headers = {"Authorization": f"Bearer {token}"}
    private = next(s for s in students if s["private"])
    public = next(s for s in students if not s["private"])
    read = requests.get(f"{api}/repos/{private['github_repo']}", headers=headers, timeout=10)
    hook = requests.post(
        f"{api}/repos/{public['github_repo']}/hooks",
        headers=headers,
        json={"config": {"url": "https://hubcourse.example/hooks/github"}},
        timeout=10,
    )
    assert (read.status_code, hook.status_code) == (404, 404)
    assert run.seeded_world(sandbox.reset("demo")) == "kind"
