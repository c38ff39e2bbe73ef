"""The image's files (Dockerfile COPY lines + .dockerignore), as `make rehearse` reads them.

No Docker engine here: these check the same file set the rehearsal assembles and installs.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _rehearse() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hubcourse_rehearse", ROOT / "scripts" / "rehearse.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


rehearse = _rehearse()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()


def test_the_image_holds_every_app_and_no_tests_bench_or_sandbox():
    files = rehearse.image_files(ROOT)

    assert rehearse.check_file_set(files, settings.INSTALLED_APPS, ROOT) == []
    tops = {path.split("/")[0] for path in files}
    local_apps = {app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()}
    assert local_apps <= tops
    assert not tops & {"tests", "bench", "sandbox", "scripts", ".venv", "var", ".git", ".env"}
    assert "requirements/runtime.txt" in files and "requirements/dev.txt" not in files
    assert not [path for path in files if "__pycache__" in path or path.endswith(".pyc")]
    # No hidden file or folder: .env, .git, tool caches (.hypothesis once slipped in).
    assert not [path for path in files if any(p.startswith(".") for p in path.split("/"))]


def test_hidden_files_and_local_state_in_the_image_are_reported(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n")
    for name in ("manage.py", ".env", ".hypothesis/examples/x", "accounts/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")

    files = rehearse.image_files(tmp_path, dockerignore="")
    problems = rehearse.check_file_set(files, ["accounts"], tmp_path)

    assert "the image would contain .env: .dockerignore must leave it out" in problems
    assert any(p.startswith("the image would contain .hypothesis/") for p in problems)


def test_an_app_left_out_of_the_image_is_named():
    files = rehearse.image_files(ROOT, dockerignore=DOCKERIGNORE + "\nonboarding\n")

    problems = rehearse.check_file_set(files, settings.INSTALLED_APPS, ROOT)

    assert problems[0].startswith("the image leaves out the app 'onboarding' (in INSTALLED_APPS)")
    # And what imports it (the pages, above the engine) says so too.
    assert any(p.endswith("imports onboarding, which the image leaves out") for p in problems)


def test_a_copy_list_that_names_apps_one_by_one_misses_the_ones_it_forgets():
    # The Dockerfile of before: a COPY line per app, four apps short.
    dockerfile = (
        "FROM python:3.11-slim\nWORKDIR /app\n"
        + "".join(
            f"COPY {name} {name}\n"
            for name in ("hubcourse", "accounts", "repositories", "builds", "templates", "static")
        )
        + "COPY manage.py ./\nCOPY requirements/runtime.txt requirements/\n"
    )

    problems = rehearse.check_file_set(
        rehearse.image_files(ROOT, dockerfile=dockerfile), settings.INSTALLED_APPS, ROOT
    )

    missing = sorted(
        p.split("'")[1] for p in problems if p.startswith("the image leaves out the app")
    )
    assert missing == ["api", "dashboard", "onboarding", "organisation", "student"]


def test_sandbox_and_test_files_in_the_image_are_reported():
    without = [line for line in DOCKERIGNORE.splitlines() if line not in ("tests", "sandbox")]
    files = rehearse.image_files(ROOT, dockerignore="\n".join(without))

    problems = rehearse.check_file_set(files, settings.INSTALLED_APPS, ROOT)

    assert any(p.startswith("the image would contain sandbox/") for p in problems)
    assert any(p.startswith("the image would contain tests/") for p in problems)


def test_no_product_module_imports_the_sandbox_tests_or_bench():
    files = rehearse.image_files(ROOT)
    offenders = [
        (path, module)
        for path, origin in files.items()
        if path.endswith(".py")
        for module in rehearse._imported_modules(origin.read_text())
        if module in {"sandbox", "tests", "bench", "scripts", "flask", "yaml"}
    ]

    assert offenders == []


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("tests", "tests/core/test_x.py", True),
        ("tests", "accounts/tests/test_x.py", False),  # relative to the root, as Docker reads it
        ("**/__pycache__", "accounts/__pycache__/models.cpython-311.pyc", True),
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("docs\n!docs/keep.md", "docs/keep.md", False),
        ("docs\n!docs/keep.md", "docs/other.md", True),
        ("/var", "var/db.sqlite3", True),
        ("requirements/dev.txt", "requirements/runtime.txt", False),
    ],
)
def test_dockerignore_patterns_match_as_docker_reads_them(patterns, path, excluded):
    assert rehearse.DockerIgnore.parse(patterns).excludes(path) is excluded


def test_the_runtime_dependencies_hold_no_sandbox_or_test_library():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    locked = (ROOT / "requirements" / "runtime.txt").read_text().lower()

    for library in ("flask", "werkzeug", "pytest", "playwright"):
        assert library not in runtime
        assert f"\n{library}==" not in locked
    assert "flask" in " ".join(project["optional-dependencies"]["sandbox"]).lower()
    # Every line of the lock carries its hashes.
    assert "--hash=sha256:" in locked
