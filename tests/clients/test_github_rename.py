"""A renamed repository: GitHub answers the old name with 301 to ``/repositories/{id}``.

The sandbox does not rename repositories, so a loopback server plays GitHub here, answering
as https://docs.github.com/en/rest/repos/repos#get-a-repository documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hubcourse.governor import Governor, SQLiteStore
from integrations.github.client import GitHubClient

RENAMED = {
    "id": 42,
    "name": "new-name",
    "full_name": "alice/new-name",
    "owner": {"login": "alice", "id": 7, "type": "User"},
    "private": False,
    "html_url": "https://github.com/alice/new-name",
    "default_branch": "main",
}


@pytest.fixture
def github_api() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path == "/repos/alice/old-name":
                body = {
                    "message": "Moved Permanently",
                    "url": f"{url}/repositories/42",
                    "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
                }
                self._answer(301, body, {"Location": f"{url}/repositories/42"})
            elif self.path == "/repositories/42":
                self._answer(200, RENAMED)
            else:
                self._answer(404, {"message": "Not Found"})

        def _answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield url, seen
    finally:
        server.shutdown()
        server.server_close()


def test_get_repository_follows_a_rename_and_keeps_the_token(github_api, tmp_path: Path):
    url, seen = github_api
    governor = Governor(
        "GitHub", default_limit=5000, window=3600.0, store=SQLiteStore(tmp_path / "g.sqlite3")
    )
    client = GitHubClient("ghp_token", api_url=url, governor=governor)

    found = client.get_repository("alice", "old-name")

    assert found.full_name == "alice/new-name"
    assert found.id == 42
    assert seen == [
        ("/repos/alice/old-name", "Bearer ghp_token"),
        ("/repositories/42", "Bearer ghp_token"),
    ]
