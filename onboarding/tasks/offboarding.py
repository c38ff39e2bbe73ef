"""The offboarding job's task: one chunk per run, on the shared job policy."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from hubcourse.jobs import JOB_OPTIONS, run_job_chunk
from onboarding import offboarding
from onboarding.models import Offboarding
from onboarding.offboarding import offboarding_run_chunk


@shared_task(name=offboarding.OFFBOARDING_TASK, job_model=Offboarding, **JOB_OPTIONS)
def offboarding_task(self: Task[Any, Any], job_id: int) -> None:

    run_job_chunk(self, Offboarding, job_id, lambda: offboarding_run_chunk(job_id=job_id))
