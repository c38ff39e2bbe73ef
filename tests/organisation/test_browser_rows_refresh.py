"""The rows of a bulk add, rendered while the dry run ran, show its answers once it ends."""

from __future__ import annotations

import pytest

from organisation.models import BulkInvite, BulkInviteRow, JobStatus, Outcome
from tests.browser_fixtures import login_as


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_rows_show_the_dry_run_once_it_finishes_without_a_reload(page, site_admin):
    job = BulkInvite.objects.create(
        organisation="revelare", status=JobStatus.RUNNING, total=2, created_by=site_admin
    )
    BulkInviteRow.objects.create(job=job, line=1, raw="adalovelace", invitee="adalovelace")
    BulkInviteRow.objects.create(job=job, line=2, raw="nobodyatall", invitee="nobodyatall")
    login_as(page, site_admin)
    page.goto(f"/organisation/bulk/{job.pk}/")
    rows = page.locator("#bulk-rows")
    assert rows.inner_text().count("waiting") == 2

    # The dry run ends while the page is open (the worker writes the answers).
    BulkInviteRow.objects.filter(job=job, line=1).update(dry_run=Outcome.INVITE)
    BulkInviteRow.objects.filter(job=job, line=2).update(
        dry_run=Outcome.INVALID, message="Docker Hub knows no Docker ID or account by this name."
    )
    BulkInvite.objects.filter(pk=job.pk).update(status=JobStatus.DONE, done=2)

    rows.get_by_text("Will be invited").wait_for()
    assert "Docker Hub knows no Docker ID" in page.locator("#bulk-rows").inner_text()
    assert "waiting" not in page.locator("#bulk-rows").inner_text()
