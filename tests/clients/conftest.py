"""Fakes shared by the governor tests: a clock that only moves when told, and the two stores
(SQLite file and Redis) that every pacing test runs against."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hubcourse import governor

REDIS_URL = "redis://127.0.0.1:6379/15"
START = 1_800_000_000.0  # a fixed epoch second for the fake clock


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


class FakeClock:
    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[governor.Store]:
    if request.param == "sqlite":
        yield governor.SQLiteStore(tmp_path / "governor.sqlite3")
        return
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"test-governor:{uuid.uuid4().hex}:"
    redis_store = governor.RedisStore(REDIS_URL, prefix=prefix)
    yield redis_store
    for name in redis_store.client.scan_iter(f"{prefix}*"):
        redis_store.client.delete(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
