"""What every benchmark shares: results and their table/JSON, and the processes they run.

A benchmark returns a :class:`Result`: its parameters and a list of :class:`Figure` (a value,
its unit, the target beside it and whether it was met). :func:`print_table` prints them,
:func:`write_json` writes them under ``bench/results/``.

The processes (the sandbox, Celery workers and beat, gunicorn) are started by
:class:`Processes` in their own process groups, and stopped by their ids when a benchmark
ends. :class:`MemorySampler` follows the memory of a process tree while it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PY = sys.executable


# -- results -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Figure:
    label: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    # None: no target (a figure printed for context).
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        value = self.value
        if value is None:
            return "n/a"
        if isinstance(value, float):
            text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        return f"{text} {self.unit}".strip()


@dataclasses.dataclass
class Result:
    name: str
    title: str
    params: dict[str, Any]
    figures: list[Figure] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    # Breakdowns kept in the JSON only (calls by route, per-size figures).
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    started_at: str = ""
    seconds: float = 0.0
    error: str = ""

    def add(self, *figures: Figure) -> None:
        self.figures.extend(figures)

    def figure(self, label: str) -> Figure | None:
        return next((f for f in self.figures if f.label == label), None)


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def print_table(results: list[Result], out: Any = None) -> None:
    out = out or sys.stdout
    rows: list[tuple[str, str, str, str]] = []
    for result in results:
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        rows.append((f"[{result.name}] {result.title}", "", "", ""))
        rows.append((f"  params: {params}", "", "", ""))
        if result.error:
            rows.append((f"  FAILED: {result.error}", "", "", ""))
        for figure in result.figures:
            verdict = {True: "met", False: "MISSED", None: ""}[figure.met]
            label = f"  {figure.label}" + (f" ({figure.note})" if figure.note else "")
            rows.append((label, figure.shown(), figure.target, verdict))
    widths = [max(len(r[i]) for r in rows) if rows else 0 for i in range(4)]
    # The first column's header lines (titles, params) may be long; cap the column.
    widths[0] = min(widths[0], 72)
    header = ("figure", "value", "target", "")
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line.rstrip(), file=out)
    print("-" * len(line.rstrip()), file=out)
    for row in rows:
        if not row[1] and not row[2]:
            print(row[0], file=out)
            continue
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]), row[3]]
        print("  ".join(cells).rstrip(), file=out)
    out.flush()


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_json(results: list[Result], extra: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """``bench/results/<utc time>.json`` and ``latest.json`` with every result of the run."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "at": stamp,
        "machine": machine(),
        **extra,
        "results": [dataclasses.asdict(r) for r in results],
    }
    text = json.dumps(payload, indent=2, default=str)
    path = directory / f"{stamp}-{'-'.join(r.name for r in results)}.json"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path


# -- ports and HTTP ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(method: str, url: str, body: Any = None, timeout: float = 30) -> Any:
    """A small JSON call to our own loopback processes (the sandbox's control API)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback URLs we built)
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        text = response.read()
    return json.loads(text) if text else None


def wait_for_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return True
        except urllib.error.HTTPError:
            return True  # it answers
        except OSError:
            time.sleep(0.2)
    return False


# -- processes -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    # A Celery worker's node name (``--hostname``), which a ping names.
    node: str = ""


class Processes:
    """Processes a benchmark starts; each in its own session, stopped by its id."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[Started] = []
        # SIGKILL instead of SIGTERM (a quick run): nothing is measured after a stop, and the
        # next benchmark empties the database, cache and broker, so a clean shutdown (a
        # worker's warm shutdown, gunicorn's) is only time spent waiting.
        self.kill = False

    @property
    def _signal(self) -> signal.Signals:
        return signal.SIGKILL if self.kill else signal.SIGTERM

    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> Started:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(name, process, log)
        self.started.append(started)
        return started

    def stop(self, started: Started, timeout: float = 20) -> None:
        process = started.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                # The group is the one this process leads (start_new_session): its own children.
                os.killpg(process.pid, self._signal)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if started in self.started:
            self.started.remove(started)

    def stop_all(self) -> None:
        # Every process is told first, then waited for: their shutdowns (a worker finishing
        # its task, gunicorn its workers) overlap instead of adding up.
        for started in self.started:
            if started.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.process.pid, self._signal)
        for started in reversed(list(self.started)):
            self.stop(started)

    def check_alive(self) -> None:
        for started in self.started:
            code = started.process.poll()
            if code is not None:
                tail = started.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{started.name} exited with {code}:\n{tail}")


# -- memory --------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    children = _children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS shares copy-on-write pages between a prefork
    parent and its children, so a tree's PSS sum is what it really occupies."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process tree so far (children reaped included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
        total += sum(int(v) for v in fields[11:15])
    return total / ticks


class MemorySampler:
    """Samples the process trees of ``roots`` every ``interval`` seconds until stopped."""

    def __init__(self, roots: list[int], interval: float = 0.5) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_tree_pss_kb = 0
        self.peak_process_rss_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for root in self.roots:
            pss_total = 0
            for pid in process_tree(root):
                rss, pss = memory_kb(pid)
                pss_total += pss
                self.peak_process_rss_kb = max(self.peak_process_rss_kb, rss)
            self.peak_tree_pss_kb = max(self.peak_tree_pss_kb, pss_total)
        self.samples += 1

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


# -- waiting ---------------------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
) -> bool:
    """Poll ``condition`` until true or ``timeout`` seconds pass (a bounded loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if alive is not None:
            alive()
        time.sleep(interval)
    return condition()


@dataclasses.dataclass
class Convergence:
    converged: bool
    seconds: float  # from ``start`` to convergence (or to the timeout)


def run_until_settled(
    start: Callable[[], None],
    settled: Callable[[], int],
    total: int,
    *,
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], None] | None = None,
    each: Callable[[float], bool] | None = None,
) -> Convergence:
    """Start the clock, call ``start`` (what "Apply" does), then wait until ``settled()``
    counts ``total`` (every student at a final state) or ``timeout`` seconds pass.

    ``each(elapsed)`` runs before every look (a figure taken on the way, a fault injected);
    while it returns False the look is skipped.
    """
    started = time.monotonic()
    start()

    def done() -> bool:
        if each is not None and not each(time.monotonic() - started):
            return False
        return settled() >= total

    converged = wait_until(done, timeout=timeout, interval=interval, alive=alive)
    return Convergence(converged, time.monotonic() - started)


@contextlib.contextmanager
def timed() -> Iterator[dict[str, float]]:
    box = {"start": time.monotonic(), "seconds": 0.0}
    try:
        yield box
    finally:
        box["seconds"] = time.monotonic() - box["start"]
