"""Every Docker Hub client call, on success, against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from builds.backends.autobuild.client import AutobuildClient, BuildRule
from sandbox import dockerhub as sandbox_hub
from tests.clients.dockerhub_sandbox import Hub, hub_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

ORG = "revelare"


def _accept_all_invites(hub: Hub) -> None:
    org = hub.world.dockerhub["orgs"][ORG]
    for invite_id in list(org["invites"]):
        sandbox_hub.accept_invite(hub.world, invite_id)


def test_it_logs_in_once_and_reuses_the_token(hub: Hub):
    client = hub.org_client()

    client.get_organization(ORG)
    client.list_teams(ORG)

    assert hub.requests_to("POST", "/v2/auth/token") == {"200": 1}
    login = hub.journal.calls("POST", "/v2/auth/token")[0]
    assert login.body == {"identifier": ORG, "secret": hub.seeded["dockerhub"]["org_token"]}
    team_list = hub.journal.calls("GET", "/v2/orgs/revelare/groups")[0]
    assert team_list.headers["Authorization"].startswith("Bearer ")


def test_it_looks_up_docker_ids(hub: Hub):
    client = hub.org_client()

    user = client.get_user("adalovelace")

    assert (user.username, user.full_name, user.type) == ("adalovelace", "Ada Lovelace", "User")
    assert client.user_exists("adalovelace") is True
    assert client.user_exists("nosuchstudent") is False


def test_it_reads_the_organisation(hub: Hub):
    org = hub.org_client().get_organization(ORG)

    assert org.orgname == ORG


def test_it_lists_members_with_their_roles(hub: Hub):
    members = hub.org_client().list_members(ORG)

    assert [(m.username, m.role) for m in members] == [("revelareowner", "Owner")]
    assert members[0].groups == ("owners",)


def test_a_dry_run_invite_validates_without_inviting(hub: Hub):
    client = hub.org_client()

    results = client.bulk_invite(ORG, ["adalovelace", "nosuchstudent"], dry_run=True)

    assert [(r.invitee, r.status) for r in results] == [
        ("adalovelace", "invited"),
        ("nosuchstudent", "invalid_email_or_docker_id"),
    ]
    assert client.list_invites(ORG) == []
    sent = hub.journal.calls("POST", "/v2/invites/bulk")[0]
    assert sent.body == {
        "org": ORG,
        "role": "member",
        "invitees": ["adalovelace", "nosuchstudent"],
        "dry_run": True,
    }


def test_invites_can_be_sent_listed_resent_and_cancelled(hub: Hub):
    client = hub.org_client()
    client.create_team(ORG, "students")

    results = client.bulk_invite(ORG, ["adalovelace", "alanturing"], team="students")

    assert {r.status for r in results} == {"invited"}
    invites = client.list_invites(ORG)
    assert sorted(i.invitee for i in invites) == ["adalovelace", "alanturing"]
    assert {i.team for i in invites} == {"students"}
    invitees = client.list_members(ORG, type="invitee")
    assert sorted(m.username for m in invitees) == ["adalovelace", "alanturing"]
    assert all(m.is_invitee for m in invitees)

    client.resend_invite(invites[0].id)
    client.cancel_invite(invites[0].id)

    assert [i.id for i in client.list_invites(ORG)] == [invites[1].id]


def test_a_bulk_invite_of_more_than_a_thousand_is_sent_in_chunks(hub: Hub):
    client = hub.org_client()
    emails = [f"student{n}@example.edu" for n in range(1001)]

    results = client.bulk_invite(ORG, emails, dry_run=True)

    assert [r.invitee for r in results] == emails
    sent = hub.journal.calls("POST", "/v2/invites/bulk")
    assert [len(call.body["invitees"]) for call in sent] == [1000, 1]


def test_member_roles_can_be_changed_and_members_removed(hub: Hub):
    client = hub.org_client()
    client.bulk_invite(ORG, ["adalovelace"])
    _accept_all_invites(hub)

    changed = client.update_member_role(ORG, "adalovelace", "editor")
    assert changed.role == "Editor"
    assert hub.journal.calls("PUT", "/v2/orgs/revelare/members/adalovelace")[0].body == {
        "role": "editor"
    }

    client.remove_member(ORG, "adalovelace")
    assert [m.username for m in client.list_members(ORG)] == ["revelareowner"]


def test_teams_can_be_created_read_renamed_and_deleted(hub: Hub):
    client = hub.org_client()

    created = client.create_team(ORG, "docker101", "Docker 101, autumn")
    assert (created.name, created.description, created.member_count) == (
        "docker101",
        "Docker 101, autumn",
        0,
    )
    assert client.get_team(ORG, "docker101").id == created.id
    assert sorted(t.name for t in client.list_teams(ORG)) == ["docker101", "owners"]

    renamed = client.update_team(ORG, "docker101", name="docker102")
    assert (renamed.id, renamed.name) == (created.id, "docker102")

    client.delete_team(ORG, "docker102")
    assert [t.name for t in client.list_teams(ORG)] == ["owners"]


def test_team_members_can_be_added_listed_and_removed(hub: Hub):
    client = hub.org_client()
    client.create_team(ORG, "students")
    client.bulk_invite(ORG, ["adalovelace", "alanturing"])
    _accept_all_invites(hub)

    client.add_team_member(ORG, "students", "adalovelace")
    client.add_team_member(ORG, "students", "alanturing")

    members = client.list_team_members(ORG, "students")
    assert [m.username for m in members] == ["adalovelace", "alanturing"]
    assert [t.name for t in client.list_teams(ORG, username="adalovelace")] == ["students"]
    added = hub.journal.calls("POST", "/v2/orgs/revelare/groups/students/members")[0]
    assert added.body == {"member": "adalovelace"}

    client.remove_team_member(ORG, "students", "alanturing")
    assert [m.username for m in client.list_team_members(ORG, "students")] == ["adalovelace"]


def test_repositories_can_be_created_read_listed_changed_and_deleted(hub: Hub):
    client = hub.org_client()

    created = client.create_repository(ORG, "adalovelace", description="Ada's image")
    assert (created.full_name, created.is_private) == ("revelare/adalovelace", False)
    sent = hub.journal.calls("POST", "/v2/namespaces/revelare/repositories")[0]
    assert sent.body == {
        "name": "adalovelace",
        "namespace": ORG,
        "description": "Ada's image",
        "full_description": "",
        "registry": "docker.io",
        "is_private": False,
    }

    client.set_repository_privacy(ORG, "adalovelace", is_private=True)
    updated = client.update_repository(ORG, "adalovelace", description="Docker 101")
    read = client.get_repository(ORG, "adalovelace")
    assert (read.is_private, read.description, updated.description) == (
        True,
        "Docker 101",
        "Docker 101",
    )
    assert [r.name for r in client.list_repositories(ORG)] == ["adalovelace"]

    client.delete_repository(ORG, "adalovelace")
    assert client.list_repositories(ORG) == []


def test_lists_follow_next_across_several_pages(hub: Hub):
    client = hub.org_client(page_size=2)
    names = [f"student{n}" for n in range(5)]
    for name in names:
        client.create_repository(ORG, name)

    listed = client.list_repositories(ORG, ordering="name")

    assert [r.name for r in listed] == names
    assert hub.requests_to("GET", "/v2/namespaces/<namespace>/repositories") == {"200": 3}


def test_team_permissions_can_be_granted_listed_changed_and_revoked(hub: Hub):
    client = hub.org_client()
    team = client.create_team(ORG, "students")
    client.create_repository(ORG, "adalovelace")

    granted = client.grant_team_permission(ORG, "adalovelace", team.id, "write")
    assert (granted.group_name, granted.permission) == ("students", "write")
    assert hub.journal.calls("POST", "/v2/repositories/revelare/adalovelace/groups")[0].body == {
        "group_id": team.id,
        "permission": "write",
    }
    read = client.get_team_permission(ORG, "adalovelace", team.id)
    assert read is not None and (read.group_id, read.permission) == (team.id, "write")
    assert hub.journal.calls("GET", f"/v2/repositories/revelare/adalovelace/groups/{team.id}/")
    assert not hub.journal.calls("GET", "/v2/repositories/revelare/adalovelace/groups")
    assert [
        (r.repository, r.permission) for r in client.list_team_repositories(ORG, "students")
    ] == [("revelare/adalovelace", "write")]

    changed = client.change_team_permission(ORG, "adalovelace", team.id, "admin")
    assert changed.permission == "admin"

    client.revoke_team_permission(ORG, "adalovelace", team.id)
    assert client.get_team_permission(ORG, "adalovelace", team.id) is None
    assert client.team_permissions(ORG, "adalovelace", [team.id]) == {}


def test_tags_show_when_they_were_last_pushed(hub: Hub):
    client = hub.org_client()
    client.create_repository(ORG, "adalovelace")
    digest = sandbox_hub.push_tag(hub.world, ORG, "adalovelace", "latest", "adalovelace")

    tags = client.list_tags(ORG, "adalovelace")
    tag = client.get_tag(ORG, "adalovelace", "latest")

    assert [t.name for t in tags] == ["latest"]
    assert tag.digest == digest
    assert tag.tag_last_pushed is not None
    assert tag.images[0].digest == digest


def test_audit_logs_can_be_filtered_to_pushes(hub: Hub):
    client = hub.org_client()
    client.create_repository(ORG, "adalovelace")
    sandbox_hub.push_tag(hub.world, ORG, "adalovelace", "latest", "adalovelace")
    sandbox_hub.push_tag(hub.world, ORG, "adalovelace", "v1", "adalovelace")

    pushes = client.list_audit_logs(ORG, action="repo.tag.push")

    assert [(e.name, e.data["tag"]) for e in pushes] == [
        ("revelare/adalovelace", "v1"),
        ("revelare/adalovelace", "latest"),
    ]
    everything = client.list_audit_logs(ORG)
    assert {e.action for e in everything} >= {"repo.create", "repo.tag.push"}


def test_audit_logs_are_read_page_after_page(hub: Hub):
    client = hub.org_client(page_size=2)
    for n in range(5):
        client.create_repository(ORG, f"student{n}")

    created = client.list_audit_logs(ORG, action="repo.create")

    assert len(created) == 5
    assert len(hub.journal.calls("GET", "/v2/auditlogs/revelare")) == 3


def test_webhooks_can_be_added_listed_and_removed(hub: Hub):
    client = hub.org_client()
    client.create_repository(ORG, "adalovelace")

    created = client.create_webhook(
        ORG, "adalovelace", "hubcourse", "https://hubcourse.example/hooks/dockerhub"
    )

    assert created.webhooks[0].hook_url == "https://hubcourse.example/hooks/dockerhub"
    assert [p.slug for p in client.list_webhooks(ORG, "adalovelace")] == [created.slug]
    client.delete_webhook(ORG, "adalovelace", created.slug)
    assert client.list_webhooks(ORG, "adalovelace") == []


def test_an_automated_build_can_be_set_up_triggered_and_followed(hub: Hub):
    client = hub.owner_client()
    client.create_repository(ORG, "adalovelace")
    builds = AutobuildClient(client)
    assert builds.get_build_source(ORG, "adalovelace") is None

    source = builds.create_build_source(
        ORG,
        "adalovelace",
        github_owner="ada-lovelace",
        github_repository="docker-course",
        rules=[BuildRule()],
    )

    sent = hub.journal.calls("POST", "/api/build/v1/source/")[0]
    assert sent.body["build_settings"] == [
        {
            "source_type": "Branch",
            "source_name": "main",
            "tag": "latest",
            "dockerfile": "DockerfileVolume",
            "build_context": "/",
            "autobuild": True,
            "nocache": False,
        }
    ]
    assert builds.get_build_source(ORG, "adalovelace") == source
    (setting,) = builds.list_build_settings(source)
    assert (setting.source_name, setting.dockerfile, setting.build_context) == (
        "main",
        "DockerfileVolume",
        "/",
    )
    assert client.get_repository(ORG, "adalovelace").is_automated is True

    build_uuid = builds.trigger_build(setting, "revelare/adalovelace")
    assert hub.world.wait_idle(10)

    build = builds.get_build(build_uuid)
    assert build.finished
    assert build.state == "Success", build.logs
    assert build.logs
    assert [b.uuid for b in builds.list_builds(ORG, "adalovelace")] == [build_uuid]


def test_build_rules_can_be_changed_in_place(hub: Hub):
    client = hub.owner_client()
    client.create_repository(ORG, "adalovelace")
    builds = AutobuildClient(client)
    source = builds.create_build_source(
        ORG,
        "adalovelace",
        github_owner="ada-lovelace",
        github_repository="docker-course",
        rules=[BuildRule(dockerfile="Dockerfile")],
    )
    (setting,) = builds.list_build_settings(source)

    fixed = setting.model_copy(update={"dockerfile": "DockerfileVolume"})
    builds.update_build_source(source, rules=[fixed])

    (after,) = builds.list_build_settings(source)
    assert (after.uuid, after.dockerfile) == (setting.uuid, "DockerfileVolume")
