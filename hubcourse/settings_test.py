"""Settings for the test suite: the normal settings in ``test`` mode.

The sandbox that stands in for Docker Hub and GitHub listens on a port chosen here, before
Django starts, because django-allauth reads GITHUB_URL once at import time.
"""

from __future__ import annotations

import os
import socket
import tempfile
from urllib.parse import urlsplit, urlunsplit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


os.environ.setdefault("HUBCOURSE_ENV", "test")
# Under pytest-xdist every worker process is a test run of its own: its own sandbox port and
# scratch folder (not the ones the controlling process chose and passed down), its own test
# database (pytest-django adds the worker's name), its own cache keys and broker queues below.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER and os.environ.get("HUBCOURSE_TEST_PROCESS") != XDIST_WORKER:
    # Once per worker: a process a test starts (a Celery worker) inherits the worker's choice.
    os.environ["HUBCOURSE_TEST_PROCESS"] = XDIST_WORKER
    os.environ["TEST_SANDBOX_PORT"] = str(_free_port())
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix=f"hubcourse-test-{XDIST_WORKER}-")
os.environ.setdefault("TEST_SANDBOX_PORT", str(_free_port()))
os.environ["SANDBOX_URL"] = f"http://127.0.0.1:{os.environ['TEST_SANDBOX_PORT']}"
for _name in ("DOCKERHUB_API_URL", "DOCKERHUB_WEB_URL", "GITHUB_URL", "GITHUB_API_URL"):
    os.environ.pop(_name, None)  # always the sandbox in tests, whatever the shell says
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Webhooks the sandbox fires at hubcourse go to the discard port unless a test serves them
# (a test with a live server sets SITE_URL to it), never to a `make run` on port 8000.
os.environ["SITE_URL"] = "http://127.0.0.1:9"
# Each test process gets its own scratch folder for the embedded broker, cache and governor.
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="hubcourse-test-"))

from hubcourse.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

if XDIST_WORKER:
    # One Redis is shared by the workers: each keeps to its own keys, and to its own database
    # for the cache, since a test's cache.clear() empties a whole database: another worker's
    # throttling counters with it, and the governor's or the broker's keys if it shared theirs.
    _index = int(XDIST_WORKER.removeprefix("gw") or 0)

    def _redis_db(url: str) -> int | None:
        if not url.startswith(("redis://", "rediss://")):
            return None
        return int(urlsplit(url).path.strip("/") or 0)

    _taken = {_redis_db(RATE_LIMIT_REDIS_URL), _redis_db(CELERY_BROKER_URL)}  # noqa: F405
    for _cache in CACHES.values():  # noqa: F405
        _cache["KEY_PREFIX"] = f"test-{XDIST_WORKER}"
        _location: str = str(_cache.get("LOCATION", ""))
        _db = _redis_db(_location)
        if _db is not None:
            _free = [(_db + 1 + step) % 16 for step in range(16)]
            _free = [db for db in _free if db not in _taken]
            _parts = urlsplit(_location)
            _cache["LOCATION"] = urlunsplit(_parts._replace(path=f"/{_free[_index % len(_free)]}"))
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):  # noqa: F405
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
            "global_keyprefix": f"test-{XDIST_WORKER}:",
        }
