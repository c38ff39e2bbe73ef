# hubcourse: `make run` starts everything on the embedded default; `make test` checks it all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Tests run in parallel, one process per core (each with its own sandbox, scratch folder,
# database and Redis prefix: hubcourse/settings_test.py); PYTEST_ARGS="-n 0" runs them in one.
PYTEST_ARGS ?= -n auto
# The lock files are resolved for every platform from the oldest Python we support.
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: run test lint typecheck pytest bench install lock rehearse clean

# Everything pinned with hashes from requirements/dev.txt (the lock); pyproject.toml says
# which packages, the lock which versions.
$(STAMP): requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $(STAMP)

install: $(STAMP)

# After editing the dependencies in pyproject.toml; `make lock LOCK_ARGS=--upgrade` moves
# everything to the newest allowed versions, LOCK_ARGS="--upgrade-package kombu" one package.
lock: $(STAMP)
	$(LOCK) --extra sentry -o requirements/runtime.txt
	$(LOCK) --extra dev -c requirements/runtime.txt -o requirements/dev.txt

run: $(STAMP)
	$(BIN)/python scripts/run.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	@# GitHub's OpenAPI description (npm) for the sandbox's fidelity test. Outside CI a
	@# missing npm skips that test; with CI=true it fails the run.
	@if [ "$$CI" = "true" ]; then bash scripts/fetch_github_openapi.sh; \
	else bash scripts/fetch_github_openapi.sh || echo "note: GitHub's OpenAPI description not fetched (needs npm); its fidelity test will be skipped"; fi
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=hubcourse.settings_test
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The production path, end to end: the image's files, installed from the lock, on
# PostgreSQL and Redis, against the sandbox (scripts/rehearse.py says what it checks).
rehearse: $(STAMP)
	$(BIN)/python scripts/rehearse.py

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache test-artifacts
