"""The step registry: every step defined once, and a definition a page cannot show refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.steps import StepName
from hubcourse.celery import app
from onboarding.steps import PIPELINE, STEPS, StepDefinition, build_registry
from onboarding.tasks.steps import STEP_TASKS


def _with(name: StepName, **changes: Any) -> list[StepDefinition]:
    return [dataclasses.replace(d, **changes) if d.name == name else d for d in STEPS.values()]


def test_every_step_name_has_one_definition_in_plan_order() -> None:
    assert set(STEPS) == set(StepName)
    orders = [d.order for d in STEPS.values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert all(d.label.strip() and 1 <= d.handout_step <= 5 for d in STEPS.values())


def test_a_step_without_a_label_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="no label"):
        build_registry(_with(StepName.PERMISSIONS, label=" "))


@pytest.mark.parametrize("handout_step", [0, 6])
def test_a_step_outside_the_handout_is_refused(handout_step: int) -> None:
    with pytest.raises(ImproperlyConfigured, match="no handout step"):
        build_registry(_with(StepName.REPOSITORY, handout_step=handout_step))


def test_a_step_name_without_a_definition_is_refused() -> None:
    definitions = [d for d in STEPS.values() if d.name != StepName.INVITE]
    with pytest.raises(ImproperlyConfigured, match="invite"):
        build_registry(definitions)


def test_each_chain_step_has_a_task_generated_under_its_name() -> None:
    assert PIPELINE == (
        StepName.PREFLIGHT,
        StepName.TEAM,
        StepName.REPOSITORY,
        StepName.PERMISSIONS,
        StepName.CONFIGURE_BUILD,
        StepName.TRIGGER_FIRST_BUILD,
    )
    for name in PIPELINE:
        task = STEP_TASKS[name]
        assert task.name == f"onboarding.step.{name.value}"
        assert task.name in app.tasks
