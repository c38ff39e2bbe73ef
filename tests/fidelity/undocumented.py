"""Written shapes of the Docker Hub routes hubcourse uses that Docker's spec does not describe.

Each route cites the section of ``shared/specs/dockerhub-api-notes.md`` its shape comes from,
and lists what nobody has confirmed (``unconfirmed``). The client fidelity test validates every
exchange on these routes against them (the sandbox's answers, and what the client sends), and
checks that every field the client's parser requires is required here too, so the client
never depends on more than the notes back. A route the clients use with no entry here fails
that test. Schemas are OpenAPI 3.0 schema objects (``nullable`` allowed).

Paths are written without a trailing slash: the real service and its clients use both (§2).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from integrations.dockerhub import client as dh


def autobuild_module() -> ModuleType:
    """Where the automated-build client and models live: their backend's own client since
    issue 13 moved them there, ``integrations.dockerhub.client`` before."""
    try:
        return importlib.import_module("builds.backends.autobuild.client")
    except ImportError:
        return dh


ab = autobuild_module()

Schema = dict[str, Any]


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Schema:
    """An object with these required properties (and these optional ones); others allowed."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


STR: Schema = {"type": "string"}
NSTR: Schema = {"type": "string", "nullable": True}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "format": "date-time"}
NDATE: Schema = {"type": "string", "nullable": True}

# §2: the error bodies of the v2 API; hub-tool reads `message`, then `detail`.
ERROR = obj({}, {"message": STR, "detail": STR, "errinfo": {"type": "object"}})
# §11.1: Tastypie answers; the error body is unconfirmed, `{"error": "…"}` was seen on one route.
TASTYPIE_ERROR = obj({}, {"error": STR, "detail": STR, "message": STR})


def drf_page(item: Schema) -> Schema:
    """§2: Django-REST pages."""
    return obj(
        {"count": INT, "results": {"type": "array", "items": item}},
        {"next": NSTR, "previous": NSTR},
    )


def tastypie_page(item: Schema) -> Schema:
    """§11.1: ``{meta: {limit, next, offset, previous, total_count}, objects: [...]}``."""
    meta = obj({"next": NSTR}, {"limit": INT, "offset": INT, "previous": NSTR, "total_count": INT})
    return obj({"meta": meta, "objects": {"type": "array", "items": item}})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # a template, {name} for one path segment
    notes: str  # the notes' section(s) the shape is taken from
    responses: dict[int, Schema | None]  # None: no body
    request: Schema | None = None
    query: frozenset[str] = frozenset()
    unconfirmed: tuple[str, ...] = ()
    # What the client parses out of the 2xx answer, and where: "" the body itself, "results"
    # or "objects" each item of that array, "[]" each item of a bare array.
    parses: tuple[type[BaseModel], str] | None = None
    errors: dict[int, Schema] = field(default_factory=dict)


