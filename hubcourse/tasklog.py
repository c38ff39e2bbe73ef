"""Log lines written while a task runs say which task, course and student they are about.

``[task=<id> course=<slug> student=<enrolment id>]`` before the message, from the task's own
arguments (``course_id``, ``enrolment_id``); only ids and slugs, never a name or an address.
Outside a task the prefix is empty. The filter sits on the console handler (settings.LOGGING),
and Celery leaves the root logger to Django (CELERY_WORKER_HIJACK_ROOT_LOGGER = False).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import DatabaseError

_context: ContextVar[str] = ContextVar("hubcourse_task_context", default="")

# Who can name what a task's arguments are about (the course's slug, the student): the apps
# that own those rows register here at loading, since the core imports no app above it.
ContextProvider = Callable[[Mapping[str, Any]], list[str]]
_providers: list[ContextProvider] = []


def add_context_provider(provider: ContextProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


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
    # The prefix never stops a task: a database hiccup here is the task's own to meet.
    with suppress(DatabaseError):
        for provider in _providers:
            parts += provider(arguments)
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
