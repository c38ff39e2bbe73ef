"""Uploads are bounded while they are read: a file far over any form's limit never reaches
memory or the temporary folder in full, on the pages or through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client
from django.urls import reverse

from accounts.models import Course, User
from onboarding.models import RosterImport

pytestmark = pytest.mark.django_db

LIMIT = 1024 * 1024


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[list[int]]:
    """Bytes Django wrote to temporary files for uploads, with a 1 MB ceiling."""
    settings.FILE_UPLOAD_MAX_BYTES = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to a temporary file
    written: list[int] = []
    real = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self: TemporaryFileUploadHandler, raw_data: bytes, start: int) -> Any:
        written.append(len(raw_data))
        return real(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    yield written


def _huge() -> SimpleUploadedFile:
    row = b"student@example.edu,Student,student1234,alice/docker-course\n"
    return SimpleUploadedFile("roster.csv", row * (8 * LIMIT // len(row)), "text/csv")


def test_a_roster_file_over_the_ceiling_is_refused_while_it_is_read(
    client: Client, instructor: User, course: Course, stored: list[int]
) -> None:
    client.force_login(instructor)

    url = reverse("dashboard:roster", args=[course.slug])

    response = client.post(url, {"file": _huge()})

    # Back to the upload page with both limits in words, not a bare "Bad Request (400)".
    assert response.status_code == 303 and response["Location"] == url
    page = client.get(url).content.decode()
    assert "too large to read" in page and "up to 2 MB and 5,000 rows" in page
    assert sum(stored) <= LIMIT
    assert not RosterImport.objects.exists()


def test_the_api_refuses_it_the_same_way(
    client: Client, instructor: User, course: Course, stored: list[int]
) -> None:
    client.force_login(instructor)

    response = client.post(reverse("api:roster-import-list", args=[course.slug]), {"file": _huge()})

    assert response.status_code == 413
    assert "up to 2 MB and 5,000 rows" in response.json()["error"]["message"]
    assert sum(stored) <= LIMIT


def test_a_file_under_the_ceiling_reaches_the_form_and_its_own_limit(
    client: Client, instructor: User, course: Course, stored: list[int]
) -> None:
    client.force_login(instructor)
    small = SimpleUploadedFile("roster.csv", b"x" * (LIMIT // 2), "text/csv")

    response = client.post(reverse("dashboard:roster", args=[course.slug]), {"file": small})

    assert response.status_code == 200  # the form's own words, not a bare 400
    assert sum(stored) == LIMIT // 2
