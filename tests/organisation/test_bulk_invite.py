"""Bulk invites against the sandbox over HTTP: the dry run, chunks of 1000, re-runs."""

from __future__ import annotations

import pytest

from accounts import bulk_invites
from accounts.models import BulkInvite, Outcome
from hubcourse.models import AuditEvent, JobStatus
from tests.organisation.support import bulk_calls, created, make_docker_ids, make_team, parse_text

pytestmark = pytest.mark.django_db


def _create(sandbox, text, team="students", **kwargs):
    return bulk_invites.bulk_invite_create(
        rows=parse_text(text),
        organisation=sandbox.seeded["dockerhub"]["org"],
        team=team,
        **kwargs,
    )


def _run(job):
    while bulk_invites.bulk_invite_run_chunk(job_id=job.pk):
        pass
    job.refresh_from_db()
    return job


def _outcomes(job, field):
    return {row.raw: getattr(row, field) for row in job.rows.all()}


def test_the_dry_run_comes_from_docker_hub_and_invites_nobody(sandbox):
    make_team(sandbox)
    make_docker_ids(sandbox, 2)
    owner = sandbox.seeded["dockerhub"]["owner"]
    job = _run(_create(sandbox, f"learner0000 learner0001 nosuchperson {owner} learner0000 x"))

    assert job.status == JobStatus.DONE and job.checked_at is not None
    assert job.awaiting_confirmation
    assert [row.dry_run for row in job.rows.order_by("line")] == [
        Outcome.INVITE,
        Outcome.INVITE,
        Outcome.INVALID,  # Docker Hub knows no such Docker ID
        Outcome.ALREADY_MEMBER,  # the owner
        Outcome.DUPLICATE,  # line 1 again: never sent twice
        Outcome.INVALID,  # not a Docker ID: never sent
    ]
    assert "spelling" in job.rows.get(line=3).message
    assert job.rows.get(line=5).message.startswith("The same as line 1")
    assert created(sandbox).get("dockerhub.invite", 0) == 0
    assert bulk_calls(sandbox) == 1


def test_sending_after_the_dry_run_invites_each_row_once_and_records_the_invite(sandbox):
    make_team(sandbox)
    make_docker_ids(sandbox, 3)
    job = _run(_create(sandbox, "learner0000 learner0001 learner0002 nosuchperson"))
    confirmed = bulk_invites.bulk_invite_confirm(job_id=job.pk)
    assert confirmed is not None and confirmed.total == 3
    job = _run(job)

    assert job.phase == BulkInvite.Phase.SEND and job.status == JobStatus.DONE
    invited = job.rows.filter(result=Outcome.INVITED)
    assert sorted(r.invitee for r in invited) == ["learner0000", "learner0001", "learner0002"]
    assert all(r.invite_id for r in invited)
    assert job.rows.get(raw="nosuchperson").result == Outcome.INVALID
    assert created(sandbox)["dockerhub.invite"] == 3
    assert not bulk_invites.nothing_changed(job)
    assert AuditEvent.objects.filter(action="invite.bulk", outcome="ok").exists()


def test_a_list_of_2500_goes_out_in_three_requests_of_at_most_1000(sandbox):
    make_team(sandbox)
    emails = " ".join(f"student{i}@example.edu" for i in range(2500))
    job = _run(_create(sandbox, emails))
    assert bulk_calls(sandbox) == 3  # the dry run, in chunks too
    assert job.requests_made == 3

    bulk_invites.bulk_invite_confirm(job_id=job.pk)
    job = _run(job)
    assert bulk_calls(sandbox) == 6
    assert job.requests_made == 3
    assert job.rows.filter(result=Outcome.INVITED).count() == 2500
    assert created(sandbox)["dockerhub.invite"] == 2500
    assert (job.done, job.total, job.percent) == (2500, 2500, 100)


