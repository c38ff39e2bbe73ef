"""The floors of the layout hold: the import contracts pass, and imports live at the top of a
module except where Django demands otherwise (app loading), each with a comment saying so."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "hubcourse",
    "integrations",
    "accounts",
    "repositories",
    "builds",
    "onboarding",
    "dashboard",
    "student",
    "organisation",
    "api",
)


def _product_files() -> list[Path]:
    files = [ROOT / "manage.py"]
    for package in PRODUCT:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return files


def _function_local_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, function, the line above) of every import inside a function of ``path``."""
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append((inner.lineno, node.name, lines[inner.lineno - 2].strip()))
    return found


def test_imports_inside_functions_are_only_where_django_demands_them_and_say_so() -> None:
    allowed = {"ready", "main"}  # AppConfig.ready (app loading) and manage.py's main
    offenders = []
    for path in _product_files():
        for line, function, above in _function_local_imports(path):
            where = f"{path.relative_to(ROOT)}:{line} in {function}()"
            if function not in allowed:
                offenders.append(f"{where}: import at the top of the module instead")
            elif not (above.startswith("#") or above.startswith(("from ", "import "))):
                offenders.append(f"{where}: say in a comment why the import is here")
    assert offenders == []


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_every_task_a_service_queues_by_name_is_registered_in_a_fresh_process() -> None:
    # Services name the tasks they queue; a web process or a management command must have
    # registered them all at app loading, not only a worker (or a test that imported them).
    probe = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "from accounts import bulk_invites, membership\n"
        "from builds import notifications, rebuild, services\n"
        "from onboarding import courses, engine, offboarding\n"
        "from onboarding.steps import PIPELINE, STEPS\n"
        "names = [bulk_invites.BULK_INVITE_TASK, membership.SYNC_TASK,\n"
        "    membership.INVITE_ACTION_TASK, notifications.SEND_EMAIL_TASK, rebuild.REBUILD_TASK,\n"
        "    services.REFRESH_BUILDS_TASK, courses.CONNECTION_CHECK_TASK,\n"
        "    courses.ROSTER_CHECK_TASK, courses.INVITES_RESEND_TASK, engine.ENSURE_TEAMS_TASK,\n"
        "    engine.INVITE_TASK, engine.RECONCILE_COURSE_TASK, engine.PIPELINE_DONE_TASK,\n"
        "    offboarding.OFFBOARDING_TASK, *(STEPS[name].task_name for name in PIPELINE)]\n"
        "print(sorted(n for n in names if n not in current_app.tasks))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hubcourse.settings_test"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
