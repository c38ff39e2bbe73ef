"""Benchmark 4, bulk add: 1000 Docker IDs from paste to done.

The Docker IDs exist in the sandbox (made through its control API, not timed). The clock
runs from the pasted text to every row answered. With the organisation app installed this
is its real job (parse, dry-run phase on a Celery worker, confirm, send phase on the
worker); without it, the same two requests are made here with ``DockerHubClient.bulk_invite``
(dry run, then invite), and the result says which path ran.

Targets: one dry-run and one invite request per 1000 IDs; done within 10 s with the
sandbox's default latency.
"""

from __future__ import annotations

import time
from typing import Any

from bench.context import Context
from bench.harness import Figure, MemorySampler, Result, wait_until
from sandbox.config import SandboxConfig

TARGET_SECONDS = 10.0
CHUNK = 1000


def docker_ids(count: int) -> list[str]:
    return [f"bulkadd{i:05d}" for i in range(count)]


def _organisation_app_ready() -> bool:
    from django.apps import apps
    from django.db import connection

    # Installed and migrated: while the app is being written it may be one without the other.
    return apps.is_installed("organisation") and (
        "organisation_bulkinvite" in connection.introspection.table_names()
    )


def run(ctx: Context, *, count: int, latency_ms: int, rate_limit: int) -> Result:
    result = Result(
        "bulk_add",
        "Bulk add: Docker IDs from paste to done",
        {"docker_ids": count, "latency_ms": latency_ms, "rate_limit_per_min": rate_limit},
    )
    ctx.reset_state()
    sandbox = ctx.start_sandbox(rate_limit=rate_limit, latency_ms=latency_ms)
    ctx.hub_env(sandbox)
    ids = docker_ids(count)
    for docker_id in ids:
        sandbox.control("POST", "/dockerhub/users", {"username": docker_id})
    pasted = "\n".join(ids)
    before = sandbox.dockerhub_requests()
    bulk_before = sandbox.route_requests("POST", "/v2/invites/bulk")
    if _organisation_app_ready():
        path, seconds, dry_runs, invites, memory = _through_the_job(ctx, pasted)
        if memory is not None:
            result.add(memory)
    else:
        path, seconds, dry_runs, invites = _through_the_client(ctx, pasted)
        result.notes.append(
            "The organisation app is not installed yet: the two requests were made with "
            "DockerHubClient.bulk_invite directly (no Celery worker in the path)."
        )
    bulk_calls = sandbox.route_requests("POST", "/v2/invites/bulk") - bulk_before
    all_calls = sandbox.dockerhub_requests() - before
    invited = _pending_invites(sandbox, ctx.env["DOCKERHUB_ORG"])
    chunks = -(-count // CHUNK)
    result.params["path"] = path
    result.add(
        Figure(
            "wall time, paste to done",
            seconds,
            "s",
            f"< {TARGET_SECONDS:.0f} s",
            seconds < TARGET_SECONDS,
        ),
        Figure(
            "dry-run requests",
            dry_runs,
            "",
            f"{chunks} (1 per {CHUNK})",
            dry_runs == chunks,
        ),
        Figure(
            "invite requests",
            invites,
            "",
            f"{chunks} (1 per {CHUNK})",
            invites == chunks,
        ),
        Figure("POST /v2/invites/bulk seen by the sandbox", bulk_calls),
        Figure("Docker Hub requests in all", all_calls, note="login and pending-invite reads too"),
        Figure("invites pending in the organisation", invited, "", f"{count}", invited == count),
        Figure("429s served", sandbox.rate_limited(), "", "0", sandbox.rate_limited() == 0),
    )
    ctx.stop_sandbox(sandbox)
    return result


def _pending_invites(sandbox: Any, org: str) -> int:
    state = sandbox.control("GET", f"/dockerhub/orgs/{org}")
    return sum(1 for invite in state["invites"] if invite["status"] == "pending")


def _through_the_client(ctx: Context, pasted: str) -> tuple[str, float, int, int]:
    from integrations.dockerhub.client import DockerHubClient

    org = ctx.env["DOCKERHUB_ORG"]
    started = time.monotonic()
    # What a paste box does before anything is sent: one Docker ID per entry.
    invitees = [entry for entry in pasted.replace(",", "\n").split() if entry]
    client = DockerHubClient.from_settings()
    checked = client.bulk_invite(org, invitees, dry_run=True)
    sendable = [r.invitee for r in checked if r.status == "invited"]
    client.bulk_invite(org, sendable)
    seconds = time.monotonic() - started
    chunks = -(-len(invitees) // CHUNK)
    return "DockerHubClient.bulk_invite", seconds, chunks, -(-len(sendable) // CHUNK)


def _through_the_job(ctx: Context, pasted: str) -> tuple[str, float, int, int, Figure | None]:
    from accounts.bulk_invites import bulk_invite_confirm, bulk_invite_create, enqueue
    from accounts.models import BulkInvite
    from accounts.roster_parsing import parse_invitees
    from hubcourse.models import JobStatus

    (worker,) = ctx.start_workers(1, 2)
    # Let the worker connect before the clock starts: a cold start is not the job's time.
    time.sleep(3)
    org = ctx.env["DOCKERHUB_ORG"]
    with MemorySampler([worker.process.pid]) as memory:
        started = time.monotonic()
        job = bulk_invite_create(rows=parse_invitees(pasted, as_csv=False), organisation=org)
        enqueue(job)

        def phase_done() -> bool:
            job.refresh_from_db()
            return job.status in (JobStatus.DONE, JobStatus.FAILED)

        alive = ctx.processes.check_alive
        wait_until(phase_done, timeout=300, interval=0.05, alive=alive)
        dry_runs = job.requests_made
        confirmed = bulk_invite_confirm(job_id=job.pk)
        if confirmed is not None:
            enqueue(confirmed)
        wait_until(phase_done, timeout=300, interval=0.05, alive=alive)
        seconds = time.monotonic() - started
    job = BulkInvite.objects.get(pk=job.pk)
    if job.status != JobStatus.DONE:
        raise RuntimeError(f"the bulk invite job ended {job.status}: {job.error}")
    figure = Figure(
        "worker peak memory (PSS, whole worker)",
        round(memory.peak_tree_pss_kb / 1024, 1),
        "MB",
    )
    ctx.processes.stop(worker)
    return "organisation job on a Celery worker", seconds, dry_runs, job.requests_made, figure


def default_latency() -> int:
    return SandboxConfig().latency_ms
