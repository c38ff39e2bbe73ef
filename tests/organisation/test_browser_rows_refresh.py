"""Lists rendered while a job ran (a bulk add's rows, the organisation's members) show its
results once it ends, without a reload."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts import bulk_invites
from accounts.models import BulkInvite, BulkInviteRow, OrgInvite, OrgMember, OrgSnapshot, Outcome
from hubcourse.models import JobStatus
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


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_member_lists_show_a_read_from_docker_hub_once_it_ends(page, site_admin):
    organisation = bulk_invites.default_organisation()
    OrgSnapshot.objects.create(organisation=organisation, status=JobStatus.RUNNING)
    login_as(page, site_admin)
    page.goto("/organisation/members/")
    assert "adalovelace" not in page.locator("#org-lists").inner_text()

    # The read ends while the page is open (the worker stores what Docker Hub listed).
    OrgMember.objects.create(organisation=organisation, username="adalovelace", role="Member")
    OrgInvite.objects.create(organisation=organisation, invite_id="inv-1", invitee="alanturing")
    OrgSnapshot.objects.filter(organisation=organisation).update(
        status=JobStatus.DONE, synced_at=timezone.now()
    )

    page.locator("#org-lists").get_by_text("adalovelace").wait_for()
    # "Select all" still works on the lists fetched again.
    page.locator("#org-lists [data-select-all]").check()
    assert page.locator('#org-lists input[name="invite"]').is_checked()
