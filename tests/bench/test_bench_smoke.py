"""Each benchmark runs end to end at a tiny size and produces its figures.

Runs ``python -m bench NAME --quick --embedded`` in a subprocess (the benchmarks set up their
own Django, sandbox, workers and web server, on the embedded default so no shared database
is touched). Only that figures come out is asserted: never a time, never a target met.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

# The figure every benchmark must print with a value (not n/a).
KEY_FIGURES = {
    "onboarding": ["wall time", "Docker Hub calls per student", "naive: wall time"],
    "freshness": ["webhooks on: p95 lag", "webhooks off: status reads per hour"],
    "board": ["board: p95", "student page: requests per second"],
    "bulk_add": ["wall time, paste to done", "invite requests"],
    "lab_session": [
        "with the app: p95 lag",
        "without the app: p95 lag",
        "github-actions: p95 lag",
        "github-actions: GitHub calls",
    ],
    "recovery": ["killed / undisturbed wall time", "killed: duplicates on Docker Hub"],
    "move": ["wall time, move started to all moved", "student-moments with no working build"],
    "lab_load": [
        "status page: p95",
        "board: p95",
        "status page: generator lateness p95",
        "board live part, unchanged (304): server CPU per request",
    ],
    "term_start": [
        "wall time / floor",
        "fairness: last course's finish / first course's",
        "duplicates on Docker Hub",
    ],
    "signin": ["sign-in: p50", "sign-in: p95"],
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(KEY_FIGURES))
def test_the_benchmark_runs_at_a_tiny_size_and_writes_its_figures(
    name: str, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "HUBCOURSE_ENV", "VAR_DIR")
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            name,
            "--quick",
            "--embedded",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[{name}]" in done.stdout
    (result,) = json.loads((tmp_path / "latest.json").read_text())["results"]
    assert result["name"] == name
    assert result["error"] == ""
    figures = {figure["label"]: figure for figure in result["figures"]}
    for label in KEY_FIGURES[name]:
        assert figures[label]["value"] is not None, label
    # Every figure with a target says whether it was met.
    assert all(f["met"] is not None for f in result["figures"] if f["target"])
