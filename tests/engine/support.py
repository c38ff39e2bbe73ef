"""Helpers for the engine tests: a class of students in the sandbox and on the roster."""

from __future__ import annotations

from typing import Any

import requests
from django.core.cache import cache

from accounts.models import Course, Enrolment, PreflightState
from sandbox import dockerhub as hub_state
from sandbox import github_state
from sandbox.seed import INSTRUCTOR_LOGIN, student_files


def docker_id(i: int) -> str:
    return f"student{i:03d}"


def make_class(
    sandbox: Any,
    course: Course,
    size: int,
    *,
    problems: dict[int, str] | None = None,
    checked: bool = False,
) -> list[Enrolment]:
    """``size`` students with a Docker ID and a GitHub repository (owned by the course's
    GitHub account, GitHub-Classroom style, so the course token may write to it).

    ``problems`` maps a student's number to a sandbox seed problem ("missing-dockerfile").
    ``checked`` marks the pre-flight as passed, for tests about the later steps.
    """
    problems = problems or {}
    cache.clear()  # pipeline leases of an earlier test whose ids the database reused
    world = sandbox.world
    enrolments = []
    for i in range(size):
        name = docker_id(i)
        hub_state.create_user(world, name, f"{name}-password", f"{name}@example.edu")
        repo = github_state.create_repo(
            world, INSTRUCTOR_LOGIN, f"{name}-course", student_files(problems.get(i))
        )
        enrolments.append(
            Enrolment.objects.create(
                course=course,
                identifier=f"{name}@example.edu",
                docker_id=name,
                github_repo=repo["full_name"],
                preflight_state=PreflightState.PASSED if checked else PreflightState.NOT_RUN,
            )
        )
    return enrolments


def accept_all_invites(sandbox: Any, org: str) -> list[str]:
    response = requests.post(
        f"{sandbox.url}/_sandbox/dockerhub/orgs/{org}/accept", json={"invitee": "all"}, timeout=10
    )
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return list(response.json()["accepted"])


def created(sandbox: Any) -> dict[str, int]:
    """What the sandbox has created so far, by kind (its own statistics)."""
    with sandbox.world.lock:
        return dict(sandbox.world.stats["objects_created"])


def requests_to(sandbox: Any, method: str, rule_part: str) -> int:
    """How many requests the sandbox answered whose route contains ``rule_part``."""
    total = 0
    with sandbox.world.lock:
        for routes in sandbox.world.stats["requests"].values():
            for route, statuses in routes.items():
                if route.startswith(method + " ") and rule_part in route:
                    total += sum(statuses.values())
    return total
