"""The shared HTTP helper, against a loopback HTTP server that answers what each test scripts."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from hubcourse import errors, http


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Scripted] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                scripted = server.routes.get((self.command, self.path.split("?")[0]), Scripted(404))
                if scripted.delay:
                    time.sleep(scripted.delay)
                self.send_response(scripted.status)
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(scripted.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(scripted.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def script(self, method: str, path: str, **kwargs: object) -> None:
        if isinstance(kwargs.get("body"), dict | list):
            kwargs["body"] = json.dumps(kwargs["body"]).encode()
        self.routes[(method, path)] = Scripted(**kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    loopback = LoopbackServer()
    yield loopback
    loopback.close()
    http.close_session()


def call(server: LoopbackServer, method: str = "GET", path: str = "/thing", **kwargs):
    return http.request(
        method,
        server.url + path,
        service="Docker Hub",
        operation="create repository revelare/alice",
        **kwargs,
    )


def test_it_sends_a_user_agent_naming_hubcourse_and_its_version(server, settings):
    settings.HUBCOURSE_VERSION = "9.8.7"
    server.script("GET", "/thing", body={"ok": True})

    response = call(server)

    assert response.json() == {"ok": True}
    assert server.seen[0].headers["User-Agent"] == (
        "hubcourse/9.8.7 (+https://github.com/hubcourse/hubcourse)"
    )


def test_it_sends_the_callers_headers_and_json_body(server):
    server.script("POST", "/thing", status=201, body={"id": 1})

    call(server, "POST", json={"name": "alice"}, headers={"Authorization": "Bearer t"})

    seen = server.seen[0]
    assert (seen.method, seen.path) == ("POST", "/thing")
    assert json.loads(seen.body) == {"name": "alice"}
    assert seen.headers["Authorization"] == "Bearer t"


def test_a_slow_answer_is_a_transient_timeout_using_the_read_timeout_setting(server, settings):
    settings.HTTP_READ_TIMEOUT = 0.2
    server.script("GET", "/thing", delay=1.0)

    with pytest.raises(errors.ServiceTimeout) as caught:
        call(server)

    assert caught.value.permanent is False
    assert caught.value.status is None
    assert str(caught.value) == (
        "Docker Hub did not answer in time to create repository revelare/alice: "
        "no answer within the read timeout"
    )


def test_every_call_carries_both_timeouts_from_settings(server, settings, monkeypatch):
    settings.HTTP_CONNECT_TIMEOUT = 1.5
    settings.HTTP_READ_TIMEOUT = 7.0
    server.script("GET", "/thing")
    sent: list[object] = []
    original = requests.Session.request

    def spy(self, method, url, **kwargs):
        sent.append(kwargs.get("timeout"))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)

    call(server)

    assert sent == [(1.5, 7.0)]


def test_a_refused_connection_is_a_transient_connection_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.

    with pytest.raises(errors.ConnectionFailed) as caught:
        http.request("GET", f"http://127.0.0.1:{port}/", service="GitHub", operation="get user")

    assert caught.value.permanent is False
    assert str(caught.value).startswith("Could not reach GitHub to get user")


@pytest.mark.parametrize(
    ("status", "error_class", "permanent"),
    [
        (400, errors.Invalid, True),
        (401, errors.AuthenticationFailed, True),
        (403, errors.Forbidden, True),
        (404, errors.NotFound, True),
        (409, errors.Conflict, True),
        (410, errors.NotFound, True),
        (418, errors.PermanentError, True),
        (422, errors.Invalid, True),
        (500, errors.ServiceUnavailable, False),
        (502, errors.ServiceUnavailable, False),
        (503, errors.ServiceUnavailable, False),
        (429, errors.RateLimited, False),
    ],
)
def test_each_failing_status_maps_to_its_error(server, status, error_class, permanent):
    server.script("GET", "/thing", status=status, body={"message": "nope"})

    with pytest.raises(errors.ExternalServiceError) as caught:
        call(server)

    assert type(caught.value) is error_class
    assert caught.value.permanent is permanent
    assert caught.value.status == status


def test_the_message_is_a_sentence_with_the_services_own_words(server):
    server.script("POST", "/thing", status=409, body={"message": "name already taken."})

    with pytest.raises(errors.Conflict) as caught:
        call(server, "POST")

    assert str(caught.value) == (
        "Docker Hub refused to create repository revelare/alice: name already taken (HTTP 409)"
    )


def test_it_reads_detail_when_there_is_no_message(server):
    server.script("GET", "/thing", status=401, body={"detail": "Incorrect authentication"})

    with pytest.raises(errors.AuthenticationFailed) as caught:
        call(server)

    assert caught.value.message == "Incorrect authentication"


def test_an_html_error_page_is_not_quoted(server):
    server.script(
        "GET",
        "/thing",
        status=502,
        body=b"<html><body>Bad gateway</body></html>",
        headers={"Content-Type": "text/html"},
    )

    with pytest.raises(errors.ServiceUnavailable) as caught:
        call(server)

    assert "<html>" not in str(caught.value)
    assert caught.value.message == "Bad Gateway"


@pytest.mark.parametrize(
    ("headers", "expected_offset"),
    [
        ({"Retry-After": "42"}, 42),
        ({"X-Retry-After": "17"}, 17),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "+25"}, 25),
        ({}, 60),
    ],
)
def test_a_429_says_when_to_try_again(server, headers, expected_offset):
    now = time.time()
    if headers.get("X-RateLimit-Reset") == "+25":
        headers["X-RateLimit-Reset"] = str(int(now) + 25)
    server.script("GET", "/thing", status=429, headers=headers, body=b"")

    with pytest.raises(errors.RateLimited) as caught:
        call(server)

    waited = caught.value.retry_at.timestamp() - now
    assert expected_offset - 2 <= waited <= expected_offset + 2
    assert 0 < caught.value.seconds_to_wait() <= expected_offset + 2


def test_a_retry_after_holding_a_unix_time_is_read_as_a_time(server):
    # Docker Hub sent this in 2025 (specs/dockerhub-api-notes.md §10).
    server.script("GET", "/thing", status=429, headers={"Retry-After": "1746136938"}, body=b"")

    with pytest.raises(errors.RateLimited) as caught:
        call(server)

    assert caught.value.retry_at == dt.datetime(2025, 5, 1, 22, 2, 18, tzinfo=dt.UTC)


def test_a_failed_post_is_sent_exactly_once(server):
    server.script("POST", "/thing", status=503, body={"message": "busy"})

    with pytest.raises(errors.ServiceUnavailable):
        call(server, "POST", json={"name": "alice"})

    assert [s.method for s in server.seen] == ["POST"]


def test_redirects_are_followed_for_get(server):
    server.script("GET", "/old", status=301, headers={"Location": "/new"}, body=b"")
    server.script("GET", "/new", body={"name": "new"})

    response = call(server, "GET", "/old")

    assert response.json() == {"name": "new"}
    assert [s.path for s in server.seen] == ["/old", "/new"]


def test_redirects_are_not_followed_for_writes(server):
    server.script("POST", "/old", status=307, headers={"Location": "/new"}, body=b"")

    response = call(server, "POST", "/old", json={"a": 1})

    assert response.status_code == 307
    assert [s.path for s in server.seen] == ["/old"]


def test_the_observer_sees_failed_responses_too(server):
    server.script("GET", "/thing", status=429, headers={"X-RateLimit-Remaining": "0"}, body=b"")
    observed: list[int] = []

    with pytest.raises(errors.RateLimited):
        call(server, observer=lambda response: observed.append(response.status_code))

    assert observed == [429]


def test_a_client_translator_can_read_its_services_error_body(server):
    class Legacy(http.ErrorTranslator):
        def message(self, response):
            return response.json()["errinfo"]["why"]

    server.script("GET", "/thing", status=404, body={"errinfo": {"why": "no such tag"}})

    with pytest.raises(errors.NotFound) as caught:
        call(server, translator=Legacy())

    assert caught.value.message == "no such tag"


def test_each_thread_has_its_own_session():
    sessions: list[requests.Session] = []

    def grab() -> None:
        sessions.append(http.session())
        http.close_session()

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sessions) == 2
    assert sessions[0] is not sessions[1]
    assert http.session() is http.session()


def test_the_session_has_no_transport_retries():
    adapter = http.session().get_adapter("https://hub.docker.com")

    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error",
    [
        errors.Conflict("Docker Hub", "create repository revelare/a", 409, "taken"),
        errors.RateLimited(
            "GitHub", "get user", 429, "slow down", retry_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        ),
        errors.Throttled(
            "Docker Hub", "list members", retry_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        ),
        errors.ServiceTimeout("Docker Hub", "list members", None, "no answer"),
    ],
)
def test_errors_survive_pickling_for_celery(error):
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.permanent == error.permanent
    assert getattr(copy, "retry_at", None) == getattr(error, "retry_at", None)


@pytest.mark.parametrize(
    ("value", "epoch", "expected"),
    [
        ("30", False, dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)),
        ("0", False, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("1767225630", False, dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)),
        ("1767225630", True, dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)),
        ("Thu, 01 Jan 2026 00:01:00 GMT", False, dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)),
        ("soon", False, None),
        ("", False, None),
        (None, False, None),
        ("-5", False, None),
    ],
)
def test_parse_retry_after_reads_seconds_unix_times_and_dates(value, epoch, expected):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    assert http.parse_retry_after(value, now, epoch=epoch) == expected
