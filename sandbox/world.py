"""The sandbox's whole state and the machinery around it.

One ``World`` holds the plain-data state of both simulated services (``world.dockerhub`` and
``world.github``, each shaped by its own module's ``empty_state()``), guarded by one re-entrant
lock. Around it: an in-process event bus, one scheduler thread for deferred work (build phases,
webhook deliveries), webhook delivery with fault injection, statistics, and persistence to a
JSON data file.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import heapq
import itertools
import json
import logging
import os
import random
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from sandbox.config import SandboxConfig

log = logging.getLogger(__name__)

STATE_VERSION = 1
# A save is written at most this long after the change that asked for it.
SAVE_DEBOUNCE_S = 0.2
WEBHOOK_TIMEOUT = (2.0, 5.0)
RECENT_DELIVERIES = 200
# The request journal: the last requests the simulated services answered (tests, debugging).
RECENT_REQUESTS = 5000

Subscriber = Callable[..., None]


def empty_stats() -> dict[str, Any]:
    return {
        # service -> "METHOD rule" -> status -> count
        "requests": {},
        # service -> count of 429 answers
        "rate_limited": {},
        "faults": {"errors": 0, "timeouts": 0},
        # service -> {"delivered", "failed", "dropped", "disabled"} -> count
        "webhooks": {},
        "objects_created": {},
        "subscriber_errors": 0,
    }


class World:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self.random = random.Random(self.config.random_seed)
        self.dockerhub: dict[str, Any] = {}
        self.github: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.stats: dict[str, Any] = empty_stats()
        # Rate-limit windows per credential (app.RateLimiter); not persisted, cleared on reset.
        self.rate_windows: dict[str, list[float]] = {}
        self.deliveries: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=RECENT_DELIVERIES
        )
        # Not persisted, cleared on reset; never holds a request's headers (credentials).
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_REQUESTS)
        self._request_seq = itertools.count(1)
        self._subscribers: dict[str, list[Subscriber]] = collections.defaultdict(list)
        # Bumped by reset() so work scheduled for the previous world never runs in the new one.
        self._generation = 0
        self._queue: list[tuple[float, int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(self.lock)
        self._running_tasks = 0
        self._closed = False
        self._save_pending = False
        self._file_lock = threading.Lock()
        # Deliveries run on their own small pool so a slow receiver never delays a build phase.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="sandbox-webhook"
        )
        self._inflight_deliveries = 0
        self._blank_state()
        self._thread = threading.Thread(
            target=self._run_scheduler, name="sandbox-scheduler", daemon=True
        )
        self._thread.start()

    # -- state ---------------------------------------------------------------------------

    def _blank_state(self) -> None:
        # Imported here: the service modules import this one for their type hints.
        from sandbox import dockerhub, github_state

        self.dockerhub = dockerhub.empty_state()
        self.github = github_state.empty_state()
        self.meta = {
            "version": STATE_VERSION,
            "jwt_secret": secrets.token_hex(32),
            "counters": {},
            "clock_offset": 0.0,
        }
        self.stats = empty_stats()

    def reset(self, seed: str | None = None) -> dict[str, Any]:
        """Forget everything, then seed ``"empty"`` (org + owner), ``"demo"`` or nothing.

        Returns what the seed created that a client needs (credentials), or ``{}``.
        """
        from sandbox import seed as seeds

        with self.lock:
            self._generation += 1
            self._queue.clear()
            self.deliveries.clear()
            self.requests.clear()
            self.rate_windows.clear()
            self._blank_state()
            result: dict[str, Any] = {}
            if seed == "demo":
                result = seeds.seed_demo(self)
            elif seed == "demo-unkind":
                result = seeds.seed_demo_unkind(self)
            elif seed == "empty":
                result = seeds.seed_empty(self)
            elif seed not in (None, "none"):
                raise ValueError(f"unknown seed {seed!r}")
            self.meta["seed_result"] = result
            self._cond.notify_all()
        self.save()
        return result

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_VERSION,
                "meta": self.meta,
                "dockerhub": self.dockerhub,
                "github": self.github,
                "stats": self.stats,
            }

    def load(self) -> bool:
        """Read the data file if there is one; return whether state was loaded."""
        path = self.config.data_file
        if not path or not os.path.exists(path):
            return False
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: unsupported sandbox state version {data.get('version')!r}")
        with self.lock:
            self._generation += 1
            self._queue.clear()
            self.meta = data["meta"]
            self.dockerhub = data["dockerhub"]
            self.github = data["github"]
            self.stats = data.get("stats") or empty_stats()
        self.emit("world.loaded")
        return True

    def save(self) -> None:
        """Ask for the state to be written soon (several changes in a burst make one write)."""
        if not self.config.data_file:
            return
        with self.lock:
            if self._save_pending or self._closed:
                return
            self._save_pending = True
            self._push(SAVE_DEBOUNCE_S, None, self.flush, ())

    def flush(self) -> None:
        """Write the state now, atomically (a crash mid-write never leaves half a file)."""
        path = self.config.data_file
        if not path:
            return
        with self.lock:
            self._save_pending = False
            text = json.dumps(self.snapshot(), separators=(",", ":"))
        with self._file_lock:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    # -- helpers -------------------------------------------------------------------------

    def now(self) -> float:
        """Unix time as the sandbox sees it (the control API can move it forward)."""
        return time.time() + float(self.meta.get("clock_offset", 0.0))

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward (expiry of tokens and invites without waiting).

        Rate-limit windows stay on real time (their reset headers are read against the
        client's clock) but the time passes for them too: they end ``seconds`` sooner.
        """
        with self.lock:
            self.meta["clock_offset"] = float(self.meta.get("clock_offset", 0.0)) + seconds
            for window in self.rate_windows.values():
                window[0] -= seconds
        self.emit("clock.advanced", seconds=seconds)
        self.save()

    @staticmethod
    def iso(ts: float) -> str:
        """RFC 3339 with microseconds and ``Z``, the way Docker Hub writes its timestamps."""
        return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def next_int(self, kind: str, start: int = 1) -> int:
        """A persistent sequence per kind, for the numeric ids the real services use."""
        with self.lock:
            counters = self.meta.setdefault("counters", {})
            value = int(counters.get(kind, start - 1)) + 1
            counters[kind] = value
            return value

    def count(self, kind: str, n: int = 1) -> None:
        with self.lock:
            created = self.stats["objects_created"]
            created[kind] = created.get(kind, 0) + n

    def record_request(self, service: str, method: str, rule: str, status: int) -> None:
        with self.lock:
            routes = self.stats["requests"].setdefault(service, {})
            statuses = routes.setdefault(f"{method} {rule}", {})
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    def journal_request(
        self, service: str, method: str, path: str, query: str, body: Any, status: int
    ) -> None:
        """Keep one answered request in the journal (the oldest falls out past the bound)."""
        with self.lock:
            self.requests.append(
                {
                    "seq": next(self._request_seq),
                    "service": service,
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": body,
                    "status": status,
                }
            )

    def record_rate_limited(self, service: str) -> None:
        with self.lock:
            limited = self.stats["rate_limited"]
            limited[service] = limited.get(service, 0) + 1

    def record_fault(self, kind: str) -> None:
        with self.lock:
            faults = self.stats["faults"]
            faults[kind] = faults.get(kind, 0) + 1

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``, from the world's own generator (seedable)."""
        if rate <= 0:
            return False
        with self.lock:
            return self.random.random() < rate

    # -- events --------------------------------------------------------------------------

    def subscribe(self, event: str, fn: Subscriber) -> None:
        with self.lock:
            if fn not in self._subscribers[event]:
                self._subscribers[event].append(fn)

    def emit(self, event: str, **payload: Any) -> None:
        """Call every subscriber in this thread; one failing subscriber never stops the others."""
        with self.lock:
            subscribers = list(self._subscribers.get(event, ()))
        for fn in subscribers:
            try:
                fn(self, **payload)
            except Exception:
                log.exception("sandbox subscriber %r failed on %s", fn, event)
                with self.lock:
                    self.stats["subscriber_errors"] += 1

    # -- scheduler -----------------------------------------------------------------------

    def schedule(self, delay_s: float, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the scheduler thread after ``delay_s`` seconds.

        Work scheduled before a ``reset()`` is dropped: it belongs to a world that is gone.
        """
        with self.lock:
            self._push(delay_s, self._generation, fn, args)

    def _push(
        self, delay_s: float, generation: int | None, fn: Callable[..., None], args: tuple[Any, ...]
    ) -> None:
        due = time.monotonic() + max(0.0, delay_s)
        # generation -1 marks housekeeping (saves) that survives resets.
        heapq.heappush(
            self._queue, (due, next(self._seq), -1 if generation is None else generation, fn, args)
        )
        self._cond.notify_all()

    def _run_scheduler(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, generation, fn, args = heapq.heappop(self._queue)
                if generation not in (-1, self._generation):
                    continue
                self._running_tasks += 1
            try:
                fn(*args)
            except Exception:
                log.exception("sandbox scheduled task %r failed", fn)
            finally:
                with self._cond:
                    self._running_tasks -= 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no scheduled work or delivery is left (or ``timeout``); True if idle.

        For tests and the control API: with a small build delay it lets a caller wait for a
        build to finish without guessing a sleep.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                pending = [item for item in self._queue if item[2] != -1]
                if not pending and self._running_tasks == 0 and self._inflight_deliveries == 0:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.config.data_file:
            self.flush()

    # -- webhooks ------------------------------------------------------------------------

    def deliver_webhook(self, url: str, body: bytes, headers: dict[str, str], service: str) -> str:
        """POST ``body`` to ``url`` soon, unless webhooks are off or this one is dropped.

        Returns the delivery id; ``world.deliveries`` keeps the recent ones with their outcome.
        """
        delivery: dict[str, Any] = {
            "id": self.new_id(),
            "service": service,
            "url": url,
            "event": headers.get("X-GitHub-Event", "push"),
            "created_at": self.iso(self.now()),
            "status": "scheduled",
            "response_status": None,
            "error": None,
        }
        with self.lock:
            self.deliveries.appendleft(delivery)
            if not self.config.webhooks_enabled:
                delivery["status"] = "disabled"
                self._count_webhook(service, "disabled")
                return str(delivery["id"])
            if self.chance(self.config.drop_webhook_rate):
                delivery["status"] = "dropped"
                self._count_webhook(service, "dropped")
                return str(delivery["id"])
            self._inflight_deliveries += 1
            self.schedule(0, self._submit_delivery, delivery, body, dict(headers))
        return str(delivery["id"])

    def _submit_delivery(
        self, delivery: dict[str, Any], body: bytes, headers: dict[str, str]
    ) -> None:
        try:
            self._pool.submit(self._post_delivery, delivery, body, headers)
        except RuntimeError:  # pool shut down: the world is closing
            with self._cond:
                self._inflight_deliveries -= 1
                self._cond.notify_all()

    def _post_delivery(
        self, delivery: dict[str, Any], body: bytes, headers: dict[str, str]
    ) -> None:
        outcome = "failed"
        try:
            response = requests.post(
                delivery["url"], data=body, headers=headers, timeout=WEBHOOK_TIMEOUT
            )
            delivery["response_status"] = response.status_code
            if 200 <= response.status_code < 300:
                outcome = "delivered"
            else:
                delivery["error"] = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            delivery["error"] = type(exc).__name__
        finally:
            with self._cond:
                delivery["status"] = outcome
                self._count_webhook(delivery["service"], outcome)
                self._inflight_deliveries -= 1
                self._cond.notify_all()

    def _count_webhook(self, service: str, outcome: str) -> None:
        counts = self.stats["webhooks"].setdefault(
            service, {"delivered": 0, "failed": 0, "dropped": 0, "disabled": 0}
        )
        counts[outcome] = counts.get(outcome, 0) + 1
