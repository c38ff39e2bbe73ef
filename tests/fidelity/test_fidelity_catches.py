"""The client fidelity check fails when it should: a sandbox answer missing a field the spec
requires, a client call with a query parameter the description does not know, a route with
no written shape, and (under CI) GitHub's description missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _pytest.outcomes import Failed, Skipped

from hubcourse import http
from integrations.github.client import GitHubClient
from sandbox import dockerhub, dockerhub_repos
from tests.fidelity import descriptions
from tests.fidelity.recorder import Recorder
from tests.fidelity.support import verdict
from tests.fidelity.test_client_fidelity import drive_dockerhub, drive_github, recorder
from tests.fidelity.validate import DockerHubDescription, GitHubDescription
from tests.sandbox.test_fidelity_dockerhub import load_spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

__all__ = ["recorder"]  # the fixture, shared with the main test
# Imported first: sandbox.dockerhub and dockerhub_repos import each other.
assert dockerhub


def _with_extra_query(monkeypatch: pytest.MonkeyPatch, path_end: str, name: str) -> None:
    """Every client call whose URL ends with ``path_end`` also sends ``name=1``."""
    original: Callable[..., Any] = http.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        if url.split("?", 1)[0].endswith(path_end):
            kwargs["params"] = {**(kwargs.get("params") or {}), name: "1"}
        return original(method, url, **kwargs)

    monkeypatch.setattr(http, "request", request)


def test_a_required_field_missing_from_a_sandbox_answer_is_reported(
    sandbox: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = dockerhub_repos.info_view

    def without_collaborators(*args: Any) -> dict[str, Any]:
        view = full(*args)
        del view["collaborator_count"]
        return view

    monkeypatch.setattr(dockerhub_repos, "info_view", without_collaborators)

    drive_dockerhub(sandbox)  # the client itself does not read the field: it works

    _, problems = verdict(DockerHubDescription(load_spec(sandbox.url)).check, recorder.exchanges)
    assert problems and all("collaborator_count" in p for p in problems), problems


def test_a_query_parameter_the_spec_does_not_know_is_reported(
    sandbox: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_extra_query(monkeypatch, "/tags", "sort_by")
    _with_extra_query(monkeypatch, "/webhook_pipeline/", "expand")

    drive_dockerhub(sandbox)

    _, problems = verdict(DockerHubDescription(load_spec(sandbox.url)).check, recorder.exchanges)
    assert any("/tags" in p and "sort_by" in p for p in problems), problems
    assert any("webhook_pipeline" in p and "expand" in p for p in problems), problems


def test_a_route_without_a_written_shape_is_reported(sandbox: Any, recorder: Recorder) -> None:
    drive_dockerhub(sandbox)

    _, problems = verdict(
        DockerHubDescription(load_spec(sandbox.url), routes=()).check, recorder.exchanges
    )
    assert any("/v2/users/" in p and "no written shape" in p for p in problems), problems
    assert any("/api/build/v1/" in p and "no written shape" in p for p in problems), problems


def test_a_github_query_parameter_the_description_does_not_know_is_reported(
    sandbox: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = descriptions.github_spec()
    _with_extra_query(monkeypatch, "/actions/runs", "colour")

    drive_github(sandbox)

    _, problems = verdict(GitHubDescription(spec).check, recorder.exchanges)
    assert any("/actions/runs" in p and "colour" in p for p in problems), problems


def test_githubs_description_missing_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(descriptions, "GITHUB_SPEC", tmp_path / "absent.json")
    monkeypatch.setattr(descriptions, "ROOT", tmp_path)

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped):
        descriptions.github_spec()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="CI is set"):
        descriptions.github_spec()


def test_every_public_method_counts_class_methods_too() -> None:
    from tests.fidelity.support import public_methods

    assert {"from_settings", "for_oauth_token", "job_log"} <= set(public_methods(GitHubClient))
