"""One walk-through in Debian's Chromium: a bulk add of a few hundred IDs, paste to finish."""

from __future__ import annotations

import pytest

from accounts.models import BulkInvite, Outcome
from tests.browser_fixtures import login_as, save_screenshot
from tests.organisation.support import bulk_calls, created, make_docker_ids, make_team


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_bulk_adds_a_few_hundred_ids_from_paste_to_finished_progress(
    page,
    sandbox,
    site_admin,
):
    make_team(sandbox)
    docker_ids = make_docker_ids(sandbox, 20)
    emails = [f"student{i}@example.edu" for i in range(280)]
    # One entry per line or separated by commas and semicolons; spaces never split one.
    pasted = ", ".join(docker_ids) + "\n" + "; ".join(emails) + "\nnot-valid\n" + docker_ids[0]
    login_as(page, site_admin)

    page.goto("/organisation/bulk/")
    page.get_by_label("Docker IDs or email addresses").fill(pasted)
    page.get_by_label("Team").fill("students")
    save_screenshot(page, "organisation", "bulk-1-pasted")
    page.get_by_role("button", name="Check with Docker Hub (dry run)").click()

    status = page.locator("#bulk-progress")
    status.get_by_text("300 will be invited").wait_for()
    assert "1 duplicate in the list" in status.inner_text()
    assert "1 invalid" in status.inner_text()
    assert created(sandbox).get("dockerhub.invite", 0) == 0
    save_screenshot(page, "organisation", "bulk-2-dry-run")

    page.get_by_role("button", name="Send 300 invites").click()
    page.locator("#bulk-progress").get_by_text("300 invited").wait_for()
    progress = page.locator("#bulk-progress progress")
    assert progress.get_attribute("value") == "300" and progress.get_attribute("max") == "300"
    assert "300 of 300 invitations sent · 100%" in page.locator("#bulk-progress").inner_text()
    save_screenshot(page, "organisation", "bulk-3-sent")

    # A reload finds the finished job where it was, with each row's result.
    page.reload()
    assert "300 of 300 invitations sent · 100%" in page.locator("#bulk-progress").inner_text()
    assert page.get_by_role("link", name="Download the results (CSV)").is_visible()
    page.get_by_label("Show").select_option(Outcome.INVALID.value)
    page.get_by_role("button", name="Filter").click()
    assert "not-valid" in page.locator("table.list").inner_text()
    save_screenshot(page, "organisation", "bulk-4-invalid-rows")

    job = BulkInvite.objects.get()
    assert job.rows.filter(result=Outcome.INVITED).count() == 300
    assert bulk_calls(sandbox) == 2  # one dry run, one send: 300 fit in one request
