"""Which worker holds a lease, and whether that worker is still alive.

A lease taken by a worker names its holder: ``host/pid/token`` of the worker's main process
(the token tells a restarted worker from the one that had the same pid before it). A holder
is dead when

- it ran on this host and its process is gone (a SIGKILLed worker: known at once), or it had
  the pid this worker has now (a restarted container reuses pids), or
- its "alive" key has run out: each worker renews it every ``ALIVE_SECONDS / 3`` seconds from
  a thread of its main process, so a worker on another host counts as dead ``ALIVE_SECONDS``
  after it stopped.

A lease whose holder died dies with it (the owners of leases ask ``holder_alive``). The
messages a killed worker had taken stay unacknowledged in Redis until the broker's visibility
timeout (hours), so the work must be found again from the database: a worker that starts,
and beat every ``SWEEP_SECONDS``, look for workers that died since they were last seen and
send ``workers_died``; the onboarding engine answers with a reconcile of the active courses.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_ready, worker_shutdown
from django.core.cache import cache
from django.dispatch import Signal

from hubcourse.tasks import PolicyTask

logger = logging.getLogger(__name__)

# A worker on another host is dead this long after its last sign of life.
ALIVE_SECONDS = 30
# How often beat looks for dead workers (CELERY_BEAT_SCHEDULE).
SWEEP_SECONDS = 20
SWEEP_TASK = "hubcourse.sweep_dead_workers"
_KNOWN_KEY = "hubcourse:workers"
# Sent with ``holders=[...]`` when workers are found dead: whatever they held is to be found
# again from the database (receivers queue that work; they must be quick).
workers_died = Signal()

# This process's worker identity; empty outside a Celery worker (web, commands, eager tests).
# Set in the worker's main process before the pool forks, so its children share it.
_identity: dict[str, str] = {"holder": ""}


def holder() -> str:
    """The holder name of this worker ("" when this process is no worker)."""
    return _identity["holder"]


def _alive_key(name: str) -> str:
    return f"hubcourse:worker-alive:{name}"


def _parse(name: str) -> tuple[str, int, str] | None:
    parts = name.rsplit("/", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    host, pid, token = parts[0], int(parts[1]), parts[2]
    return host, pid, token


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process: there
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # "pid (name) state ...": a zombie has exited and waits for its parent.
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def holder_alive(name: str) -> bool:
    """False when the worker named ``name`` is known dead; True for "" (no holder) and for a
    name this cannot judge."""
    if not name:
        return True
    parsed = _parse(name)
    if parsed is None:
        return True
    host, pid, token = parsed
    if host == socket.gethostname():
        if _process_gone(pid):
            return False
        mine = _parse(holder())
        if mine is not None and mine[1] == pid and mine[2] != token:
            return False  # this worker now has that pid: the one that had it is gone
    return cache.get(_alive_key(name)) is not None


def _known() -> list[str]:
    value = cache.get(_KNOWN_KEY)
    return [str(name) for name in value] if isinstance(value, list) else []


def sweep() -> list[str]:
    """Forget the workers that died since they were last seen and say so; their names."""
    known = _known()
    dead = [name for name in known if name != holder() and not holder_alive(name)]
    if dead:
        # Read-modify-write: two sweeps at once may both report the same dead worker, which
        # only costs one more reconcile.
        cache.set(_KNOWN_KEY, [name for name in _known() if name not in dead], timeout=None)
        logger.warning("worker(s) %s died; their leases die with them", ", ".join(dead))
        workers_died.send(sender=sweep, holders=dead)
    return dead


def _register(name: str) -> None:
    cache.set(_alive_key(name), 1, timeout=ALIVE_SECONDS)
    known = _known()
    if name not in known:
        cache.set(_KNOWN_KEY, [*known, name], timeout=None)


def _keep_alive(name: str, stop: threading.Event) -> None:
    while not stop.wait(ALIVE_SECONDS / 3):
        try:
            cache.set(_alive_key(name), 1, timeout=ALIVE_SECONDS)
        except Exception:  # a cache that refuses for a moment: try again next time
            logger.warning("could not renew this worker's alive key", exc_info=True)


_stop = threading.Event()


@worker_init.connect
def _worker_init(sender: Any = None, **kwargs: Any) -> None:
    # The main process, before the pool forks its children.
    token = secrets.token_hex(4)
    _identity["holder"] = f"{socket.gethostname()}/{os.getpid()}/{token}"


@worker_ready.connect
def _worker_ready(sender: Any = None, **kwargs: Any) -> None:
    name = holder()
    if not name:
        return
    _register(name)
    threading.Thread(
        target=_keep_alive, args=(name, _stop), name="hubcourse-alive", daemon=True
    ).start()
    # A worker restarted after a crash finds its predecessor's work at once, not at the next
    # periodic reconcile.
    sweep()


@worker_shutdown.connect
def _worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    # A warm shutdown: the broker puts back what this worker had taken; its leases die now.
    _stop.set()
    name = holder()
    if name:
        cache.delete(_alive_key(name))


@shared_task(
    name=SWEEP_TASK,
    base=PolicyTask,
    acks_late=False,
    soft_time_limit=20,
    time_limit=30,
    ignore_result=True,
)
def sweep_dead_workers() -> None:
    """Beat: notice a worker that died on another host (its alive key ran out)."""
    sweep()
