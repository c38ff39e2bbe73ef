"""The Docker Hub client when things go wrong: expired tokens, rate limits, faults, refusals."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import requests

from hubcourse import errors
from tests.clients.dockerhub_sandbox import Hub, hub_fixture, make_governor  # noqa: F401

pytestmark = pytest.mark.integration

ORG = "revelare"


def test_an_expired_token_is_renewed_once_and_the_call_retried(hub: Hub):
    client = hub.org_client()
    client.list_teams(ORG)
    # Past the token's 10 minutes on the service's clock; our cache still believes in it.
    hub.world.advance_clock(11 * 60)

    teams = client.list_teams(ORG)

    assert [t.name for t in teams] == ["owners"]
    assert hub.requests_to("POST", "/v2/auth/token") == {"200": 2}
    assert hub.requests_to("GET", "/v2/orgs/<org_name>/groups") == {"200": 2, "401": 1}


def test_a_token_near_its_expiry_is_renewed_before_use(hub: Hub, monkeypatch):
    client = hub.org_client()
    client.list_teams(ORG)
    real_time = time.time
    # Our clock reaches the renewal margin: the next call logs in first, with no 401.
    monkeypatch.setattr("integrations.dockerhub.client.time.time", lambda: real_time() + 600)

    client.list_teams(ORG)

    assert hub.requests_to("POST", "/v2/auth/token") == {"200": 2}
    assert hub.requests_to("GET", "/v2/orgs/<org_name>/groups") == {"200": 2}


def test_a_revoked_credential_fails_after_one_renewal(hub: Hub):
    client = hub.org_client()
    client.list_teams(ORG)
    for token in hub.world.dockerhub["orgs"][ORG]["access_tokens"].values():
        token["is_active"] = False

    with pytest.raises(errors.AuthenticationFailed) as caught:
        client.list_teams(ORG)

    assert caught.value.permanent is True
    assert caught.value.operation == "log in as revelare"
    assert hub.seeded["dockerhub"]["org_token"] not in str(caught.value)
    assert hub.requests_to("GET", "/v2/orgs/<org_name>/groups") == {"200": 1, "401": 1}
    assert hub.requests_to("POST", "/v2/auth/token") == {"200": 1, "401": 1}


def test_wrong_credentials_are_a_permanent_error_without_the_secret(hub: Hub):
    client = hub.client(ORG, "dckr_oat_wrong")

    with pytest.raises(errors.AuthenticationFailed) as caught:
        client.list_teams(ORG)

    assert str(caught.value) == (
        "Docker Hub refused to log in as revelare: Incorrect authentication credentials (HTTP 401)"
    )
    assert "dckr_oat_wrong" not in str(caught.value)


def test_a_missing_repository_is_a_permanent_not_found(hub: Hub):
    with pytest.raises(errors.NotFound) as caught:
        hub.org_client().get_repository(ORG, "nobody")

    assert caught.value.permanent is True
    assert caught.value.status == 404


def test_a_forbidden_call_is_a_permanent_forbidden(hub: Hub):
    student = hub.seeded["students"][0]
    client = hub.client(student["docker_id"], student["docker_password"])

    with pytest.raises(errors.Forbidden) as caught:
        client.list_members(ORG)

    assert caught.value.permanent is True
    assert str(caught.value).startswith("Docker Hub refused to list the members of revelare:")


def test_an_existing_repository_name_is_a_permanent_refusal(hub: Hub):
    client = hub.org_client()
    client.create_repository(ORG, "adalovelace")

    with pytest.raises(errors.PermanentError) as caught:
        client.create_repository(ORG, "adalovelace")

    assert "already exists" in str(caught.value)


def test_server_errors_are_transient(hub: Hub):
    client = hub.org_client()
    client.token()
    hub.world.config.update({"fault_rate": 1.0})

    with pytest.raises(errors.ServiceUnavailable) as caught:
        client.list_teams(ORG)

    assert caught.value.permanent is False
    assert caught.value.status in (500, 502, 503)
    # Sent once: no hidden retries.
    assert sum(hub.requests_to("GET", "/v2/orgs/<org_name>/groups").values()) == 1


def test_a_stalled_answer_is_a_transient_timeout(hub: Hub, settings):
    client = hub.org_client()
    client.token()
    settings.HTTP_READ_TIMEOUT = 0.3
    hub.world.config.update({"timeout_rate": 1.0, "timeout_s": 1.0})

    with pytest.raises(errors.ServiceTimeout) as caught:
        client.create_repository(ORG, "adalovelace")

    assert caught.value.permanent is False
    assert hub.world.stats["faults"]["timeouts"] == 1


def test_a_429_is_rate_limited_with_the_wait_it_asked_for_and_pauses_the_credential(hub: Hub):
    hub.world.config.update({"rate_limit": 5})
    client = hub.org_client()
    token = client.token()
    # Someone else spends the credential's budget behind hubcourse's back.
    answer = None
    for _ in range(6):
        answer = requests.get(
            f"{hub.sandbox.url}/v2/orgs/{ORG}/groups",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
    assert answer is not None and answer.status_code == 429
    asked = int(answer.headers["Retry-After"])

    before = dt.datetime.now(dt.UTC)
    with pytest.raises(errors.RateLimited) as caught:
        client.list_teams(ORG)

    waited = (caught.value.retry_at - before).total_seconds()
    assert asked - 2 <= waited <= asked + 2
    assert not isinstance(caught.value, errors.Throttled)
    # The governor now holds the credential until then, without another request.
    sent = sum(hub.requests_to("GET", "/v2/orgs/<org_name>/groups").values())
    with pytest.raises(errors.Throttled) as held:
        client.list_teams(ORG)
    assert held.value.retry_at >= caught.value.retry_at - dt.timedelta(seconds=1)
    assert sum(hub.requests_to("GET", "/v2/orgs/<org_name>/groups").values()) == sent


@pytest.mark.timeout(240)
def test_the_governor_keeps_two_workers_under_the_limit(hub: Hub):
    """Two workers, 24 calls, a limit of 20 a minute: every call lands, no 429 is served.

    Takes about a minute: the budget is spread over the sandbox's one-minute window and the
    last calls wait for the next window, as a Celery task would after ``Throttled``.
    """
    hub.world.config.update({"rate_limit": 20})
    governor = make_governor(hub.tmp_path, max_wait=5.0)
    failures: list[BaseException] = []
    done: list[int] = []

    def worker() -> None:
        client = hub.org_client(governor=governor)
        calls = 0
        try:
            for _ in range(60):  # bounded: 12 calls plus the Throttled rounds
                if calls == 12:
                    break
                try:
                    client.get_team(ORG, "owners")
                except errors.Throttled as exc:
                    # What a Celery task does with self.retry(countdown=...), in-thread.
                    time.sleep(min(exc.seconds_to_wait() + 0.05, 65))
                    continue
                calls += 1
        except BaseException as exc:  # the test thread reports it
            failures.append(exc)
        done.append(calls)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=200)

    assert failures == []
    assert done == [12, 12]
    assert hub.rate_limited() == 0
    assert hub.requests_to("GET", "/v2/orgs/<org_name>/groups/<group_name>") == {"200": 24}
