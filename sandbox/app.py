"""The Flask application: request hooks shared by every simulated service, and the blueprints.

Hooks, in order, for every request outside ``/_sandbox/``: injected latency, the Docker Hub rate
limit (per credential per minute), injected faults (5xx or a stall longer than a client's read
timeout). After every request: Docker Hub rate-limit headers and request statistics.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox import (
    actions,
    autobuild,
    control,
    dockerhub,
    dockerhub_common,
    dockerhub_extra,
    dockerhub_oats,
    dockerhub_web,
    github,
    github_apps_control,
    github_control,
)
from sandbox.world import World

log = logging.getLogger(__name__)

CONTROL_PREFIXES = ("/_sandbox", "/static")
# A body larger than this is journaled as None (workflow logs, big files): the journal is for
# checking what a client sent, and it holds thousands of requests.
MAX_JOURNAL_BODY = 256 * 1024
DOCKERHUB_PREFIXES = ("/v2/", "/api/build/", "/api/audit/", "/api/search/")
# Docker Hub's web pages (``dockerhub_web``): not the API, so not under its rate limit.
DOCKERHUB_WEB_PREFIXES = ("/r/", "/_/")
GITHUB_DOCS = "https://docs.github.com/rest"


def service_of(path: str) -> str:
    """Which simulated service a path belongs to (GitHub owns everything Docker Hub does not)."""
    if path.startswith(CONTROL_PREFIXES):
        return "control"
    if path.startswith(DOCKERHUB_PREFIXES) or path == "/v2":
        return "dockerhub"
    if path.startswith(DOCKERHUB_WEB_PREFIXES):
        return "dockerhub-web"
    return "github"


def journal_body() -> Any:
    """The request's JSON or form body as data for the journal; None when it has neither."""
    if (request.content_length or 0) > MAX_JOURNAL_BODY:
        return None
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    if not request.get_data(cache=True):
        return None
    return request.get_json(force=True, silent=True)


def error_response(service: str, status: int, text: str) -> Response:
    """An error in the body shape of the service the request was meant for."""
    if service == "github":
        response = jsonify({"message": text, "documentation_url": GITHUB_DOCS})
    elif service == "dockerhub":
        response = jsonify({"detail": text, "message": text, "errinfo": {}})
    else:
        response = jsonify({"error": text})
    response.status_code = status
    return response


class RateLimiter:
    """Fixed one-minute windows per credential, as Docker Hub's ``X-RateLimit-*`` headers describe.

    Windows run on real time, not the sandbox clock: a client reads ``X-RateLimit-Reset`` and
    ``Retry-After`` against its own clock, so a reset moved forward with the control API's clock
    would make it wait that long for real (``World.advance_clock`` ends windows early instead).
    """

    def __init__(self, world: World) -> None:
        self.world = world

    def hit(self, key: str) -> tuple[int, int, int, bool]:
        """Count one request; return (limit, remaining, reset unix time, allowed)."""
        limit = self.world.config.rate_limit
        now = time.time()
        with self.world.lock:
            window = self.world.rate_windows.get(key)
            if window is None or now >= window[0] + 60:
                window = [now, 0.0]
                self.world.rate_windows[key] = window
            reset = math.ceil(window[0] + 60)
            if limit <= 0:
                return 0, 0, reset, True
            allowed = window[1] < limit
            if allowed:
                window[1] += 1
            remaining = max(0, limit - int(window[1]))
            return limit, remaining, reset, allowed


def create_app(world: World) -> Flask:
    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox_world"] = world
    limiter = RateLimiter(world)

    @app.before_request
    def before() -> Response | None:
        g.started = time.monotonic()
        g.service = service_of(request.path)
        if g.service == "control":
            return None
        config = world.config
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000)
        if g.service == "dockerhub":
            limit, remaining, reset, allowed = limiter.hit(dockerhub_common.rate_limit_key(world))
            g.rate = (limit, remaining, reset)
            if not allowed:
                world.record_rate_limited("dockerhub")
                response = jsonify({"detail": "Rate limit exceeded", "error": False})
                response.status_code = 429
                # Seconds to wait, as the current docs say (the notes, section 10).
                response.headers["Retry-After"] = str(
                    max(1, min(60, math.ceil(reset - time.time())))
                )
                return response
        if world.chance(config.timeout_rate):
            world.record_fault("timeouts")
            # Bounded stall: long enough to trip a client's read timeout, then a gateway timeout.
            time.sleep(config.timeout_s)
            return error_response(g.service, 504, "Gateway Timeout")
        if world.chance(config.fault_rate):
            world.record_fault("errors")
            status = world.random.choice((500, 502, 503))
            text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
            return error_response(g.service, status, text[status])
        return None

    @app.after_request
    def after(response: Response) -> Response:
        service = getattr(g, "service", service_of(request.path))
        rate = getattr(g, "rate", None)
        if rate is not None and rate[0] > 0:
            limit, remaining, reset = rate
            response.headers["X-RateLimit-Limit"] = str(limit)
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Reset"] = str(reset)
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        world.record_request(service, request.method, rule, response.status_code)
        if service != "control":
            # Path, query and body only: the headers carry the client's credentials.
            world.journal_request(
                service,
                request.method,
                request.path,
                request.query_string.decode("latin-1"),
                journal_body(),
                response.status_code,
            )
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            world.save()
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        service = getattr(g, "service", service_of(request.path))
        status = exc.code or 500
        if service == "github" and status == 404:
            return error_response(service, 404, "Not Found")
        if service == "dockerhub" and status == 404:
            return error_response(service, 404, "object not found")
        return error_response(service, status, exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug in the sandbox: log it, and still answer in the service's own error shape.
        log.error("sandbox error on %s %s", request.method, request.path, exc_info=exc)
        service = getattr(g, "service", service_of(request.path))
        return error_response(service, 500, "Internal Server Error")

    app.register_blueprint(dockerhub.bp)
    app.register_blueprint(dockerhub_extra.bp)
    app.register_blueprint(dockerhub_oats.bp)
    app.register_blueprint(dockerhub_web.bp)
    app.register_blueprint(autobuild.bp)
    app.register_blueprint(control.bp, url_prefix="/_sandbox")
    autobuild.install(world)
    # The GitHub side registers its own blueprints (at "/" and "/api/v3") and subscriptions.
    github.install(app, world)
    github_control.install(app, world)
    github_apps_control.install_routes(app)
    actions.install(app, world)
    return app
