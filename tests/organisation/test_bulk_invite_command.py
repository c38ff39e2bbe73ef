from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import BulkInvite, Outcome
from tests.organisation.support import bulk_calls, created, make_team

pytestmark = pytest.mark.django_db


def _call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("bulk_invite", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_invites_a_file_with_a_progress_bar_and_writes_the_results(sandbox, tmp_path):
    make_team(sandbox)
    source = tmp_path / "class.csv"
    source.write_text("email\n" + "\n".join(f"c{i}@example.edu" for i in range(1200)) + "\nbad\n")
    results = tmp_path / "results.csv"

    out, err = _call(str(source), "--team", "students", "--results", str(results))

    assert "1201 row(s) read" in out
    assert "Result: 1200 invited, 1 invalid." in out
    assert "[##############################] 1200/1200 (100%)" in err
    assert bulk_calls(sandbox) == 4  # two for the dry run, two to send
    assert created(sandbox)["dockerhub.invite"] == 1200
    rows = list(csv.reader(results.open()))
    assert rows[1][4] == "Invited" and rows[-1][4] == "Invalid"
    job = BulkInvite.objects.get()
    assert job.source == BulkInvite.Source.COMMAND and job.filename == "class.csv"


def test_dry_run_invites_nobody(sandbox, tmp_path):
    make_team(sandbox)
    source = tmp_path / "list.txt"
    source.write_text("a@example.edu, b@example.edu")
    out, _ = _call(str(source), "--team", "students", "--dry-run", "--no-progress")
    assert "Dry run: 2 will be invited." in out
    assert created(sandbox).get("dockerhub.invite", 0) == 0
    assert BulkInvite.objects.get().rows.filter(result=Outcome.INVITED).count() == 0


def test_running_the_same_file_twice_says_nothing_changed(sandbox, tmp_path):
    make_team(sandbox)
    source = tmp_path / "list.txt"
    source.write_text("a@example.edu\nb@example.edu")  # one per line: spaces never split
    _call(str(source), "--team", "students", "--no-progress")
    out, _ = _call(str(source), "--team", "students", "--no-progress")
    assert "Nothing to send" in out and "Nothing was changed on Docker Hub" in out
    assert created(sandbox)["dockerhub.invite"] == 2


def test_an_unknown_team_is_reported_as_docker_hub_says(sandbox, tmp_path):
    source = tmp_path / "list.txt"
    source.write_text("a@example.edu")
    with pytest.raises(CommandError, match="nosuchteam"):
        _call(str(source), "--team", "nosuchteam", "--no-progress")


def test_a_missing_file_is_a_plain_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _call(str(tmp_path / "nope.csv"), "--team", "students")


def test_an_unregistered_organisation_never_gets_the_site_credentials(sandbox, tmp_path):
    source = tmp_path / "class.csv"
    source.write_text("email\na@example.edu\n")
    with pytest.raises(CommandError, match="Stranger is not registered in hubcourse"):
        _call(str(source), "--team", "students", "--org", "Stranger")
    assert not BulkInvite.objects.exists()
    assert bulk_calls(sandbox) == 0
