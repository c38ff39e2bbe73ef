"""The floors of the layout hold: the import contracts pass, and imports live at the top of a
module except where Django demands otherwise (app loading), each with a comment saying so."""

from __future__ import annotations

import ast
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