USER = obj(
    {"id": STR, "username": STR},
    {
        "uuid": STR,
        "full_name": STR,
        "location": STR,
        "company": STR,
        "profile_url": STR,
        "date_joined": DATE,
        "gravatar_url": STR,
        "gravatar_email": STR,
        "type": {"type": "string", "enum": ["User", "Organization"]},
    },
)
ORG = obj(
    {"id": STR, "orgname": STR},
    {"full_name": STR, "location": STR, "company": STR, "date_joined": DATE},
)
TEAM_PERMISSION = obj(
    {
        "group_id": INT,
        "group_name": STR,
        "permission": {"type": "string", "enum": ["read", "write", "admin"]},
    }
)
TEAM_REPOSITORY = obj(
    {"repository": STR, "permission": {"type": "string", "enum": ["read", "write", "admin"]}},
    {"repository_type": NSTR},
)
REPOSITORY = obj(
    {"namespace": STR, "name": STR},
    {
        "description": STR,
        "full_description": STR,
        "is_private": BOOL,
        "is_automated": BOOL,
        "status_description": STR,
        "pull_count": INT,
        "last_updated": NDATE,
        "date_registered": NDATE,
    },
)
HOOK = obj({"hook_url": STR}, {"name": STR, "created": STR, "last_updated": STR})
PIPELINE = obj(
    {"name": STR},
    {
        "slug": STR,
        "expect_final_callback": BOOL,
        "webhooks": {"type": "array", "items": HOOK},
        "created": STR,
        "last_updated": STR,
    },
)
RULE_FIELDS: dict[str, Schema] = {
    "source_type": {"type": "string", "enum": ["Branch", "Tag"]},
    "source_name": STR,
    "tag": STR,
    "dockerfile": STR,
    "build_context": STR,
    "autobuild": BOOL,
    "nocache": BOOL,
}
RULE = obj(RULE_FIELDS)
SETTING = obj(
    {"uuid": STR, **RULE_FIELDS},
    {"resource_uri": STR, "buildsource": STR, "state": STR},
)
SOURCE = obj(
    {"uuid": STR, "image": STR},
    {
        "owner": STR,
        "repository": STR,
        "provider": STR,
        "state": STR,
        "resource_uri": STR,
        # §11.1: URIs in GET answers (objects only in what is sent).
        "build_settings": {"type": "array", "items": STR},
        "autotests": {"type": "string", "enum": ["OFF", "SOURCE_ONLY", "SOURCE_AND_FORKS"]},
        "build_in_farm": BOOL,
        "channel": STR,
        "deploykey": STR,
        "envvars": {"type": "array"},
        "repo_links": BOOL,
    },
)
ACTION = obj(
    {
        "uuid": STR,
        "state": {
            "type": "string",
            "enum": ["Pending", "In progress", "Canceling", "Canceled", "Success", "Failed"],
        },
    },
    {
        "build_tag": STR,
        "resource_uri": STR,
        "object": STR,
        "start_date": NSTR,
        "end_date": NSTR,
        "logs": STR,
        "source_branch": STR,
        "commit": STR,
        "dockerfile": STR,
        "action": STR,
        "body": STR,
        "method": STR,
        "path": STR,
    },
)
CATALOG_RESULT = obj(
    {"name": STR},
    {
        "id": STR,
        "slug": STR,
        "type": STR,
        "source": STR,
        "badge": {"type": "string", "enum": ["official", "verified_publisher", "none"]},
        "publisher": obj({}, {"id": STR, "name": STR}),
    },
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/v2/users/{username}",
        "§9",
        {200: USER},
        parses=(dh.DockerUser, ""),
        unconfirmed=("the 404 body", "`uuid` and `type` for an organisation"),
        errors={404: ERROR},
    ),
    Route(
        "GET",
        "/v2/orgs/{org_name}",
        "§4 (TF GetOrg)",
        {200: ORG},
        parses=(dh.Organization, ""),
    ),
    Route(
        "GET",
        "/v2/orgs/{org_name}/groups/{group_name}/repositories",
        "§5, §2 (a bare array)",
        {200: {"type": "array", "items": TEAM_REPOSITORY}},
        parses=(dh.TeamRepository, "[]"),
        unconfirmed=("`repository` is `namespace/name` or the bare name",),
    ),
    Route(
        "POST",
        "/v2/repositories/{namespace}/{repository}/privacy",
        "§6 (TF SetRepositoryPrivacy)",
        {200: None},
        request=obj({"is_private": BOOL}),
        unconfirmed=("the answer's body, which TF ignores",),
    ),
    Route(
        "PATCH",
        "/v2/repositories/{namespace}/{repository}",
        "§6 (TF UpdateRepository)",
        {200: REPOSITORY},
        request=obj({}, {"description": STR, "full_description": STR}),
        parses=(dh.Repository, ""),
    ),
    Route(
        "DELETE",
        "/v2/repositories/{namespace}/{repository}",
        "§6",
        {202: None, 204: None},
        unconfirmed=("202 or 204",),
    ),
    Route(
        "GET",
        "/v2/repositories/{namespace}/{repository}/groups/{group_id}",
        "§6 (TF GetPermissionForTeamAndRepo)",
        {200: TEAM_PERMISSION},
        parses=(dh.TeamPermission, ""),
        errors={404: ERROR},
    ),
    Route(
        "PATCH",
        "/v2/repositories/{namespace}/{repository}/groups/{group_id}",
        "§6 (TF UpdatePermissionForTeamAndRepo)",
        {200: TEAM_PERMISSION},
        request=obj({"permission": {"type": "string", "enum": ["read", "write", "admin"]}}),
        parses=(dh.TeamPermission, ""),
    ),
    Route(
        "DELETE",
        "/v2/repositories/{namespace}/{repository}/groups/{group_id}",
        "§6 (TF DeletePermissionForTeamAndRepo)",
        {204: None},
        unconfirmed=("204 rather than 200",),
    ),
    Route(
        "GET",
        "/v2/repositories/{namespace}/{repository}/webhook_pipeline",
        "§12",
        {200: drf_page(PIPELINE)},
        query=frozenset({"page", "page_size"}),
        parses=(dh.WebhookPipeline, "results"),
        unconfirmed=("paging beyond one page",),
    ),
    Route(
        "POST",
        "/v2/repositories/{namespace}/{repository}/webhook_pipeline",
        "§12",
        {201: PIPELINE, 200: PIPELINE},
        request=obj(
            {
                "name": STR,
                "webhooks": {"type": "array", "items": obj({"name": STR, "hook_url": STR})},
            },
            {"expect_final_callback": BOOL, "registry": STR},
        ),
        parses=(dh.WebhookPipeline, ""),
        unconfirmed=("201 or 200",),
    ),
    Route(
        "DELETE",
        "/v2/repositories/{namespace}/{repository}/webhook_pipeline/{slug}",
        "§12",
        {204: None},
        unconfirmed=("204 rather than 200",),
    ),
    Route(
        "GET",
        "/api/build/v1/{namespace}/source",
        "§11.1",
        {200: tastypie_page(SOURCE)},
        query=frozenset({"image", "limit", "offset"}),
        parses=(ab.BuildSource, "objects"),
    ),
    Route(
        "POST",
        "/api/build/v1/source",
        "§11.1 (the create payload)",
        {201: SOURCE, 200: SOURCE},
        request=obj(
            {
                "namespace": STR,
                "name": STR,
                "image": STR,
                "provider": STR,
                "owner": STR,
                "repository": STR,
                "build_settings": {"type": "array", "items": RULE},
            },
            {"registry": STR, "build_in_farm": BOOL},
        ),
        parses=(ab.BuildSource, ""),
        unconfirmed=("201 or 200",),
    ),
    Route(
        "PATCH",
        "/api/build/v1/{namespace}/source/{uuid}",
        "§11.1 (MAC, DS)",
        {200: SOURCE, 202: SOURCE},
        request=obj(
            {
                "build_settings": {
                    "type": "array",
                    "items": obj({**RULE_FIELDS, "uuid": STR}),
                }
            },
            {"owner": STR, "repository": STR},
        ),
        parses=(ab.BuildSource, ""),
    ),
    Route(
        "DELETE",
        "/api/build/v1/{namespace}/source/{uuid}",
        "§11.1 (a Tastypie resource, so DELETE is plausible)",
        {204: None, 202: None},
        unconfirmed=("the whole route: no client was seen deleting a source",),
        # hubcourse then switches the rules off instead (builds/backends, issue 18).
        errors={404: TASTYPIE_ERROR, 405: TASTYPIE_ERROR},
    ),
    Route(
        "GET",
        "/api/build/v1/setting",
        "§11.1 (DCS)",
        {200: tastypie_page(SETTING)},
        query=frozenset({"buildsource", "limit", "offset"}),
        parses=(ab.BuildSetting, "objects"),
    ),
    Route(
        "POST",
        "/api/build/v1/setting/{uuid}/build",
        "§11.1 (DCS triggerBuild); the action URI is in X-DockerCloud-Action-URI",
        {200: None, 201: None, 202: None},
        request=RULE,
        unconfirmed=("the status code and whether a body comes with it",),
    ),
    Route(
        "GET",
        "/api/audit/v1/action",
        "§11.1 (build history)",
        {200: tastypie_page(ACTION)},
        query=frozenset({"include_related", "limit", "offset", "object"}),
        parses=(ab.Build, "objects"),
        unconfirmed=("`source_branch` and `commit`",),
    ),
    Route(
        "GET",
        "/api/audit/v1/action/{uuid}",
        "§11.1 (GODC Action, with `logs`)",
        {200: ACTION},
        parses=(ab.Build, ""),
    ),
    Route(
        "GET",
        "/api/search/v3/catalog/search",
        "§13",
        {200: obj({"results": {"type": "array", "items": CATALOG_RESULT}}, {"total": INT})},
        query=frozenset({"query", "from", "size", "type", "source", "official", "badges"}),
        parses=(dh.CatalogResult, "results"),
        unconfirmed=("`total`",),
    ),
)
