"""New courses build with GitHub Actions, and the course form says, whenever automated
builds are chosen, that Docker retires them on 1 April 2027."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Course
from tests.dashboard.test_settings import _form

RETIRES = "Docker retires automated builds on 1 April 2027"


def _note(html: str) -> str:
    found = re.search(r'<p class="notice tone-warn backend-retirement"[^>]*>', html)
    assert found, "no retirement note on the page"
    return found.group(0)


@pytest.mark.django_db
def test_the_new_course_form_chooses_github_actions_and_keeps_the_note_hidden(
    client: Client, instructor: Any
) -> None:
    client.force_login(instructor)

    page = client.get(reverse("dashboard:course_new"))
    html = page.content.decode()

    assert page.context["form"]["build_backend"].value() == "github-actions"
    assert "Docker Hub automated builds (Docker retires them on 1 April 2027)" in html
    assert " hidden" in _note(html)  # shown by the page's script when autobuild is picked
    assert RETIRES in html and "past 31 March 2027 cannot finish on them" in html


@pytest.mark.django_db
def test_a_course_on_automated_builds_is_told_of_the_retirement(
    client: Client, instructor: Any, course: Course
) -> None:
    assert course.build_backend == "dockerhub-autobuild"  # a course made before
    client.force_login(instructor)

    html = client.get(reverse("dashboard:settings", args=[course.slug])).content.decode()
    refused = client.post(
        reverse("dashboard:course_new"),
        _form(build_backend="dockerhub-autobuild", build_tag="bad tag!"),
    ).content.decode()

    assert " hidden" not in _note(html)
    assert " hidden" not in _note(refused)


@pytest.mark.django_db
def test_a_course_created_from_the_form_builds_with_what_was_chosen(
    client: Client, instructor: Any
) -> None:
    client.force_login(instructor)

    client.post(reverse("dashboard:course_new"), _form(build_backend="github-actions"))

    assert Course.objects.get(slug="docker-202").build_backend == "github-actions"
