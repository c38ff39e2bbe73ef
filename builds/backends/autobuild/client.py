"""Docker Hub's automated-build routes: the undocumented ``api/build/v1`` (build sources and
their rules, triggers) and ``api/audit/v1/action`` (build history and logs), notes §11.1.

They live with the backend that uses them, not in ``integrations.dockerhub``: nothing else in
hubcourse builds on them, and Docker retires automated builds on 1 April 2027. The calls go
through a :class:`DockerHubClient` (its login, rate-limit governor, 401 retry and error words),
so a course's one client and its one token serve both.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict

from hubcourse.errors import UnexpectedResponse
from integrations.dockerhub.client import (
    MAX_PAGES,
    SERVICE,
    DockerHubClient,
    parse_answer,
    parse_value,
)


def _cloud_date(value: object) -> object:
    # Docker Cloud's action dates are RFC 2822 ("Thu, 12 Jul 2018 08:25:24 +0000").
    if isinstance(value, str) and value[:1].isalpha():
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return value
    return value


_CloudDate = Annotated[dt.datetime | None, BeforeValidator(_cloud_date)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


_V = TypeVar("_V", bound=_Value)


class BuildRule(_Value):
    """One automated-build rule, as sent to Docker Hub. The course default is the handout's."""

    source_type: Literal["Branch", "Tag"] = "Branch"
    source_name: str = "main"
    tag: str = "latest"
    dockerfile: str = "DockerfileVolume"
    build_context: str = "/"
    autobuild: bool = True
    nocache: bool = False


class BuildSetting(BuildRule):
    """A stored build rule (``api/build/v1/setting``), with its identity and state."""

    uuid: str
    resource_uri: str = ""
    state: str = ""


class BuildSource(_Value):
    """The link between a Docker Hub repository and its GitHub repository, with rule URIs."""

    uuid: str
    image: str
    owner: str = ""
    repository: str = ""
    provider: str = ""
    state: str = ""
    resource_uri: str = ""
    # In GET answers the rules are URIs (notes §11.1).
    build_settings: tuple[str, ...] = ()


class Build(_Value):
    """One automated build (an ``api/audit/v1/action``). ``state``: Pending, In progress,
    Success, Failed, Canceled (notes §11.1)."""

    uuid: str
    state: str
    build_tag: str = ""
    resource_uri: str = ""
    source_branch: str = ""
    commit: str = ""
    start_date: _CloudDate = None
    end_date: _CloudDate = None
    logs: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("Success", "Failed", "Canceled")


class _TastypieMeta(_Value):
    next: str | None = None


class _TastypiePage(_Value):
    meta: _TastypieMeta = _TastypieMeta()
    objects: tuple[dict[str, Any], ...] = ()


_RULE_FIELDS = set(BuildRule.model_fields)


