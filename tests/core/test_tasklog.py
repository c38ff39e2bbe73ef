"""Log lines from a task carry its id, its course and its student."""

from __future__ import annotations

import io
import logging

import pytest
from celery import shared_task

from accounts.models import Enrolment
from hubcourse.tasklog import TaskContextFilter
from hubcourse.tasks import PolicyTask

log = logging.getLogger("tests.tasklog")


@shared_task(name="tests.tasklog.about_a_student", base=PolicyTask, bind=True)
def about_a_student(self, enrolment_id: int, actor_id: int | None = None) -> None:
    log.warning("step done")


@shared_task(name="tests.tasklog.about_a_course", base=PolicyTask)
def about_a_course(course_id: int) -> None:
    log.warning("course done")


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TaskContextFilter())
    handler.setFormatter(logging.Formatter("%(task_context)s%(message)s"))
    log.addHandler(handler)
    yield stream
    log.removeHandler(handler)


@pytest.mark.django_db
def test_a_task_line_names_the_task_the_course_and_the_student(lines, course, student):
    enrolment = Enrolment.objects.get(user=student)

    about_a_student.apply(args=(enrolment.pk,), task_id="t-123")
    about_a_course.apply(kwargs={"course_id": course.pk}, task_id="t-456")
    log.warning("outside any task")

    assert lines.getvalue().splitlines() == [
        f"[task=t-123 course=docker-101 student={enrolment.pk}] step done",
        "[task=t-456 course=docker-101] course done",
        "outside any task",
    ]
