"""Automated builds: api/build/v1 sources and settings, builds on push, history and logs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from sandbox import github_state
from sandbox.seed import GOOD_DOCKERFILE
from tests.sandbox.conftest import Hub

RULE = {
    "source_type": "Branch",
    "source_name": "main",
    "tag": "latest",
    "dockerfile": "DockerfileVolume",
    "build_context": "/",
    "autobuild": True,
    "nocache": False,
}


def link_owner_to(hub: Hub, github_login: str) -> None:
    """The Owner's Docker Hub account linked to ``github_login``: Docker Hub builds only from
    repositories that the linked GitHub account administers."""
    response = requests.put(
        f"{hub.url}/_sandbox/dockerhub/users/{hub.seeded['dockerhub']['owner']}/github-link",
        json={"login": github_login},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def linked_repo(
    hub: Hub,
    name: str,
    files: dict[str, str] | None = None,
    rules: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], str]:
    """A GitHub repo ``student/{name}`` and a Docker Hub repo ``{org}/{name}`` with a build source."""
    if github_state.get_user(hub.world, "student") is None:
        github_state.create_user(hub.world, "student", "student@example.edu", "Student")
    link_owner_to(hub, "student")
    github = github_state.create_repo(
        hub.world,
        "student",
        name,
        files
        if files is not None
        else {"DockerfileVolume": GOOD_DOCKERFILE, "app.py": "print(1)\n"},
    )
    assert hub.create_repo(name, hub.org_token()).status_code == 201
    response = requests.post(
        f"{hub.url}/api/build/v1/source/",
        json={
            "image": f"{hub.org}/{name}",
            "provider": "github",
            "owner": "student",
            "repository": name,
            "build_settings": rules or [RULE],
        },
        headers=hub.owner(),
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json(), github["full_name"]


def history(hub: Hub, name: str) -> list[dict[str, Any]]:
    target = quote(f"/api/repo/v1/repository/{hub.org}/{name}/", safe="")
    response = requests.get(
        f"{hub.url}/api/audit/v1/action/?include_related=true&limit=10&object={target}",
        headers=hub.owner(),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["objects"])


def push(hub: Hub, full_name: str, files: dict[str, str | None], branch: str = "main") -> str:
    return github_state.push(hub.world, full_name, branch, files, "change", "student")


def test_a_source_reads_back_with_setting_uris_and_settings_resolve(hub: Hub) -> None:
    source, _ = linked_repo(hub, "readback")
    assert source["provider"] == "Github" and source["image"] == f"{hub.org}/readback"
    assert len(source["build_settings"]) == 1 and source["build_settings"][0].startswith(
        "/api/build/v1/setting/"
    )
    listed = requests.get(
        f"{hub.url}/api/build/v1/source/", params={"image": f"{hub.org}/readback"}, timeout=5
    )
    assert listed.json()["meta"]["total_count"] == 1
    setting = requests.get(
        hub.url + source["build_settings"][0], headers=hub.owner(), timeout=5
    ).json()
    assert {k: setting[k] for k in RULE} == RULE
    by_source = requests.get(
        f"{hub.url}/api/build/v1/setting/",
        params={"buildsource": source["resource_uri"]},
        headers=hub.owner(),
        timeout=5,
    ).json()
    assert [s["uuid"] for s in by_source["objects"]] == [setting["uuid"]]


def test_a_push_to_the_branch_builds_and_pushes_the_tag(hub: Hub) -> None:
    _, full_name = linked_repo(hub, "happy")
    sha = push(hub, full_name, {"app.py": "print(2)\n"})
    assert hub.world.wait_idle(10)
    builds = history(hub, "happy")
    assert [b["state"] for b in builds] == ["Success"]
    assert builds[0]["commit"] == sha and builds[0]["build_tag"] == "latest"
    assert "digest: sha256:" in builds[0]["logs"]
    tag = requests.get(
        f"{hub.url}/v2/namespaces/{hub.org}/repositories/happy/tags/latest", timeout=5
    ).json()
    assert tag["last_updater_username"] == "trustedbuilder"
    repo = requests.get(f"{hub.url}/v2/namespaces/{hub.org}/repositories/happy", timeout=5).json()
    assert repo["is_automated"] is True


def test_a_build_moves_through_pending_and_in_progress(hub: Hub) -> None:
    requests.patch(f"{hub.url}/_sandbox/config", json={"build_delay": 0.4}, timeout=5)
    _, full_name = linked_repo(hub, "slow")
    push(hub, full_name, {"app.py": "print(3)\n"})
    seen = set()
    for _ in range(200):  # bounded polling; each phase is 0.4 s
        state = history(hub, "slow")[0]["state"]
        seen.add(state)
        if state == "Success":
            break
        hub.world.wait_idle(0.05)
    assert {"Pending", "In progress", "Success"} <= seen


def test_a_push_to_another_branch_builds_nothing(hub: Hub) -> None:
    _, full_name = linked_repo(hub, "otherbranch")
    push(hub, full_name, {"app.py": "print(4)\n"}, branch="feature")
    assert hub.world.wait_idle(5)
    assert history(hub, "otherbranch") == []


def test_a_missing_dockerfile_fails_with_a_log_that_says_so(hub: Hub) -> None:
    _, full_name = linked_repo(
        hub, "nodockerfile", files={"Dockerfile": GOOD_DOCKERFILE, "app.py": "x\n"}
    )
    push(hub, full_name, {"README.md": "hi\n"})
    assert hub.world.wait_idle(10)
    build = history(hub, "nodockerfile")[0]
    assert build["state"] == "Failed"
    assert "DockerfileVolume" in build["logs"] and "no such file" in build["logs"]
    assert (
        requests.get(
            f"{hub.url}/v2/namespaces/{hub.org}/repositories/nodockerfile/tags", timeout=5
        ).json()["count"]
        == 0
    )


def test_an_unknown_base_image_fails_the_build(hub: Hub) -> None:
    broken = GOOD_DOCKERFILE.replace("python:3.12-slim", "pyhton:3.12-slim")
    _, full_name = linked_repo(hub, "badfrom", files={"DockerfileVolume": broken, "app.py": "x\n"})
    push(hub, full_name, {"README.md": "hi\n"})
    assert hub.world.wait_idle(10)
    build = history(hub, "badfrom")[0]
    assert build["state"] == "Failed" and "pyhton" in build["logs"]


def test_the_dockerfile_is_found_relative_to_the_build_context(hub: Hub) -> None:
    rule = dict(RULE, build_context="/docker/", dockerfile="DockerfileVolume")
    files = {"docker/DockerfileVolume": GOOD_DOCKERFILE, "docker/app.py": "x\n"}
    _, full_name = linked_repo(hub, "context", files=files, rules=[rule])
    push(hub, full_name, {"README.md": "hi\n"})
    assert hub.world.wait_idle(10)
    assert history(hub, "context")[0]["state"] == "Success"


def test_the_next_build_can_be_forced_to_fail_once(hub: Hub) -> None:
    _, full_name = linked_repo(hub, "forced")
    forced = requests.post(
        f"{hub.url}/_sandbox/dockerhub/repositories/{hub.org}/forced/fail-next-build",
        json={"reason": "disk full on the builder"},
        timeout=5,
    )
    assert forced.status_code == 200
    push(hub, full_name, {"app.py": "a\n"})
    assert hub.world.wait_idle(10)
    push(hub, full_name, {"app.py": "b\n"})
    assert hub.world.wait_idle(10)
    second, first = history(hub, "forced")
    assert first["state"] == "Failed" and "disk full on the builder" in first["logs"]
    assert second["state"] == "Success"


def test_a_manual_trigger_returns_the_action_uri_and_it_can_be_retried(hub: Hub) -> None:
    source, _ = linked_repo(hub, "manual")
    setting_uri = source["build_settings"][0]
    triggered = requests.post(
        f"{hub.url}{setting_uri}build/", json={}, headers=hub.owner(), timeout=5
    )
    assert triggered.status_code == 202
    action_uri = triggered.headers["X-DockerCloud-Action-URI"]
    assert hub.world.wait_idle(10)
    action = requests.get(hub.url + action_uri, headers=hub.owner(), timeout=5).json()
    assert action["state"] == "Success" and action["is_user_action"] is True
    retried = requests.post(f"{hub.url}{action_uri}retry/", headers=hub.owner(), timeout=5)
    assert retried.status_code == 202
    assert hub.world.wait_idle(10)
    assert [b["state"] for b in history(hub, "manual")] == ["Success", "Success"]


def test_a_pending_build_can_be_canceled(hub: Hub) -> None:
    requests.patch(f"{hub.url}/_sandbox/config", json={"build_delay": 30}, timeout=5)
    source, _ = linked_repo(hub, "cancel")
    triggered = requests.post(
        f"{hub.url}{source['build_settings'][0]}build/", headers=hub.owner(), timeout=5
    )
    action_uri = triggered.headers["X-DockerCloud-Action-URI"]
    canceled = requests.post(f"{hub.url}{action_uri}cancel/", headers=hub.owner(), timeout=5)
    assert canceled.status_code == 200 and canceled.json()["state"] == "Canceled"
    again = requests.post(f"{hub.url}{action_uri}cancel/", headers=hub.owner(), timeout=5)
    assert again.status_code == 400


def test_the_trigger_url_builds_without_auth(hub: Hub) -> None:
    source, _ = linked_repo(hub, "triggered")
    response = requests.post(
        hub.url + source["trigger_url"],
        json={"source_type": "Branch", "source_name": "main"},
        timeout=5,
    )
    assert response.status_code == 200
    assert hub.world.wait_idle(10)
    assert history(hub, "triggered")[0]["state"] == "Success"
    wrong = requests.post(
        hub.url + source["trigger_url"].replace(source["uuid"], "nope"),
        json={"build": True},
        timeout=5,
    )
    assert wrong.status_code == 404


def test_patch_replaces_rules_and_validates_them(hub: Hub) -> None:
    source, _ = linked_repo(hub, "patched")
    setting = requests.get(
        hub.url + source["build_settings"][0], headers=hub.owner(), timeout=5
    ).json()
    url = f"{hub.url}/api/build/v1/{hub.org}/source/{source['uuid']}/"
    updated = requests.patch(
        url,
        json={
            "build_settings": [
                dict(RULE, uuid=setting["uuid"], tag="stable"),
                dict(RULE, uuid="", source_name="dev", tag="dev"),
            ]
        },
        headers=hub.owner(),
        timeout=5,
    )
    assert updated.status_code == 200
    assert len(updated.json()["build_settings"]) == 2
    assert (
        requests.get(hub.url + source["build_settings"][0], headers=hub.owner(), timeout=5).json()[
            "tag"
        ]
        == "stable"
    )
    bad = requests.patch(
        url,
        json={"build_settings": [dict(RULE, source_type="Commit")]},
        headers=hub.owner(),
        timeout=5,
    )
    assert bad.status_code == 400


def test_build_routes_need_an_owner_and_errors_are_not_crashes(hub: Hub) -> None:
    hub.create_repo("guarded", hub.org_token())
    body = {
        "image": f"{hub.org}/guarded",
        "provider": "github",
        "owner": "x",
        "repository": "y",
        "build_settings": [RULE],
    }
    url = f"{hub.url}/api/build/v1/source/"
    assert requests.post(url, json=body, timeout=5).status_code == 401
    assert requests.post(url, json=body, headers=hub.org_token(), timeout=5).status_code == 403
    hub.make_member("memberonly")
    # A public repository: a plain member can see it but not configure its builds.
    assert (
        requests.post(url, json=body, headers=hub.user_headers("memberonly"), timeout=5).status_code
        == 403
    )
    assert (
        requests.post(
            url, json={"image": f"{hub.org}/guarded"}, headers=hub.owner(), timeout=5
        ).status_code
        == 400
    )
    missing = requests.post(
        url, json=dict(body, image=f"{hub.org}/nothere"), headers=hub.owner(), timeout=5
    )
    assert missing.status_code == 404
    assert (
        requests.get(f"{hub.url}/api/audit/v1/action/", headers=hub.owner(), timeout=5).status_code
        == 400
    )


def test_a_build_of_a_missing_github_repository_fails_with_a_log(hub: Hub) -> None:
    hub.create_repo("orphan", hub.org_token())
    link_owner_to(hub, "ghost")
    created = requests.post(
        f"{hub.url}/api/build/v1/source/",
        json={
            "image": f"{hub.org}/orphan",
            "provider": "github",
            "owner": "ghost",
            "repository": "none",
            "build_settings": [RULE],
        },
        headers=hub.owner(),
        timeout=5,
    ).json()
    requests.post(f"{hub.url}{created['build_settings'][0]}build/", headers=hub.owner(), timeout=5)
    assert hub.world.wait_idle(10)
    build = history(hub, "orphan")[0]
    assert build["state"] == "Failed" and "not found" in build["logs"]


def test_the_demo_class_builds_end_to_end_over_http(hub: Hub) -> None:
    seeded = requests.post(f"{hub.url}/_sandbox/reset", json={"seed": "demo"}, timeout=5).json()
    hub.seeded = seeded
    owner = hub.owner()
    good = next(s for s in seeded["students"] if s["problem"] is None)
    broken = next(s for s in seeded["students"] if s["problem"] == "missing-dockerfile")
    for student in (good, broken):
        name = f"{student['docker_id']}-docker"
        assert hub.create_repo(name, owner).status_code == 201
        owner_login, repo_name = student["github_repo"].split("/")
        created = requests.post(
            f"{hub.url}/api/build/v1/source/",
            json={
                "image": f"{hub.org}/{name}",
                "provider": "github",
                "owner": owner_login,
                "repository": repo_name,
                "build_settings": [RULE],
            },
            headers=owner,
            timeout=5,
        )
        assert created.status_code == 201
        pushed = requests.post(
            f"{hub.url}/_sandbox/github/repos/{student['github_repo']}/push",
            json={"files": {"app.py": "print('v2')\n"}, "message": "v2"},
            timeout=5,
        )
        assert pushed.status_code == 201, pushed.text
    idle = requests.post(f"{hub.url}/_sandbox/wait-idle", json={"timeout": 10}, timeout=15).json()
    assert idle == {"idle": True}
    assert history(hub, f"{good['docker_id']}-docker")[0]["state"] == "Success"
    failed = history(hub, f"{broken['docker_id']}-docker")[0]
    assert failed["state"] == "Failed" and "DockerfileVolume" in failed["logs"]