class AutobuildClient:
    """The automated-build calls, made with ``hub``'s credentials (an Owner's, notes §11.1)."""

    def __init__(self, hub: DockerHubClient) -> None:
        self.hub = hub

    def __repr__(self) -> str:
        return f"AutobuildClient({self.hub!r})"

    def _pages(
        self, path: str, model: type[_V], *, operation: str, params: Mapping[str, Any]
    ) -> Iterator[_V]:
        """Follow Tastypie pages (``{meta: {next}, objects}``) of the build API to the end."""
        query: dict[str, Any] = dict(params)
        query.setdefault("limit", self.hub.page_size)
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.hub.call("GET", url, operation=operation, params=query, scheme="JWT")
            page = parse_answer(_TastypiePage, response, operation)
            for row in page.objects:
                yield parse_value(model, row, operation)
            url = page.meta.next
            query = {}
        raise UnexpectedResponse(SERVICE, operation, None, f"more than {MAX_PAGES} pages")

    def _one(self, path: str, model: type[_V], *, operation: str, scheme: str) -> _V:
        response = self.hub.call("GET", path, operation=operation, scheme=scheme)
        return parse_answer(model, response, operation)

    def get_build_source(self, namespace: str, name: str) -> BuildSource | None:
        """The repository's link to GitHub, or ``None`` when it has no automated build."""
        # Reference: undocumented api/build/v1 (notes §11.1; shields.io and public scripts)
        image = f"{namespace}/{name}"
        for source in self._pages(
            f"/api/build/v1/{_seg(namespace)}/source/",
            BuildSource,
            operation=f"read the automated build of {image}",
            params={"image": image},
        ):
            if source.image.lower() == image.lower():
                return source
        return None

    def create_build_source(
        self,
        namespace: str,
        name: str,
        *,
        github_owner: str,
        github_repository: str,
        rules: Sequence[BuildRule],
    ) -> BuildSource:
        """Link ``namespace/name`` to a GitHub repository with build rules (needs an Owner)."""
        # Reference: undocumented api/build/v1 (notes §11.1, the DCS client's create payload)
        image = f"{namespace}/{name}"
        operation = f"set up the automated build of {image}"
        response = self.hub.call(
            "POST",
            "/api/build/v1/source/",
            operation=operation,
            scheme="JWT",
            json={
                "namespace": namespace,
                "name": name,
                "image": image,
                "registry": "registry-1.docker.io",
                "build_in_farm": True,
                "provider": "github",
                "owner": github_owner,
                "repository": github_repository,
                "build_settings": [rule.model_dump(include=_RULE_FIELDS) for rule in rules],
            },
        )
        return parse_answer(BuildSource, response, operation)

    def update_build_source(
        self,
        source: BuildSource,
        *,
        rules: Sequence[BuildRule],
        github_owner: str | None = None,
        github_repository: str | None = None,
    ) -> BuildSource:
        """Replace the rules; a ``BuildSetting`` keeps its uuid (updated), a ``BuildRule`` is new."""
        # Reference: undocumented api/build/v1 (notes §11.1, the PATCH of MAC and DS)
        namespace = source.image.split("/", 1)[0]
        operation = f"change the automated build of {source.image}"
        body: dict[str, Any] = {
            "build_settings": [
                {
                    **rule.model_dump(include=_RULE_FIELDS),
                    "uuid": rule.uuid if isinstance(rule, BuildSetting) else "",
                }
                for rule in rules
            ]
        }
        if github_owner is not None:
            body["owner"] = github_owner
        if github_repository is not None:
            body["repository"] = github_repository
        response = self.hub.call(
            "PATCH",
            f"/api/build/v1/{_seg(namespace)}/source/{_seg(source.uuid)}/",
            operation=operation,
            scheme="JWT",
            json=body,
        )
        return parse_answer(BuildSource, response, operation)

    def delete_build_source(self, source: BuildSource) -> None:
        """Unlink the repository from GitHub: its rules go with it (needs an Owner)."""
        # Reference: undocumented api/build/v1 (notes §11.1; the source is a Tastypie resource)
        namespace = source.image.split("/", 1)[0]
        self.hub.call(
            "DELETE",
            f"/api/build/v1/{_seg(namespace)}/source/{_seg(source.uuid)}/",
            operation=f"remove the automated build of {source.image}",
            scheme="JWT",
        )

    def list_build_settings(self, source: BuildSource) -> list[BuildSetting]:
        # Reference: undocumented api/build/v1 (notes §11.1, the DCS client)
        return list(
            self._pages(
                "/api/build/v1/setting/",
                BuildSetting,
                operation=f"read the build rules of {source.image}",
                params={"buildsource": source.resource_uri},
            )
        )

    def trigger_build(self, setting: BuildSetting, image: str) -> str:
        """Start a build of one rule now; returns the new build's uuid."""
        # Reference: undocumented api/build/v1 (notes §11.1, DCS triggerBuild)
        operation = f"start a build of {image}"
        response = self.hub.call(
            "POST",
            f"/api/build/v1/setting/{_seg(setting.uuid)}/build/",
            operation=operation,
            scheme="JWT",
            json=setting.model_dump(include=_RULE_FIELDS),
        )
        uri = response.headers.get("X-DockerCloud-Action-URI", "")
        uuid = uri.rstrip("/").rsplit("/", 1)[-1]
        if not uuid:
            raise UnexpectedResponse(
                SERVICE, operation, response.status_code, "no X-DockerCloud-Action-URI header"
            )
        return uuid

    def list_builds(self, namespace: str, name: str, *, limit: int = 25) -> list[Build]:
        """The most recent builds of a repository, newest first (at most ``limit``)."""
        # Reference: undocumented api/audit/v1/action (notes §11.1)
        image = f"{namespace}/{name}"
        operation = f"read the build history of {image}"
        response = self.hub.call(
            "GET",
            "/api/audit/v1/action/",
            operation=operation,
            scheme="JWT",
            params={
                "include_related": "true",
                "limit": limit,
                "object": f"/api/repo/v1/repository/{namespace}/{name}/",
            },
        )
        page = parse_answer(_TastypiePage, response, operation)
        return [parse_value(Build, row, operation) for row in page.objects]

    def get_build(self, build_uuid: str) -> Build:
        """One build, with its log so far in ``logs``."""
        # Reference: undocumented api/audit/v1/action (notes §11.1; Docker Cloud's Action.logs)
        return self._one(
            f"/api/audit/v1/action/{_seg(build_uuid)}/",
            Build,
            operation="read a build",
            scheme="JWT",
        )

    def build_log(self, build_uuid: str) -> str:
        return self.get_build(build_uuid).logs


def _seg(value: str) -> str:
    """One URL path segment: a name with a slash must not reach another route."""
    return quote(value, safe="")
