"""The offboarding job's task: one chunk per run, on the shared job policy."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from hubcourse.jobs import JOB_OPTIONS, run_job_chunk
from onboarding.models import Offboarding


@shared_task(name="onboarding.offboarding", job_model=Offboarding, **JOB_OPTIONS)
def offboarding_task(self: Task[Any, Any], job_id: int) -> None:
    from onboarding.offboarding import offboarding_run_chunk

    run_job_chunk(self, Offboarding, job_id, lambda: offboarding_run_chunk(job_id=job_id))
