"""The embedded broker never shows a worker a message file before it is whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from kombu.connection import Connection


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport="hubcourse.broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "store_processed": False,
        },
    )


@pytest.fixture(autouse=True)
def _control_files_elsewhere(tmp_path, monkeypatch):
    # kombu writes its exchange tables to ./control; keep them out of the working tree.
    monkeypatch.chdir(tmp_path.parent)


def test_a_message_becomes_visible_only_once_it_is_complete(tmp_path, monkeypatch):
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        # What a worker listing the folder would take at this instant, and how much of
        # the message is written by then.
        takeable = [name for name in os.listdir(tmp_path) if name.endswith(".jobs.msg")]
        seen_before_rename.append(takeable)
        assert Path(src).read_bytes().endswith(b"}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with _connection(tmp_path) as connection:
        queue = connection.SimpleQueue("jobs")
        queue.put({"task": "x" * 100_000})
        assert seen_before_rename == [[]]
        message = queue.get(timeout=1)
        assert message.payload == {"task": "x" * 100_000}
        message.ack()
        queue.close()
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_no_message_behind(tmp_path, monkeypatch):
    def replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace)
    with _connection(tmp_path) as connection:
        queue = connection.SimpleQueue("jobs")
        with pytest.raises(Exception, match="Cannot add file"):
            queue.put({"task": "lost"})
        queue.close()
    assert [name for name in os.listdir(tmp_path) if "jobs" in name] == []


def test_the_embedded_default_uses_it():
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the tests run on another broker")
    assert settings.CELERY_BROKER_TRANSPORT == "hubcourse.broker:Transport"
