"""Log lines written while a task runs say which task, course and student they are about.

``[task=<id> course=<slug> student=<enrolment id>]`` before the message, from the task's own
arguments (``course_id``, ``enrolment_id``); only ids and slugs, never a name or an address.
Outside a task the prefix is empty. The filter sits on the console handler (settings.LOGGING),
and Celery leaves the root logger to Django (CELERY_WORKER_HIJACK_ROOT_LOGGER = False).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from contextlib import suppress
from contextvars import ContextVar
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import DatabaseError

_context: ContextVar[str] = ContextVar("hubcourse_task_context", default="")


class TaskContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task_context = _context.get()
        return True


def describe(task: Any, task_id: str, args: Any, kwargs: Any) -> str:
    """The prefix for one run of ``task`` with these arguments."""
    try:
        arguments: Mapping[str, Any] = (
            inspect.signature(task.run).bind_partial(*args, **kwargs).arguments
        )
    except (TypeError, ValueError):
        arguments = {}
    parts = [f"task={task_id}"]
    course_id, enrolment_id = arguments.get("course_id"), arguments.get("enrolment_id")
    from accounts.models import Course, Enrolment

    # The prefix never stops a task: a database hiccup here is the task's own to meet.
    with suppress(DatabaseError):
        if enrolment_id is not None:
            row = Enrolment.objects.filter(pk=enrolment_id).values("course__slug").first()
            parts += [f"course={row['course__slug']}"] if row else []
        elif course_id is not None:
            slug = Course.objects.filter(pk=course_id).values_list("slug", flat=True).first()
            parts.append(f"course={slug or course_id}")
    if enrolment_id is not None:
        parts.append(f"student={enrolment_id}")
    return "[" + " ".join(parts) + "] "


@task_prerun.connect
def _task_started(
    sender: Any = None,
    task_id: str = "",
    task: Any = None,
    args: Any = (),
    kwargs: Any = None,
    **_: Any,
) -> None:
    _context.set(describe(task or sender, task_id, args or (), kwargs or {}))


@task_postrun.connect
def _task_ended(**_: Any) -> None:
    _context.set("")
