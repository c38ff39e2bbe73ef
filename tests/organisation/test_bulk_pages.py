"""The bulk add pages: who may use them, paste to results, the progress endpoint, the CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import BulkInvite, Outcome
from hubcourse.models import JobStatus
from tests.organisation.support import bulk_calls, make_docker_ids, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, site_admin):
    client.force_login(site_admin)
    return client


def _post_list(client, capture, **data):
    data.setdefault("team", "students")
    data.setdefault("role", "member")
    with capture(execute=True):
        return client.post(reverse("organisation:bulk_new"), data)


@pytest.mark.parametrize("who", ["instructor", "ta", "student", "outsider"])
def test_only_site_admins_reach_the_bulk_add_page(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("organisation:bulk_new")).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get(reverse("organisation:bulk_new"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_empty_list_says_what_to_do_and_saves_nothing(admin_client):
    response = admin_client.post(
        reverse("organisation:bulk_new"), {"invitees": " ", "role": "member"}
    )
    assert response.status_code == 200
    assert "The list is empty" in response.content.decode()
    assert not BulkInvite.objects.exists()


def test_pasting_a_list_runs_the_dry_run_and_shows_each_row(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    make_docker_ids(sandbox, 2)
    response = _post_list(
        admin_client,
        django_capture_on_commit_callbacks,
        invitees="learner0000, learner0001; nosuchperson\nlearner0000",
    )
    job = BulkInvite.objects.get()
    assert response["Location"] == reverse("organisation:bulk_detail", args=[job.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Send 2 invites" in page
    assert "The same as line 1" in page
    assert "check the spelling" in page
    assert created_invites(sandbox) == 0


def test_the_count_adds_up_to_the_lines_pasted_and_the_dry_run_has_no_result_column(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    make_docker_ids(sandbox, 18)
    lines = [f"learner{i:04d}" for i in range(18)]
    lines.insert(3, "")  # line 4
    lines.insert(8, "   ")  # line 9
    lines.append("learner0002")  # line 21: repeats line 3
    response = _post_list(
        admin_client, django_capture_on_commit_callbacks, invitees="\n".join(lines)
    )
    job = BulkInvite.objects.get()
    page = admin_client.get(response["Location"]).content.decode()

    assert (
        "21 lines read: 19 Docker IDs or emails (18 different: line 21 repeats an earlier "
        "one); 2 blank lines (4, 9)."
    ) in page
    assert "18 of 18 checked with Docker Hub" in page
    # Nothing is sent during the dry run, so there is no result to show yet.
    assert ">Result<" not in page and "not sent" not in page

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("organisation:bulk_send", args=[job.pk]))
    sent = admin_client.get(response["Location"]).content.decode()
    assert ">Result<" in sent and "18 of 18 invitations sent" in sent


def created_invites(sandbox):
    return sandbox.world.stats["objects_created"].get("dockerhub.invite", 0)


def test_a_csv_upload_is_read_and_checked(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    upload = SimpleUploadedFile(
        "class.csv", b"email,name\na@example.edu,A\nb@example.edu,B\n", content_type="text/csv"
    )
    _post_list(admin_client, django_capture_on_commit_callbacks, csv_file=upload)
    job = BulkInvite.objects.get()
    assert job.source == BulkInvite.Source.CSV and job.filename == "class.csv"
    assert list(job.rows.values_list("dry_run", flat=True)) == [Outcome.INVITE, Outcome.INVITE]


def test_confirming_sends_and_the_progress_endpoint_follows_to_the_end(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    _post_list(
        admin_client,
        django_capture_on_commit_callbacks,
        invitees="\n".join(f"p{i}@example.edu" for i in range(30)),
    )
    job = BulkInvite.objects.get()
    progress_url = reverse("organisation:bulk_progress", args=[job.pk])

    before = admin_client.get(progress_url).content.decode()
    assert "data-poll-stop" in before and "Send 30 invites" in before

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("organisation:bulk_send", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.phase == BulkInvite.Phase.SEND

    after = admin_client.get(progress_url).content.decode()
    assert 'value="30"' in after and "30 of 30" in after and "100%" in after
    assert "data-poll-stop" in after
    assert "30</strong> invited" in after


def test_a_running_job_keeps_polling_and_a_reload_shows_where_it_stands(admin_client, sandbox):
    from accounts import bulk_invites
    from tests.organisation.support import parse_text

    job = bulk_invites.bulk_invite_create(
        rows=parse_text("a@example.edu b@example.edu"), organisation="Revelare", team=""
    )
    BulkInvite.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, done=1)
    partial = admin_client.get(
        reverse("organisation:bulk_progress", args=[job.pk])
    ).content.decode()
    assert f'data-poll-url="{reverse("organisation:bulk_progress", args=[job.pk])}"' in partial
    assert "1 of 2" in partial
    page = admin_client.get(reverse("organisation:bulk_detail", args=[job.pk])).content.decode()
    assert "data-poll-url" in page and "1 of 2" in page


def test_sending_the_same_list_again_says_nothing_changed(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    for _ in range(2):
        _post_list(admin_client, django_capture_on_commit_callbacks, invitees="x1@example.edu")
        job = BulkInvite.objects.order_by("-pk").first()
        assert job is not None
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                reverse("organisation:bulk_send", args=[job.pk]), follow=True
            )
    text = response.content.decode()
    assert "Nothing to send" in text and "Nothing was changed on Docker Hub" in text
    assert created_invites(sandbox) == 1
    assert bulk_calls(sandbox) == 3  # two dry runs, one send


def test_the_results_download_as_csv_safe_for_spreadsheets(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    make_team(sandbox)
    _post_list(admin_client, django_capture_on_commit_callbacks, invitees="=cmd|x\na@example.edu")
    job = BulkInvite.objects.get()
    response = admin_client.get(reverse("organisation:bulk_results_csv", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    # utf-8-sig: the download starts with a byte-order mark so Excel reads it as UTF-8.
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:5] == ["row", "as entered", "invitee", "dry run", "result"]
    assert rows[1][1] == "'=cmd|x"  # never a formula
    assert rows[2][1:4] == ["a@example.edu", "a@example.edu", "Will be invited"]


def test_a_failed_job_can_be_resumed_from_the_page(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    from accounts import bulk_invites
    from tests.organisation.support import parse_text

    make_team(sandbox)
    job = bulk_invites.bulk_invite_create(
        rows=parse_text("a@example.edu"),
        organisation=sandbox.seeded["dockerhub"]["org"],
        team="students",
    )
    BulkInvite.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error="Docker Hub was down."
    )
    page = admin_client.get(reverse("organisation:bulk_detail", args=[job.pk])).content.decode()
    assert "Docker Hub was down." in page and "Resume" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("organisation:bulk_resume", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.rows.get().dry_run == Outcome.INVITE


def test_the_rows_page_has_constant_queries_whatever_the_list_size(
    admin_client, sandbox, django_assert_max_num_queries
):
    from accounts import bulk_invites
    from tests.organisation.support import parse_text

    for size in (5, 250):
        job = bulk_invites.bulk_invite_create(
            rows=parse_text(" ".join(f"q{size}x{i}@example.edu" for i in range(size))),
            organisation="Revelare",
        )
        with django_assert_max_num_queries(14):
            admin_client.get(reverse("organisation:bulk_detail", args=[job.pk]))


def test_the_team_field_offers_the_teams_docker_hub_listed_without_asking_it_again(
    admin_client, sandbox, django_capture_on_commit_callbacks
):
    from tests.engine.support import requests_to

    make_team(sandbox, "Students-2026")
    make_team(sandbox, "teachers")
    teams_route = "/v2/orgs/<org_name>/groups"
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.get(reverse("organisation:bulk_new"))  # no read yet: one is queued
    assert first.status_code == 200
    reads = requests_to(sandbox, "GET", teams_route)
    assert reads >= 1

    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.get(reverse("organisation:bulk_new")).content.decode()

    assert requests_to(sandbox, "GET", teams_route) == reads  # a recent read: nothing asked
    options = page.split('<datalist id="known-teams">')[1].split("</datalist>")[0]
    assert '<option value="Students-2026">' in options and '<option value="teachers">' in options
    assert "as Docker Hub listed them" in page


def test_a_team_typed_in_another_case_is_sent_as_docker_hub_spells_it(admin_client):
    from accounts.models import OrgTeam
    from organisation.forms import BulkInviteForm

    OrgTeam.objects.create(organisation="revelare", team_id=1, name="Students-2026")
    form = BulkInviteForm(
        {"invitees": "someone@example.edu", "team": "students-2026", "role": "member"},
        teams=["Students-2026"],
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["team"] == "Students-2026"
