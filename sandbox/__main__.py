"""``python -m sandbox --port 8765``: run the sandbox until interrupted."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import SEEDS, SandboxConfig
from sandbox.world import World

log = logging.getLogger("sandbox")


def parse_args(argv: list[str] | None = None) -> SandboxConfig:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL clients use (pagination links, webhook URLs); default http://HOST:PORT",
    )
    parser.add_argument("--latency-ms", type=int, default=defaults.latency_ms)
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=defaults.rate_limit,
        help="Docker Hub requests per minute per credential (0: off)",
    )
    parser.add_argument(
        "--github-rate-limit",
        type=int,
        default=defaults.github_rate_limit,
        help="GitHub requests per hour per token",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=defaults.fault_rate,
        help="share of requests answered with a 5xx",
    )
    parser.add_argument(
        "--timeout-rate",
        type=float,
        default=defaults.timeout_rate,
        help="share of requests that stall past a client's read timeout",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=defaults.timeout_s,
        help="how long a stalled request stalls",
    )
    parser.add_argument("--drop-webhook-rate", type=float, default=defaults.drop_webhook_rate)
    parser.add_argument("--no-webhooks", action="store_true")
    parser.add_argument(
        "--build-delay", type=float, default=defaults.build_delay, help="seconds per build phase"
    )
    parser.add_argument(
        "--auto-accept-invites",
        type=float,
        default=defaults.auto_accept_invites,
        metavar="SECONDS",
        help="invited students accept after this many seconds (0: never, the default)",
    )
    parser.add_argument(
        "--data-file", default=None, help="persist state here (loaded at start if present)"
    )
    parser.add_argument(
        "--seed",
        choices=SEEDS,
        default=defaults.seed,
        help="what a fresh world holds (ignored when the data file exists)",
    )
    parser.add_argument("--random-seed", type=int, default=None, help="make faults reproducible")
    args = parser.parse_args(argv)
    for name in ("fault_rate", "timeout_rate", "drop_webhook_rate"):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    return SandboxConfig(
        host=args.host,
        port=args.port,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        github_rate_limit=args.github_rate_limit,
        fault_rate=args.fault_rate,
        timeout_rate=args.timeout_rate,
        timeout_s=args.timeout_seconds,
        drop_webhook_rate=args.drop_webhook_rate,
        webhooks_enabled=not args.no_webhooks,
        build_delay=args.build_delay,
        auto_accept_invites=max(0.0, args.auto_accept_invites),
        data_file=args.data_file,
        seed=args.seed,
        random_seed=args.random_seed,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox %(levelname)s %(message)s")
    config = parse_args(argv)
    world = World(config)
    app = create_app(world)
    server = make_server(config.host, config.port, app, threaded=True)
    if world.load():
        log.info("state loaded from %s", config.data_file)
        seeded = world.meta.get("seed_result", {})
    else:
        seeded = world.reset(config.seed)
    # One JSON line with what the seed made, so scripts (make run) can read the credentials.
    print(json.dumps({"sandbox": config.public_url, "seed": config.seed, **seeded}), flush=True)
    log.info("serving on %s (control page: %s/_sandbox/)", config.public_url, config.public_url)
    # `make run` and supervisors stop us with SIGTERM: shut down cleanly so the data file is flushed.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        world.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
