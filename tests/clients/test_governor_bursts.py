"""The governor's budget-sized bursts and its side buckets (per minute, between writes)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from hubcourse import errors, governor
from tests.clients.conftest import REDIS_URL, START, FakeClock, redis_available


def github_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
    }


def make(store: governor.Store, clock: FakeClock, **options: Any) -> governor.Governor:
    defaults: dict[str, Any] = {
        "default_limit": 5000,
        "window": 3600.0,
        "burst": 30,
        "max_wait": 5.0,
    }
    return governor.Governor(
        "GitHub",
        **{**defaults, **options},
        store=store,
        clock=clock,
        sleep=clock.sleep,
    )


def test_an_ample_hourly_budget_lets_a_class_of_reads_go_without_pacing(store, clock):
    gov = make(store, clock, burst_share=0.25)
    gov.observe("k", github_headers(5000, 4990, START + 3600), 200)

    for _ in range(600):  # 200 students' pre-flight: a tenth of the budget
        gov.acquire("k")

    assert clock.sleeps == []


def test_without_a_share_the_hourly_budget_is_spread_evenly(store, clock):
    gov = make(store, clock)
    gov.observe("k", github_headers(5000, 4990, START + 3600), 200)

    for _ in range(40):
        gov.acquire("k")

    # 30 at once, then one every 3600 / 4740 s.
    assert len(clock.sleeps) == 10
    assert clock.sleeps[-1] == pytest.approx(3600 / 4740, rel=0.01)


def test_the_burst_shrinks_with_the_budget_and_never_spends_the_held_back_share(store, clock):
    # 100 left in a 100 s window, 5 held back: with a quarter of the window as lead, about a
    # fifth of the budget goes at once, then the pace takes over; past the budget, the reset.
    gov = make(store, clock, default_limit=100, window=100.0, burst=1, burst_share=0.25)
    gov.observe("k", github_headers(100, 100, START + 100), 200)
    slots: list[float] = []

    for _ in range(120):
        gov.acquire("k")
        slots.append(clock.now)

    at_once = sum(1 for slot in slots if slot == START)
    assert 15 <= at_once <= 22
    before_reset = sum(1 for slot in slots if slot < START + 100)
    assert before_reset == 95


def test_writes_are_spaced_a_second_apart_and_reads_are_not(store, clock):
    gov = make(store, clock, burst_share=0.25, write_spacing=1.0)
    gov.observe("k", github_headers(5000, 4990, START + 3600), 200)

    gov.acquire("k", write=True)
    gov.acquire("k")
    gov.acquire("k", write=True)
    gov.acquire("k")
    gov.acquire("k", write=True)

    assert clock.sleeps == pytest.approx([1.0, 1.0], abs=1e-5)


def test_a_minute_limit_caps_a_burst_the_hourly_budget_would_allow(store, clock):
    gov = make(store, clock, burst_share=0.25, minute_limit=20, max_wait=100.0)
    gov.observe("k", github_headers(5000, 4990, START + 3600), 200)

    for _ in range(12):
        gov.acquire("k")

    # Half a minute's worth (10) at once, then 20 a minute less the 1 held back (sleeps of
    # a microsecond are float rounding in the pacing clock).
    waits = [s for s in clock.sleeps if s > 1e-3]
    assert waits == pytest.approx([60 / 19, 60 / 19], abs=1e-5)


def test_a_side_bucket_too_far_away_raises_throttled(store, clock):
    gov = make(store, clock, write_spacing=10.0, max_wait=5.0)

    gov.acquire("k", write=True)
    with pytest.raises(errors.Throttled) as caught:
        gov.acquire("k", "create a webhook", write=True)

    assert caught.value.retry_at.timestamp() == pytest.approx(START + 10)


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_the_lua_script_and_the_python_algorithm_agree_on_budget_bursts(tmp_path):
    rng = random.Random(7)
    sqlite_store = governor.SQLiteStore(tmp_path / "g.sqlite3")
    redis_store = governor.RedisStore(REDIS_URL, prefix=f"test-governor:{uuid.uuid4().hex}:")
    policy = governor.Policy(default_limit=30, window=10.0, burst=2, max_wait=2.0, burst_share=0.3)
    now = START
    try:
        for _ in range(300):
            now += rng.choice([0.0, 0.05, 0.3, 1.0, 4.0])
            if rng.random() < 0.7:
                results = [s.acquire("k", now, policy) for s in (sqlite_store, redis_store)]
                assert results[0][0] == results[1][0]
                assert results[0][1] == pytest.approx(results[1][1], abs=1e-4)
            else:
                remaining, reset = rng.randint(0, 30), now + rng.uniform(-2, 12)
                for s in (sqlite_store, redis_store):
                    s.learn("k", now, limit=30, remaining=remaining, reset=reset, pause_until=None)
            left, right = sqlite_store.state("k"), redis_store.state("k")
            assert (left.limit, left.remaining) == (right.limit, right.remaining)
            assert left.tat == pytest.approx(right.tat, abs=1e-4)
    finally:
        for name in redis_store.client.scan_iter(f"{redis_store.prefix}*"):
            redis_store.client.delete(name)
