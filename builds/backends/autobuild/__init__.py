"""``dockerhub-autobuild``: Docker Hub's automated builds (the backend and its own client)."""

from builds.backends.autobuild.backend import DockerHubAutobuild

__all__ = ["DockerHubAutobuild"]
