"""The rate-limit governor, on both stores, with a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from hubcourse import errors, governor
from tests.clients.conftest import REDIS_URL, START, redis_available


def make(store, clock, *, limit=60, window=60.0, burst=1, max_wait=5.0) -> governor.Governor:
    return governor.Governor(
        "Docker Hub",
        default_limit=limit,
        window=window,
        burst=burst,
        max_wait=max_wait,
        store=store,
        clock=clock,
        sleep=clock.sleep,
    )


def hub_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


def test_before_learning_anything_it_paces_at_the_default_limit(store, clock):
    # 60 a minute with 3 held back (5%): one call every 60/57 s.
    gov = make(store, clock, limit=60)

    for _ in range(4):
        gov.acquire("k")

    assert clock.sleeps == pytest.approx([60 / 57, 60 / 57, 60 / 57], abs=1e-5)


def test_a_burst_allowance_lets_the_first_calls_through_at_once(store, clock):
    gov = make(store, clock, limit=60, burst=3)

    for _ in range(4):
        gov.acquire("k")

    # Three go at once; the fourth waits its turn at the steady pace.
    assert clock.sleeps == pytest.approx([60 / 57], abs=1e-5)


def test_it_spends_the_remaining_budget_evenly_until_the_reset(store, clock):
    gov = make(store, clock, limit=20, window=60.0)
    # 13 left, 1 held back: 12 calls over the 12 s until the reset, one a second.
    gov.observe("k", hub_headers(20, 13, START + 12), 200)

    for _ in range(3):
        gov.acquire("k")

    assert clock.sleeps == pytest.approx([1.0, 1.0], abs=1e-5)
    assert store.state("k").remaining == 10


def test_a_spent_budget_waits_for_the_reset(store, clock):
    gov = make(store, clock, limit=20, max_wait=5.0)
    gov.observe("k", hub_headers(20, 1, START + 3), 200)

    gov.acquire("k")

    # Nothing usable is left (one call is held back): the call goes out at the reset.
    assert clock.sleeps == pytest.approx([3.0], abs=1e-5)


def test_a_burst_never_spends_the_budget_held_back(store, clock):
    # The burst lets calls go early, but once 2 of the 3 left are spent (1 is held back),
    # the next call waits for the reset even though the pace alone would let it through.
    gov = make(store, clock, limit=20, burst=5, max_wait=100.0)
    gov.observe("k", hub_headers(20, 3, START + 12), 200)

    for _ in range(3):
        gov.acquire("k")

    assert clock.sleeps == pytest.approx([12.0], abs=1e-5)


def test_a_wait_longer_than_the_bound_raises_throttled_with_the_time_to_retry(store, clock):
    gov = make(store, clock, limit=20, max_wait=5.0)
    gov.observe("k", hub_headers(20, 1, START + 40), 200)

    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k", "invite alice to Revelare")

    assert caught.value.retry_at == dt.datetime.fromtimestamp(START + 40, dt.UTC)
    assert caught.value.permanent is False
    assert "invite alice to Revelare" in str(caught.value)
    assert clock.sleeps == []


def test_a_429_pauses_the_key_for_the_seconds_it_asked(store, clock):
    gov = make(store, clock)
    gov.observe("k", {"Retry-After": "30"}, 429)

    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k")

    assert caught.value.retry_at == dt.datetime.fromtimestamp(START + 30, dt.UTC)
    clock.now += 30
    gov.acquire("k")
    assert clock.sleeps == []


def test_a_429_retry_after_holding_a_unix_time_pauses_until_that_time(store, clock):
    gov = make(store, clock)
    gov.observe("k", {"Retry-After": str(int(START + 90))}, 429)

    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k")

    assert caught.value.retry_at == dt.datetime.fromtimestamp(START + 90, dt.UTC)


def test_a_429_with_only_rate_limit_headers_pauses_until_the_reset(store, clock):
    gov = make(store, clock, limit=180)
    gov.observe("k", hub_headers(180, 0, START + 20), 429)

    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k")

    assert caught.value.retry_at == dt.datetime.fromtimestamp(START + 20, dt.UTC)


def test_a_github_primary_limit_403_pauses_until_the_reset(store, clock):
    gov = make(store, clock, limit=5000, window=3600)
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0"}
    headers["x-ratelimit-reset"] = str(int(START + 600))
    gov.observe("k", headers, 403)

    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k")

    assert caught.value.retry_at == dt.datetime.fromtimestamp(START + 600, dt.UTC)


def test_a_plain_permission_403_does_not_pause(store, clock):
    gov = make(store, clock, limit=5000, window=3600, burst=5)
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4000"}
    headers["x-ratelimit-reset"] = str(int(START + 600))
    gov.observe("k", headers, 403)

    gov.acquire("k")

    assert clock.sleeps == []
    assert store.state("k").paused_until == 0


def test_pause_holds_the_key_until_the_given_time(store, clock):
    gov = make(store, clock)
    gov.pause("k", dt.datetime.fromtimestamp(START + 3, dt.UTC))

    gov.acquire("k")

    assert clock.sleeps == pytest.approx([3.0], abs=1e-5)


def test_keys_are_independent(store, clock):
    gov = make(store, clock)
    gov.observe("busy", {"Retry-After": "300"}, 429)

    gov.acquire("idle")

    assert clock.sleeps == []


def test_a_late_response_from_the_same_window_does_not_raise_the_count(store, clock):
    gov = make(store, clock, limit=100)
    gov.observe("k", hub_headers(100, 50, START + 30), 200)
    gov.observe("k", hub_headers(100, 40, START + 30), 200)
    gov.observe("k", hub_headers(100, 45, START + 30), 200)  # sent before the 40 one

    assert store.state("k").remaining == 40


def test_a_new_window_replaces_the_old_count(store, clock):
    gov = make(store, clock, limit=100)
    gov.observe("k", hub_headers(100, 2, START + 5), 200)
    clock.now += 6
    gov.observe("k", hub_headers(100, 99, START + 65), 200)

    state = store.state("k")
    assert (state.remaining, state.reset) == (99, START + 65)


def test_after_the_reset_passes_it_paces_at_the_learned_limit(store, clock):
    gov = make(store, clock, limit=60)
    gov.observe("k", hub_headers(120, 50, START + 10), 200)
    clock.now += 11

    gov.acquire("k")
    gov.acquire("k")

    # Learned 120 a minute, 6 held back: 60/114 s apart.
    assert clock.sleeps == pytest.approx([60 / 114], abs=1e-5)


def test_credential_keys_do_not_reveal_the_credential():
    key = governor.credential_key("github", "https://api.github.com", "ghp_secret_token")

    assert "ghp_secret_token" not in key
    assert key != governor.credential_key("github", "https://api.github.com", "ghp_other")


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_the_lua_script_and_the_python_algorithm_agree(tmp_path):
    """Both stores run the same random sequence of calls and end in the same state."""
    rng = random.Random(4)
    sqlite_store = governor.SQLiteStore(tmp_path / "g.sqlite3")
    redis_store = governor.RedisStore(REDIS_URL, prefix=f"test-governor:{uuid.uuid4().hex}:")
    policy = governor.Policy(default_limit=30, window=10.0, burst=2, max_wait=2.0)
    now = START
    try:
        for _ in range(300):
            now += rng.choice([0.0, 0.05, 0.3, 1.0, 4.0])
            if rng.random() < 0.7:
                results = [s.acquire("k", now, policy) for s in (sqlite_store, redis_store)]
                assert results[0][0] == results[1][0]
                assert results[0][1] == pytest.approx(results[1][1], abs=1e-4)
            else:
                learned: dict[str, Any] = {
                    "limit": rng.choice([None, 30, 40]),
                    "remaining": rng.randint(0, 40),
                    "reset": now + rng.uniform(-2, 12),
                    "pause_until": rng.choice([None, None, None, now + rng.uniform(0, 5)]),
                }
                for s in (sqlite_store, redis_store):
                    s.learn("k", now, **learned)
            left, right = sqlite_store.state("k"), redis_store.state("k")
            assert (left.limit, left.remaining) == (right.limit, right.remaining)
            for name in ("reset", "tat", "paused_until"):
                a, b = getattr(left, name), getattr(right, name)
                assert (a is None) == (b is None)
                if a is not None:
                    assert a == pytest.approx(b, abs=1e-4)
    finally:
        for name in redis_store.client.scan_iter(f"{redis_store.prefix}*"):
            redis_store.client.delete(name)


def _take_slots(path: str, count: int, policy: governor.Policy, out) -> None:
    store = governor.SQLiteStore(Path(path))
    slots = []
    for _ in range(count):
        granted, slot = store.acquire("shared", time.time(), policy)
        if granted:
            slots.append(slot)
    out.put(slots)


def test_processes_sharing_the_sqlite_store_never_get_the_same_slot(tmp_path):
    # A fast policy so the test is short: 2000 a second, one call every 0.5 ms.
    policy = governor.Policy(default_limit=2100, window=1.0, burst=1, max_wait=60.0)
    out: multiprocessing.Queue[Any] = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_take_slots, args=(str(tmp_path / "g.sqlite3"), 40, policy, out)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    slots = sorted(out.get(timeout=60) + out.get(timeout=60))
    for worker in workers:
        worker.join(timeout=30)

    assert len(slots) == 80
    interval = 1.0 / (2100 - 105)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(gaps) >= interval - 1e-6


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_threads_sharing_the_redis_store_never_get_the_same_slot():
    policy = governor.Policy(default_limit=2100, window=1.0, burst=1, max_wait=60.0)
    store = governor.RedisStore(REDIS_URL, prefix=f"test-governor:{uuid.uuid4().hex}:")
    slots: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(40):
            granted, slot = store.acquire("shared", time.time(), policy)
            assert granted
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=take) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for name in store.client.scan_iter(f"{store.prefix}*"):
            store.client.delete(name)

    slots.sort()
    interval = 1.0 / (2100 - 105)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert len(slots) == 80
    assert min(gaps) >= interval - 1e-5


def test_the_default_store_follows_the_settings(settings, tmp_path):
    settings.RATE_LIMIT_REDIS_URL = ""
    settings.VAR_DIR = tmp_path

    store = governor.default_store()

    assert isinstance(store, governor.SQLiteStore)
    assert store.path == tmp_path / "governor.sqlite3"
