# hubcourse: `make run` starts everything on the embedded default; `make test` checks it all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	@# GitHub's OpenAPI description (npm) for the fidelity tests: skipped without it, except
	@# under CI=true, where they fail (tests/fidelity/descriptions.py).
	@bash scripts/fetch_github_openapi.sh || echo "note: GitHub's OpenAPI description not fetched (needs npm); its fidelity tests will be skipped (and fail under CI=true)"
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=hubcourse.settings_test
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache test-artifacts
