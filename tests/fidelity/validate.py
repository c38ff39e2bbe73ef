"""Check recorded exchanges against the published descriptions and the written shapes.

* Docker Hub: Docker's OpenAPI description with the known-defect corrections kept in
  ``tests/sandbox/test_fidelity_dockerhub.py`` (openapi-core validates requests and answers),
  then, for a route outside it, the written shape in ``tests/fidelity/undocumented.py``.
* GitHub: GitHub's published description (``@octokit/openapi``), with the corrections kept in
  ``tests/sandbox/test_fidelity_github.py``.

Beyond what openapi-core checks, every query parameter sent must be one the description
names (openapi-core lets unknown ones through), and a route with no description at all is a
violation. Each ``check`` returns the route it matched (``METHOD template``) and the problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

from tests.fidelity.undocumented import ERROR, ROUTES, TASTYPIE_ERROR, Route
from tests.sandbox.test_fidelity_github import SCHEMA_FIXES, SPEC_DEFECTS, _errors

Spec = dict[str, Any]

# Any request may be rate-limited, any authenticated one refused (notes §10 and §2).
_ALWAYS: dict[int, Any] = {401: ERROR, 429: ERROR}


def _pattern(template: str, greedy: Iterable[str] = ()) -> re.Pattern[str]:
    wide = set(greedy)

    def part(match: re.Match[str]) -> str:
        return ".+" if match.group(1) in wide else "[^/]+"

    escaped = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
    return re.compile("^" + re.sub(r"{([^}]+)}", part, escaped) + "$")


def _json_body(data: bytes | str | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _query_names(url: str) -> set[str]:
    return {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "") and bool(response.content)


@dataclass
class Result:
    route: str
    problems: list[str] = field(default_factory=list)
    documented: bool = True  # False: matched a written shape, not the published description


class DockerHubDescription:
    def __init__(self, spec: Spec, routes: Iterable[Route] = ROUTES) -> None:
        from openapi_core import OpenAPI

        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec)
        # Longest templates first, so /tags/{tag} wins over /{repository} and so on.
        self.templates = [
            (template, _pattern(template))
            for template in sorted(spec["paths"], key=lambda p: (-p.count("/"), p))
        ]
        self.routes = [(route, _pattern(route.path)) for route in routes]

    def _documented(self, method: str, path: str) -> str | None:
        for template, pattern in self.templates:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                return str(template)
        return None

    def _parameters(self, template: str, method: str) -> set[str]:
        item = self.spec["paths"][template]
        names = set()
        for param in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]:
            if "$ref" in param:
                param = self.spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            if param.get("in") == "query":
                names.add(param["name"])
        return names

    def check(self, response: requests.Response) -> Result:
        request = response.request
        method = str(request.method)
        parts = urlsplit(str(request.url))
        # §2: the real service and its clients use both forms; the spec has none.
        path = parts.path.rstrip("/") or "/"
        template = self._documented(method, path)
        if template is not None:
            return self._check_documented(response, template, parts._replace(path=path))
        for route, pattern in self.routes:
            if route.method == method and pattern.match(path):
                return self._check_written(response, route)
        return Result(
            f"{method} {path}",
            [f"{method} {parts.path}: no description and no written shape (undocumented.py)"],
            documented=False,
        )

    def _check_documented(self, response: requests.Response, template: str, url: Any) -> Result:
        from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

        request = response.request
        method = str(request.method)
        result = Result(f"{method} {template}")
        unknown = _query_names(str(request.url)) - self._parameters(template, method)
        if unknown:
            result.problems.append(f"{method} {template}: query {sorted(unknown)} not documented")
        prepared = request.copy()
        prepared.url = urlunsplit(url)
        openapi_request = RequestsOpenAPIRequest(prepared)
        if response.status_code < 400:
            for error in self.openapi.iter_request_errors(openapi_request):
                cause = getattr(error, "__cause__", None)
                result.problems.append(f"request {method} {template}: {error} {cause or ''}")
        if method == "HEAD" or response.headers.get("Content-Type", "").startswith("text/csv"):
            return result  # no body to read (the CSV export: see test_fidelity_dockerhub)
        for error in self.openapi.iter_response_errors(
            openapi_request, RequestsOpenAPIResponse(response)
        ):
            cause = getattr(error, "__cause__", None)
            result.problems.append(
                f"response {method} {template} {response.status_code}: {error} {cause or ''}"
            )
        return result

    def _check_written(self, response: requests.Response, route: Route) -> Result:
        request = response.request
        result = Result(f"{route.method} {route.path}", documented=False)
        label = f"{route.method} {route.path} ({route.notes})"
        unknown = _query_names(str(request.url)) - route.query
        if unknown:
            result.problems.append(f"{label}: query {sorted(unknown)} not in the written shape")
        sent = _json_body(request.body)
        if route.request is not None and sent is not None:
            result.problems += [
                f"{label}: request {p}" for p in _errors(OAS30WriteValidator, route.request, sent)
            ]
        elif sent is not None:
            result.problems.append(f"{label}: a body was sent; the shape has none")
        status = response.status_code
        answers = {**_ALWAYS, **route.errors, **route.responses}
        if status not in answers:
            result.problems.append(f"{label}: status {status} not in the written shape")
            return result
        schema = answers[status]
        if schema is None:
            return result
        if route.path.startswith("/api/") and status >= 400:
            schema = TASTYPIE_ERROR
        if not _is_json(response):
            result.problems.append(f"{label}: {status} without the JSON body the shape has")
            return result
        result.problems += [
            f"{label}: answer {status} {p}"
            for p in _errors(OAS30ReadValidator, schema, response.json())
        ]
        return result


class GitHubDescription:
    """GitHub's description; the sandbox serves the API under ``prefix`` (``/api/v3``)."""

    def __init__(self, spec: Spec, prefix: str = "/api/v3") -> None:
        self.spec = spec
        self.prefix = prefix
        # Fewest parameters first: /repos/{owner}/{repo}/hooks before /repos/{owner}/{repo}/{x}.
        self.templates = [
            (template, _pattern(template, greedy=("path",)))
            for template in sorted(spec["paths"], key=lambda p: (p.count("{"), -len(p), p))
        ]
        # Where a documented redirect sent the client (log storage): outside the API.
        self.redirect_targets: set[str] = set()

    def check(self, response: requests.Response) -> Result:
        request = response.request
        method = str(request.method)
        url = str(request.url)
        path = urlsplit(url).path
        if url in self.redirect_targets:
            return Result(f"{method} (a documented redirect's target)")
        if not path.startswith(self.prefix):
            return Result(f"{method} {path}", [f"{method} {path}: outside the API"], False)
        relative = path[len(self.prefix) :] or "/"
        template = next(
            (
                t
                for t, pattern in self.templates
                if pattern.match(relative) and method.lower() in self.spec["paths"][t]
            ),
            None,
        )
        if template is None:
            return Result(f"{method} {relative}", [f"{method} {relative}: not described"], False)
        result = Result(f"{method} {template}")
        label = f"{method} {template}"
        operation = self.spec["paths"][template][method.lower()]
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        unknown = _query_names(url) - documented
        if unknown:
            result.problems.append(f"{label}: query {sorted(unknown)} not documented")
        sent = _json_body(request.body)
        if sent is not None:
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                result.problems.append(f"{label}: a body was sent; the operation takes none")
            else:
                result.problems += [
                    f"{label}: request {p}"
                    for p in _errors(OAS30WriteValidator, body["schema"], sent)
                ]
        status = response.status_code
        responses = operation["responses"]
        if status == 304 and method == "GET" and request.headers.get("If-None-Match"):
            # A conditional GET answered "not modified": GitHub documents it for every GET
            # ("Use conditional requests if appropriate", REST best practices), not per route.
            return result
        if status == 404 and method == "GET" and "404" not in responses:
            # A read of something that does not exist (a repository variable not set yet):
            # GitHub answers 404 Not Found for any resource that is absent or hidden from the
            # caller (REST API docs, "Troubleshooting"), documented per route only on some.
            return result
        if str(status) not in responses:
            result.problems.append(f"{label}: status {status} not documented")
            return result
        if response.is_redirect and response.headers.get("Location"):
            self.redirect_targets.add(urljoin(url, response.headers["Location"]))
        content = responses[str(status)].get("content", {})
        if "application/json" in content and _is_json(response):
            schema = content["application/json"]["schema"]
            defect = SPEC_DEFECTS.get((method, template, status))
            if defect is not None:
                schema = schema["oneOf"][defect[0]]
            fix = SCHEMA_FIXES.get((method, template, status))
            if fix is not None:
                schema = fix(schema)
            result.problems += [
                f"{label}: answer {status} {p}"
                for p in _errors(OAS30ReadValidator, schema, response.json())
            ]
        elif _is_json(response) and status < 300:
            result.problems.append(f"{label}: a JSON answer where none is documented")
        return result
