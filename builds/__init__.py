"""Domain, top of it: builds and their status, the build backends (one module each, one
registry), pre-flight, polling, Docker Hub and GitHub webhook handling, badges and the emails a
student gets when a build breaks or is fixed. Imports ``repositories``, ``accounts`` and below."""