def test_running_the_same_list_again_changes_nothing_and_says_so(sandbox):
    make_team(sandbox)
    make_docker_ids(sandbox, 3)
    text = "learner0000 learner0001 learner0002"
    first = _run(_create(sandbox, text))
    bulk_invites.bulk_invite_confirm(job_id=first.pk)
    _run(first)
    invites_before = created(sandbox)["dockerhub.invite"]
    calls_before = bulk_calls(sandbox)

    again = _run(_create(sandbox, text))
    assert set(_outcomes(again, "dry_run").values()) == {Outcome.ALREADY_INVITED}
    assert "pending since" in again.rows.first().message
    confirmed = bulk_invites.bulk_invite_confirm(job_id=again.pk)

    assert confirmed is not None and confirmed.status == JobStatus.DONE and confirmed.total == 0
    assert bulk_invites.nothing_changed(confirmed)
    assert bulk_calls(sandbox) == calls_before + 1  # the dry run only: nothing was sent
    assert created(sandbox)["dockerhub.invite"] == invites_before
    assert AuditEvent.objects.filter(action="invite.bulk", outcome="noop").exists()


def test_a_member_who_accepted_is_reported_as_already_a_member(sandbox):
    from tests.organisation.support import accept_all_invites

    make_team(sandbox)
    make_docker_ids(sandbox, 1)
    first = _run(_create(sandbox, "learner0000"))
    bulk_invites.bulk_invite_confirm(job_id=first.pk)
    _run(first)
    accept_all_invites(sandbox, sandbox.seeded["dockerhub"]["org"])

    again = _run(_create(sandbox, "learner0000"))
    assert again.rows.get().dry_run == Outcome.ALREADY_MEMBER


def test_an_unknown_team_stops_the_job_with_docker_hubs_sentence(sandbox, settings):
    from hubcourse.errors import Invalid

    job = _create(sandbox, "someone@example.edu", team="nosuchteam")
    with pytest.raises(Invalid) as error:
        bulk_invites.bulk_invite_run_chunk(job_id=job.pk)
    assert "nosuchteam" in str(error.value)
    job.refresh_from_db()
    assert job.lease_until is None  # the lease is given back: a resume can run


def test_a_failure_mid_way_resumes_at_the_first_unanswered_chunk(sandbox, monkeypatch):
    from hubcourse.errors import ServiceUnavailable
    from integrations.dockerhub.client import DockerHubClient

    make_team(sandbox)
    job = _run(_create(sandbox, " ".join(f"s{i}@example.edu" for i in range(1500))))
    bulk_invites.bulk_invite_confirm(job_id=job.pk)
    assert bulk_invites.bulk_invite_run_chunk(job_id=job.pk) is True  # the first 1000 are out

    real = DockerHubClient.bulk_invite

    def broken(self, *args, **kwargs):
        raise ServiceUnavailable("Docker Hub", "invite", 503, "down")

    monkeypatch.setattr(DockerHubClient, "bulk_invite", broken)
    with pytest.raises(ServiceUnavailable):
        bulk_invites.bulk_invite_run_chunk(job_id=job.pk)
    monkeypatch.setattr(DockerHubClient, "bulk_invite", real)

    _run(job)
    assert job.rows.filter(result=Outcome.INVITED).count() == 1500
    assert created(sandbox)["dockerhub.invite"] == 1500  # nobody invited twice
    assert job.requests_made == 2


def test_a_second_worker_finds_the_job_leased_and_does_nothing(sandbox):
    from hubcourse import jobs

    job = _create(sandbox, "someone@example.edu")
    assert jobs.take_lease(BulkInvite, job.pk) is not None
    assert bulk_invites.bulk_invite_run_chunk(job_id=job.pk) is False
    assert bulk_calls(sandbox) == 0


def test_a_list_with_only_bad_rows_finishes_at_once_without_calling_docker_hub(sandbox):
    job = _create(sandbox, "x y zz")
    assert job.status == JobStatus.DONE and job.total == 0
    assert bulk_calls(sandbox) == 0
