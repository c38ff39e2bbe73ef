"""`make run` reads what the sandbox seeded, also when the sandbox logs first."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

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
