"""The naive baseline: the class onboarded the way it is done without hubcourse.

A plain sequential script with ``requests``: log in, make the two teams, then for each
student in turn invite them (one invite request each, no bulk), create their repository,
give the course team read and the instructors admin, link the automated build and start
it; then read every student's build until all have succeeded, and check the course team
holds everyone. A 429 is survived the plain way: sleep ``Retry-After`` and send again. It
uses nothing of hubcourse (no governor, no pacing), only the same sandbox.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import requests

BUILD_RULE = {
    "source_type": "Branch",
    "source_name": "main",
    "tag": "latest",
    "dockerfile": "DockerfileVolume",
    "build_context": "/",
    "autobuild": True,
    "nocache": False,
}


@dataclasses.dataclass
class NaiveReport:
    seconds: float
    calls: int
    retried_429: int
    succeeded: int


class Script:
    def __init__(self, base_url: str, identifier: str, secret: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.identifier, self.secret = identifier, secret
        self.token = ""
        self.calls = 0
        self.retried_429 = 0

    def call(self, method: str, path: str, *, scheme: str = "Bearer", **kwargs: Any) -> Any:
        for _ in range(1000):  # bounded: a script that never gets through gives up
            headers = {"Authorization": f"{scheme} {self.token}"} if self.token else {}
            response = self.session.request(
                method, self.base + path, headers=headers, timeout=30, **kwargs
            )
            self.calls += 1
            if response.status_code == 429:
                self.retried_429 += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return response
        raise RuntimeError(f"{method} {path}: still refused after 1000 tries")

    def login(self) -> None:
        answer = self.call(
            "POST",
            "/v2/auth/token",
            json={"identifier": self.identifier, "secret": self.secret},
        )
        self.token = answer.json()["access_token"]

    def team(self, org: str, name: str) -> int:
        answer = self.call("POST", f"/v2/orgs/{org}/groups", json={"name": name})
        return int(answer.json()["id"])


def run_naive(
    *,
    base_url: str,
    org: str,
    identifier: str,
    secret: str,
    students: list[tuple[str, str]],
    team: str = "students",
    instructors: str = "instructors",
    prefix: str = "naive",
    build_timeout: float = 1800,
    between_rounds: Callable[[], None] = lambda: time.sleep(1),
) -> NaiveReport:
    """Onboard ``students`` ((Docker ID, GitHub owner/name) pairs) one call per action."""
    started = time.monotonic()
    script = Script(base_url, identifier, secret)
    script.login()
    namespace = org.lower()
    team_id = script.team(org, team)
    instructors_id = script.team(org, instructors)
    images: list[str] = []
    for docker_id, github_repo in students:
        script.call(
            "POST",
            "/v2/invites/bulk",
            json={"org": org, "team": team, "role": "member", "invitees": [docker_id]},
        )
        name = f"{prefix}-{docker_id}"
        script.call(
            "POST",
            f"/v2/namespaces/{namespace}/repositories",
            json={"name": name, "namespace": namespace, "is_private": True},
        )
        for group_id, permission in ((team_id, "read"), (instructors_id, "admin")):
            script.call(
                "POST",
                f"/v2/repositories/{namespace}/{name}/groups",
                json={"group_id": group_id, "permission": permission},
            )
        owner, _, repo = github_repo.partition("/")
        image = f"{namespace}/{name}"
        source = script.call(
            "POST",
            "/api/build/v1/source/",
            scheme="JWT",
            json={
                "image": image,
                "provider": "github",
                "owner": owner,
                "repository": repo,
                "build_settings": [BUILD_RULE],
            },
        ).json()
        setting = source["build_settings"][0].rstrip("/").rsplit("/", 1)[-1]
        script.call(
            "POST", f"/api/build/v1/setting/{setting}/build/", scheme="JWT", json=BUILD_RULE
        )
        images.append(image)
    waiting = set(images)
    deadline = time.monotonic() + build_timeout
    while waiting and time.monotonic() < deadline:
        for image in sorted(waiting):
            actions = script.call(
                "GET",
                "/api/audit/v1/action/",
                scheme="JWT",
                params={"object": f"/api/repo/v1/repository/{image}/", "limit": 1},
            ).json()["objects"]
            if actions and actions[0]["state"] == "Success":
                waiting.discard(image)
        if waiting:
            between_rounds()
    # Everyone accepted and is in the team (the invite named it): one look at the team.
    script.call("GET", f"/v2/orgs/{org}/groups/{team}/members", params={"page_size": 100})
    return NaiveReport(
        seconds=time.monotonic() - started,
        calls=script.calls,
        retried_429=script.retried_429,
        succeeded=len(images) - len(waiting),
    )
