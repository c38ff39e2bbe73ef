"""docker-compose.yml cannot run here (no Docker engine), so check it against the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "hubcourse" / "settings.py").read_text()
READ_BY_SETTINGS = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', SETTINGS_SOURCE))
# Read by the images and services themselves, not by hubcourse's settings.
NOT_OURS = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}


def test_it_has_the_production_services_with_health_checks():
    services = COMPOSE["services"]
    assert {"db", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    for name in ("db", "redis", "web", "worker"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_data_lives_in_named_volumes():
    volumes = set(COMPOSE["volumes"])
    assert {"pgdata", "redisdata", "beatdata"} <= volumes
    assert "pgdata:/var/lib/postgresql/data" in COMPOSE["services"]["db"]["volumes"]


def test_the_app_services_run_the_right_commands():
    services = COMPOSE["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "hubcourse.wsgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "hubcourse", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "hubcourse", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_variable_given_to_the_app_is_a_setting_the_code_reads():
    environment = COMPOSE["x-app"]["environment"]
    unknown = set(environment) - READ_BY_SETTINGS - NOT_OURS
    assert not unknown, f"compose sets variables the settings never read: {sorted(unknown)}"
    for required in (
        "SECRET_KEY",
        "FERNET_KEYS",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
    ):
        assert required in environment
    assert environment["HUBCOURSE_ENV"] == "production"
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379")


def test_every_app_service_shares_the_same_environment():
    services = COMPOSE["services"]
    expected = COMPOSE["x-app"]["environment"]
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["environment"] == expected


def test_the_dockerfile_serves_the_same_wsgi_application():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "hubcourse.wsgi:application" in dockerfile
    assert "HUBCOURSE_ENV=production" in dockerfile


def test_the_image_installs_from_the_lock_runs_as_a_user_and_checks_its_health():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "RUN pip install --require-hashes -r requirements/runtime.txt" in lines
    assert "COPY . ." in lines  # the whole project; .dockerignore says what stays out
    user = next(line for line in lines if line.startswith("USER "))
    assert user.split()[1] not in ("root", "0")
    # collectstatic runs before the image drops to its user, HEALTHCHECK asks /healthz.
    assert lines.index(user) > next(i for i, line in enumerate(lines) if "collectstatic" in line)
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert '"hubcourse.healthcheck"' in next(
        line for line in lines if "CMD [" in line and "healthcheck" in line
    )


def test_the_health_check_asks_as_the_public_host(monkeypatch):
    from hubcourse.healthcheck import public_host

    monkeypatch.setenv("ALLOWED_HOSTS", ".course.example.edu,other.example.edu")
    assert public_host() == "course.example.edu"
    monkeypatch.setenv("ALLOWED_HOSTS", "")
    assert public_host() == "localhost"
    assert COMPOSE["services"]["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "hubcourse.healthcheck",
    ]
    assert COMPOSE["services"]["beat"]["healthcheck"] == {"disable": True}
