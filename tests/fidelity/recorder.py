"""Record every exchange hubcourse's clients make, at the one shared HTTP helper.

``hubcourse.http.session()`` is the session every outgoing call goes through; a response hook
on it sees each request as sent and each answer as received (redirect hops included), without
touching the clients. The recorder is installed by the test and removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from hubcourse import http


@dataclass
class Recorder:
    exchanges: list[requests.Response] = field(default_factory=list)

    def keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # Read the body now: a streamed one is gone once the client has consumed it.
        _ = response.content
        self.exchanges.append(response)

    def clear(self) -> None:
        self.exchanges.clear()


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record this thread's outgoing exchanges (the clients run in the test's thread)."""
    recorder = Recorder()
    hooks = http.session().hooks["response"]
    hooks.append(recorder.keep)
    try:
        yield recorder
    finally:
        hooks.remove(recorder.keep)
