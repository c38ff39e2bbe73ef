"""Helpers for the sandbox GitHub tests: a client per user and a webhook receiver on loopback."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST it gets."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    received: list[Received] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait_for(
        self, count: int, event: str | None = None, timeout: float = 5.0
    ) -> list[Received]:
        """The first ``count`` deliveries (of ``event`` if given), waiting a bounded time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [
                r
                for r in self.received
                if event is None or r.headers.get("X-GitHub-Event") == event
            ]
            if len(matching) >= count:
                return matching
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {event or ''} deliveries, got {len(self.received)}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver = holder["receiver"]
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    receiver = Receiver(server=server, thread=thread)
    holder["receiver"] = receiver
    thread.start()
    return receiver


@dataclass
class GitHub:
    """The sandbox GitHub seen by clients, with control helpers."""

    url: str

    def create_user(self, login: str, email: str | None = None) -> dict[str, Any]:
        body = {"login": login, "email": email or f"{login}@example.edu", "name": login.title()}
        response = requests.post(f"{self.url}/_sandbox/github/users", json=body, timeout=5)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_repo(
        self, owner: str, name: str, files: dict[str, str], private: bool = False
    ) -> dict[str, Any]:
        body = {"owner": owner, "name": name, "files": files, "private": private}
        response = requests.post(f"{self.url}/_sandbox/github/repos", json=body, timeout=5)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def push(
        self,
        full_name: str,
        files: dict[str, str | None],
        branch: str = "main",
        message: str = "Change",
    ) -> str:
        response = requests.post(
            f"{self.url}/_sandbox/github/repos/{full_name}/push",
            json={"files": files, "branch": branch, "message": message},
            timeout=5,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["sha"])

    def api(
        self,
        method: str,
        path: str,
        token: str | None = None,
        prefix: str = "/api/v3",
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"token {token}"
        headers.setdefault("Accept", "application/vnd.github+json")
        return requests.request(
            method, f"{self.url}{prefix}{path}", headers=headers, timeout=5, **kwargs
        )
