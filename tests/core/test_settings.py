"""Settings come from the environment; a bad value fails at start naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hubcourse import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k7Qe1vZ0-pR3sT9uWx2yA4bC6dE8fG0hJ2kL4mN6pQ8rS0tU2vW4xY6z"
FERNET = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="  # 32 bytes, base64


def _clean_environment() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "HUBCOURSE"))}
    # The test settings export the sandbox's address and a scratch folder; drop them too.
    for name in (
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "SANDBOX_URL",
        "TEST_SANDBOX_PORT",
        "VAR_DIR",
        "CELERY_TASK_ALWAYS_EAGER",
    ):
        clean.pop(name, None)
    return clean


def _settings_process(extra: dict[str, str], code: str = "") -> subprocess.CompletedProcess[str]:
    """Import the real settings module in a fresh interpreter with the given environment."""
    environment = {**_clean_environment(), "DJANGO_SETTINGS_MODULE": "hubcourse.settings", **extra}
    program = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _production(**overrides: str) -> dict[str, str]:
    values = {
        "HUBCOURSE_ENV": "production",
        "SECRET_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "hubcourse.example.edu",
        "DATABASE_URL": "postgres://hub:pw@db:5432/hubcourse",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "REDIS_URL": "redis://redis:6379/1",
        "FERNET_KEYS": FERNET,
        "DOCKERHUB_TOKEN": "dckr_oat_example",
        "GITHUB_CLIENT_ID": "id",
        "GITHUB_CLIENT_SECRET": "secret",
    }
    values.update(overrides)
    return values


def test_it_reads_booleans_and_names_the_variable_on_a_bad_one(monkeypatch):
    monkeypatch.setenv("HC_FLAG", "yes")
    assert env.env_bool("HC_FLAG", default=False) is True
    monkeypatch.setenv("HC_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="HC_FLAG must be true or false"):
        env.env_bool("HC_FLAG", default=False)


def test_it_rejects_a_non_number_and_a_number_below_the_minimum(monkeypatch):
    monkeypatch.setenv("HC_TIMEOUT", "soon")
    with pytest.raises(ImproperlyConfigured, match="HC_TIMEOUT must be a number"):
        env.env_float("HC_TIMEOUT", 5.0)
    monkeypatch.setenv("HC_WORKERS", "0")
    with pytest.raises(ImproperlyConfigured, match="HC_WORKERS must be at least 1"):
        env.env_int("HC_WORKERS", 2, minimum=1)


def test_it_checks_urls_and_strips_the_trailing_slash(monkeypatch):
    monkeypatch.setenv("HC_URL", "https://hub.docker.com/")
    assert env.env_url("HC_URL", "") == "https://hub.docker.com"
    monkeypatch.setenv("HC_URL", "hub.docker.com")
    with pytest.raises(ImproperlyConfigured, match="HC_URL must be a URL"):
        env.env_url("HC_URL", "")


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("dckr_oat_from_file\n")
    monkeypatch.setenv("HC_TOKEN_FILE", str(secret))
    assert env.env_str("HC_TOKEN") == "dckr_oat_from_file"
    monkeypatch.setenv("HC_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="HC_TOKEN_FILE points at"):
        env.env_str("HC_TOKEN")


def test_it_lists_comma_separated_values(monkeypatch):
    monkeypatch.setenv("HC_HOSTS", " a.example.edu, ,b.example.edu ")
    assert env.env_list("HC_HOSTS", []) == ["a.example.edu", "b.example.edu"]


def test_it_defaults_to_the_embedded_setup_in_development(tmp_path):
    result = _settings_process(
        {"VAR_DIR": str(tmp_path)},
        "from django.conf import settings as s\n"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DOCKERHUB_API_URL, s.DEBUG)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "http://127.0.0.1:8765",
        "True",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required in production"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 characters"),
        ({"FERNET_KEYS": ""}, "FERNET_KEYS is required in production"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required in production"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "CELERY_BROKER_URL must be"),
        ({"HTTP_READ_TIMEOUT": "slow"}, "HTTP_READ_TIMEOUT must be a number"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"HUBCOURSE_ENV": "staging"}, "HUBCOURSE_ENV must be one of"),
    ],
)
def test_it_fails_at_start_naming_the_bad_variable(tmp_path, overrides, message):
    result = _settings_process(_production(VAR_DIR=str(tmp_path), **overrides))
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    environment = _production(VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**_clean_environment(), "DJANGO_SETTINGS_MODULE": "hubcourse.settings", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_wrong_fernet_key_is_refused_when_used(tmp_path):
    result = _settings_process(
        {"VAR_DIR": str(tmp_path), "FERNET_KEYS": "not-a-key"},
        "from hubcourse.secrets import encrypt\nencrypt('x')",
    )
    assert result.returncode != 0
    assert "FERNET_KEYS entry 1 is not a Fernet key" in result.stderr


def test_development_reads_what_make_run_wrote_and_production_never_does(tmp_path):
    (tmp_path / "dev.env").write_text("GITHUB_TOKEN=from-make-run\nDOCKERHUB_ORG=SandboxOrg\n")
    show = "from django.conf import settings as s; print(s.GITHUB_TOKEN, s.DOCKERHUB_ORG)"

    development = _settings_process({"VAR_DIR": str(tmp_path)}, show)
    production = _settings_process(_production(VAR_DIR=str(tmp_path)), show)
    # The environment wins over the file, as it does over .env.
    overridden = _settings_process({"VAR_DIR": str(tmp_path), "GITHUB_TOKEN": "mine"}, show)

    # The organisation is read as Docker Hub spells it (lowercase).
    assert development.stdout.split() == ["from-make-run", "sandboxorg"], development.stderr
    assert production.stdout.split() == ["revelare"], production.stderr
    assert overridden.stdout.split() == ["mine", "sandboxorg"], overridden.stderr


def test_production_serves_hashed_compressed_static_files_with_whitenoise(tmp_path):
    show = (
        "from django.conf import settings as s\n"
        "print(s.STORAGES['staticfiles']['BACKEND'])\n"
        "print(s.MIDDLEWARE[1])"
    )

    production = _settings_process(_production(VAR_DIR=str(tmp_path)), show)
    development = _settings_process({"VAR_DIR": str(tmp_path)}, show)

    assert production.stdout.split() == [
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ], production.stderr
    assert development.stdout.split()[0] == "django.contrib.staticfiles.storage.StaticFilesStorage"


def test_sentry_is_off_without_a_dsn_and_sends_no_local_variables_with_one(tmp_path):
    show = (
        "import sentry_sdk\nclient = sentry_sdk.get_client()\n"
        "print(client.is_active(), client.options['include_local_variables'], "
        "client.options['send_default_pii'])"
    )

    without = _settings_process(_production(VAR_DIR=str(tmp_path)), show)
    with_dsn = _settings_process(
        _production(VAR_DIR=str(tmp_path), SENTRY_DSN="https://key@127.0.0.1:9/1"), show
    )

    assert without.stdout.split()[0] == "False", without.stderr
    assert with_dsn.stdout.split() == ["True", "False", "False"], with_dsn.stderr
