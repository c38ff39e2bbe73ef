"""What the client fidelity tests share: which public methods ran, and the verdict."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import requests
from pydantic import BaseModel

from tests.fidelity.undocumented import ROUTES, Schema
from tests.fidelity.validate import Result


def public_methods(cls: type) -> list[str]:
    """Every public method (and class method) the class itself defines, by introspection."""
    names = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
            names.append(name)
    return sorted(names)


class Exercised:
    """Which public methods a scenario called directly (a call made from inside another
    public method, ``user_exists`` calling ``get_user``, does not count)."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self._depth = 0

    def wrap(self, monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
        for name in public_methods(cls):
            value = vars(cls)[name]
            if isinstance(value, classmethod):
                wrapped = classmethod(self._wrapper(name, value.__func__))
                monkeypatch.setattr(cls, name, wrapped)
            elif isinstance(value, staticmethod):
                monkeypatch.setattr(cls, name, staticmethod(self._wrapper(name, value.__func__)))
            else:
                monkeypatch.setattr(cls, name, self._wrapper(name, value))

    def _wrapper(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self._depth == 0:
                self.called.add(name)
            self._depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1

        return counted


def verdict(
    check: Callable[[requests.Response], Result], exchanges: Iterable[requests.Response]
) -> tuple[list[Result], list[str]]:
    results = [check(response) for response in exchanges]
    problems = [problem for result in results for problem in result.problems]
    return results, problems


def _at(schema: Schema, where: str) -> Schema:
    if where == "":
        return schema
    if where == "[]":
        items: Schema = schema["items"]
        return items
    inner: Schema = schema["properties"][where]["items"]
    return inner


def parser_gaps() -> list[str]:
    """Fields a client model requires that the written shape does not promise."""
    gaps = []
    for route in ROUTES:
        if route.parses is None:
            continue
        model, where = route.parses
        for status, answer in sorted(route.responses.items()):
            if answer is not None and status < 300:
                gaps += _gaps(f"{route.method} {route.path} {status}", model, _at(answer, where))
    return gaps


def _gaps(label: str, model: type[BaseModel], schema: Schema) -> list[str]:
    required = set(schema.get("required", []))
    return [
        f"{label}: {model.__name__}.{name} is required by the client, not by the shape"
        for name, info in model.model_fields.items()
        if info.is_required() and name not in required
    ]
