"""The control API and page for Docker Hub: users, organisations, invites, forms."""

from __future__ import annotations

import requests

from tests.sandbox.conftest import Hub


def test_the_page_shows_the_world_and_the_github_controls(hub: Hub) -> None:
    requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "demo"}, timeout=5)
    page = requests.get(f"{hub.url}/_sandbox/", timeout=5)
    assert page.status_code == 200
    assert "Revelare" in page.text and "adalovelace" in page.text
    assert "GitHub controls are not loaded" not in page.text


def test_a_form_post_accepts_an_invite_and_redirects_back(hub: Hub) -> None:
    hub.create_user("formstudent")
    invited = requests.post(
        f"{hub.url}/v2/invites/bulk",
        json={"org": hub.org, "invitees": ["formstudent"]},
        headers=hub.org_token(),
        timeout=5,
    ).json()
    invite_id = invited["invitees"][0]["invite"]["id"]
    response = requests.post(
        f"{hub.url}/_sandbox/dockerhub/invites/{invite_id}/accept",
        data={},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    assert "/_sandbox/" in response.headers["Location"]
    assert hub.world.dockerhub["orgs"][hub.org]["members"]["formstudent"]["role"] == "member"


def test_an_org_made_through_the_control_api_gets_a_working_access_token(hub: Hub) -> None:
    created = requests.post(
        f"{hub.url}/_sandbox/dockerhub/orgs",
        json={"name": "otherclass", "owner": "teacher2"},
        timeout=5,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["org_token"].startswith("dckr_oat_")
    token = hub.login("otherclass", body["org_token"])
    members = requests.get(
        f"{hub.url}/v2/orgs/otherclass/members", headers=hub.headers(token), timeout=5
    ).json()
    assert [m["username"] for m in members["results"]] == ["teacher2"]
    taken = requests.post(
        f"{hub.url}/_sandbox/dockerhub/orgs",
        json={"name": "otherclass", "owner": "teacher2"},
        timeout=5,
    )
    assert taken.status_code == 400


def test_control_errors_are_json_not_crashes(hub: Hub) -> None:
    assert (
        requests.post(f"{hub.url}/_sandbox/dockerhub/users", json={}, timeout=5).status_code == 400
    )
    assert (
        requests.post(
            f"{hub.url}/_sandbox/dockerhub/users", json={"username": "No!"}, timeout=5
        ).status_code
        == 400
    )
    assert (
        requests.post(f"{hub.url}/_sandbox/dockerhub/invites/nope/accept", timeout=5).status_code
        == 404
    )
    bad = requests.post(
        f"{hub.url}/_sandbox/config",
        data="[1]",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400 and "error" in bad.json()


def test_the_settings_form_applies_typed_values(hub: Hub) -> None:
    form = {
        "latency_ms": "0",
        "rate_limit": "90",
        "github_rate_limit": "5000",
        "build_delay": "0.5",
        "fault_rate": "0",
        "timeout_rate": "0",
        "drop_webhook_rate": "0.25",
    }
    response = requests.post(
        f"{hub.url}/_sandbox/config", data=form, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302
    config = requests.get(f"{hub.url}/_sandbox/config", timeout=5).json()
    assert (config["rate_limit"], config["drop_webhook_rate"], config["webhooks_enabled"]) == (
        90,
        0.25,
        False,
    )
