"""The Django admin never shows a course's secrets and never overwrites them: saving a course
there (to fix its name, say) keeps the tokens it had."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course, User
from hubcourse.secrets import SecretValue

DOCKERHUB_TOKEN = "dckr_pat_admin-must-keep-this-0123456789"
GITHUB_TOKEN = "ghp_admin-must-keep-this-too-0123456789"
WEBHOOK_SECRET = "whsec-admin-must-keep-this-0123456789"


def _reveal(value: SecretValue | str) -> str:
    return value.reveal() if isinstance(value, SecretValue) else value


@pytest.mark.django_db
def test_saving_a_course_in_the_admin_keeps_its_secrets(
    client: Client, site_admin: User, course: Course
) -> None:
    course.dockerhub_token = DOCKERHUB_TOKEN
    course.github_token = GITHUB_TOKEN
    course.github_webhook_secret = WEBHOOK_SECRET
    course.save()
    client.force_login(site_admin)
    url = reverse("admin:accounts_course_change", args=[course.pk])
    form = client.get(url).context["adminform"].form
    # Post back exactly what the page holds, with a new name: what a person does there.
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, dt.datetime):
            data[f"{name}_0"], data[f"{name}_1"] = f"{value:%Y-%m-%d}", f"{value:%H:%M:%S}"
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    data["name"] = "Docker 101 (spring)"
    data.update({"roles-TOTAL_FORMS": "0", "roles-INITIAL_FORMS": "0"})

    response = client.post(url, data)

    assert response.status_code == 302, [
        (f.name, f.errors) for f in response.context["adminform"] if getattr(f, "errors", None)
    ] or response.context["errors"]
    course.refresh_from_db()
    assert course.name == "Docker 101 (spring)"
    assert _reveal(course.dockerhub_token) == DOCKERHUB_TOKEN
    assert _reveal(course.github_token) == GITHUB_TOKEN
    assert _reveal(course.github_webhook_secret) == WEBHOOK_SECRET
