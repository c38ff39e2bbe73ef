"""A job's lease names the worker that took it and dies with that worker, as a student's
chain lease does: a check whose worker was killed is taken again at once, not after 5
minutes; one whose worker is alive stays with it."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Course
from hubcourse import jobs, workers
from onboarding.models import ConnectionCheck

pytestmark = pytest.mark.django_db


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def _leased_to(course: Course, holder: str) -> ConnectionCheck:
    return ConnectionCheck.objects.create(
        course=course, lease_until=timezone.now() + dt.timedelta(minutes=5), lease_holder=holder
    )


def test_a_job_whose_worker_died_is_taken_at_once(
    course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = _leased_to(course, f"{socket.gethostname()}/{_dead_pid()}/abcd")
    monkeypatch.setitem(workers._identity, "holder", "here/1/ffff")

    taken = jobs.take_lease(ConnectionCheck, check.pk)

    assert taken is not None
    assert taken.lease_holder == "here/1/ffff"


def test_a_job_whose_worker_lives_stays_with_it(course: Course) -> None:
    alive = f"{socket.gethostname()}/{os.getpid()}/abcd"
    cache.set(f"hubcourse:worker-alive:{alive}", 1, timeout=30)
    check = _leased_to(course, alive)

    assert jobs.take_lease(ConnectionCheck, check.pk) is None


def test_a_lease_taken_outside_a_worker_waits_out_its_time(course: Course) -> None:
    # No holder (the web process, a command): nobody can say it died.
    check = _leased_to(course, "")

    assert jobs.take_lease(ConnectionCheck, check.pk) is None


def test_giving_a_lease_back_forgets_its_holder(course: Course) -> None:
    check = _leased_to(course, "here/1/ffff")

    jobs.release(ConnectionCheck, check.pk)

    check.refresh_from_db()
    assert (check.lease_until, check.lease_holder) == (None, "")
