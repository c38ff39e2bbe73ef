"""Build backends behind one interface; the course's ``build_backend`` picks one."""

from __future__ import annotations

from accounts.models import Course
from builds.backends.autobuild import DockerHubAutobuild
from builds.backends.base import BuildBackend, BuildInfo, BuildNotReady, ConfigureResult
from builds.backends.github_actions import GitHubActions

BACKENDS: dict[str, BuildBackend] = {
    Course.BuildBackend.DOCKERHUB_AUTOBUILD.value: DockerHubAutobuild(),
    Course.BuildBackend.GITHUB_ACTIONS.value: GitHubActions(),
}


def backend_for(course: Course) -> BuildBackend:
    try:
        return BACKENDS[course.build_backend]
    except KeyError:
        raise ValueError(f"unknown build backend {course.build_backend!r}") from None


__all__ = [
    "BACKENDS",
    "BuildBackend",
    "BuildInfo",
    "BuildNotReady",
    "ConfigureResult",
    "backend_for",
]
