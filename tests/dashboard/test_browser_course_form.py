"""The new-course form suggests a short name from the name, as the server would derive it,
and leaves alone one the instructor typed."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.text import slugify

from tests.browser_fixtures import login_as

NAME = "Docker & Cloud — Année 2026"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_course_form_suggests_a_short_name_from_the_name(page: Any, instructor: Any) -> None:
    login_as(page, instructor)
    page.goto(reverse("dashboard:course_new"))
    short = page.locator("#id_slug")

    page.locator("#id_name").fill(NAME)

    # The same short name the server derives from the name when none is given.
    assert short.input_value() == slugify(NAME) == "docker-cloud-annee-2026"
    assert "docker-cloud-annee-2026" in page.locator("#repo-preview").inner_text()

    short.fill("dc26")
    page.locator("#id_name").fill("Docker and Cloud")
    assert short.input_value() == "dc26"

    short.fill("")
    page.locator("#id_name").fill("Docker and Cloud")
    assert short.input_value() == "docker-and-cloud"
