"""Start a sandbox in-process on a free loopback port, for tests and fixtures.

running = start_sandbox(SandboxConfig(build_delay=0.05), seed="empty")
requests.get(f"{running.url}/v2/users/owner")
running.stop()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.world import World


class _QuietHandler(WSGIRequestHandler):
    # Tests make thousands of requests; an access log line each only buries the failures.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class RunningSandbox:
    url: str
    world: World
    server: BaseWSGIServer
    thread: threading.Thread
    # What the seed returned (credentials), refreshed by reset().
    seeded: dict[str, Any] = field(default_factory=dict)

    def reset(self, seed: str | None = "empty") -> dict[str, Any]:
        self.seeded = self.world.reset(seed)
        return self.seeded

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.world.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    config: SandboxConfig | None = None, seed: str | None = "empty", *, port: int = 0
) -> RunningSandbox:
    """Serve a fresh sandbox on 127.0.0.1 and ``port`` (0: a free one), threaded, in a thread.

    hubcourse's own tests need a port fixed before Django starts (allauth reads GITHUB_URL
    at import), hence ``port``.

    With a ``data_file`` that exists, its state is loaded instead of seeding.
    """
    config = replace(config) if config is not None else SandboxConfig()
    config.host = "127.0.0.1"
    world = World(config)
    app = create_app(world)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    config.port = server.server_port
    url = f"http://127.0.0.1:{server.server_port}"
    if config.public_url is None:
        config.public_url = url
    seeded = world.meta.get("seed_result", {}) if world.load() else world.reset(seed)
    # A short poll interval: stop() then returns at once instead of after half a second.
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="sandbox-http",
        daemon=True,
    )
    thread.start()
    return RunningSandbox(url=url, world=world, server=server, thread=thread, seeded=seeded)
