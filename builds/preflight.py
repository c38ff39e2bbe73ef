"""Pre-flight: check a student's Docker ID, GitHub repository and Dockerfile before any write.

Each check adds one line to the enrolment's report (``check``, ``level`` ok/warning/error,
``message`` for the student). An error stops this student's pipeline with a permanent error
until they fix it and someone retries; the rest of the class goes on. Warnings (a base image
that is neither a Docker Official Image nor a Verified Publisher image) do not stop anything.

A failure of hubcourse's own credentials or of the services (``ExternalServiceError`` that is
not about the student's input) is raised, not reported: it is not the student's to fix.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from django.core.cache import cache
from django.utils import timezone

from accounts.credentials import dockerhub_client_for
from accounts.models import Course, Enrolment, PreflightState
from accounts.repository_access import repository_client
from accounts.services import enrolment_clear_error, enrolment_record_error
from accounts.steps import StepName
from builds.backends import backend_for
from builds.backends.common import context_dir, dockerfile_path
from hubcourse.errors import Forbidden, Invalid, NotFound, PermanentError
from integrations.dockerhub.client import DockerHubClient
from integrations.github.client import GitHubClient

Level = Literal["ok", "warning", "error"]
# Whether an image is official or verified changes rarely; a class shares the answers.
IMAGE_CACHE_SECONDS = 3600
# How long a class's dry-run answer about a Docker ID stands in for the pre-flight's own read.
DOCKER_ID_CACHE_SECONDS = 3600
# Dry-run answers that name a person Docker Hub would invite: the Docker ID exists and is a
# user (an organisation is never invited, nor a member of another organisation).
_INVITABLE = frozenset({"invited", "existing_org_member"})
_DOCKER_HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str


# -- Dockerfile FROM lines -----------------------------------------------------------------------


@dataclass(frozen=True)
class BaseImage:
    """An external image a ``FROM`` line builds on, after ARG substitution."""

    line: int
    written: str  # as written, e.g. "${BASE}" or "python:3.12-slim"
    image: str  # after substitution ("" when a variable has no value)
    unresolved: tuple[str, ...] = ()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with backslash continuations joined; comments and blanks dropped."""
    lines: list[tuple[int, str]] = []
    current = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored
        if not current:
            start = number
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        lines.append((start, current))
        current = ""
    if current.strip():
        lines.append((start, current))
    return lines


def _substitute(value: str, args: dict[str, str | None]) -> tuple[str, tuple[str, ...]]:
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        current = args.get(name)
        if operator == "-":
            return current if current else word
        if operator == "+":
            return word if current else ""
        if current is None:
            missing.append(name)
            return ""
        return current

    return _VARIABLE.sub(replace, value), tuple(missing)


def base_images(dockerfile: str) -> list[BaseImage]:
    """The external images of every stage (multi-stage and ``ARG`` aware).

    Only ``ARG``s before the first ``FROM`` apply to ``FROM`` lines (Docker's rule); a
    ``FROM`` naming an earlier stage, or ``scratch``, is not an external image.
    """
    args: dict[str, str | None] = {}
    stages: set[str] = set()
    seen_from = False
    images: list[BaseImage] = []
    for number, line in _logical_lines(dockerfile):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not seen_from:
            for part in rest.split():
                name, has_default, default = part.partition("=")
                args[name] = default.strip("\"'") if has_default else None
        elif keyword == "FROM":
            seen_from = True
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                images.append(BaseImage(number, "", ""))
                continue
            written = words[0]
            image, missing = _substitute(written, args)
            lowered = image.lower()
            # A stage can only build on stages named before it.
            external = lowered != "scratch" and lowered not in stages
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            if not external:
                continue
            images.append(BaseImage(number, written, image, missing))
    return images


@dataclass(frozen=True)
class ImageName:
    registry: str
    namespace: str
    name: str
    tag: str
    digest: str

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_image(reference: str) -> ImageName | None:
    """Split an image reference the way the Docker CLI reads it; None if it is not one."""
    text = reference.strip()
    digest = ""
    if "@" in text:
        text, digest = text.split("@", 1)
    tag = "latest"
    if ":" in text.rsplit("/", 1)[-1]:
        text, tag = text.rsplit(":", 1)
    parts = [p for p in text.split("/") if p]
    if not parts:
        return None
    registry = "docker.io"
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0).lower()
        if registry in _DOCKER_HUB_HOSTS:
            registry = "docker.io"
    if registry == "docker.io" and len(parts) == 1:
        parts.insert(0, "library")
    if len(parts) < 2:
        return None
    return ImageName(registry, "/".join(parts[:-1]), parts[-1], tag, digest)


# -- the checks --------------------------------------------------------------------------------


class Preflight:
    """The checks of one enrolment, in order; later checks need the earlier ones to pass."""

    def __init__(self, enrolment: Enrolment, hub: DockerHubClient, github: GitHubClient) -> None:
        self.enrolment = enrolment
        self.course: Course = enrolment.course
        self.hub = hub
        self.github = github
        self.findings: list[Finding] = []

    def add(self, check: str, level: Level, message: str) -> None:
        self.findings.append(Finding(check, level, message))

    def run(self) -> list[Finding]:
        self.check_docker_id()
        source = self.check_github_repository()
        if source is not None and self.check_branch(*source):
            dockerfile = self.check_dockerfile(*source)
            if dockerfile is not None:
                self.check_base_images(dockerfile)
        if source is not None:
            self.check_build_access()
        return self.findings

    def check_build_access(self) -> None:
        """Whether the course's backend can set the build up (the GitHub App installed with
        its permissions, the student's rights to link their own build), before any write."""
        for level, message in backend_for(self.course).preflight_findings(self.enrolment):
            self.add("build_access", "error" if level == "error" else "ok", message)

    def check_docker_id(self) -> bool:
        docker_id = self.enrolment.docker_id.strip()
        if not docker_id:
            self.add(
                "docker_id",
                "error",
                "You have not given your Docker ID yet: sign up at "
                "hub.docker.com if you have none, then enter your Docker ID (your username).",
            )
            return False
        if docker_id_invitable(self.course, self.hub, docker_id, self.enrolment.pk):
            self.add("docker_id", "ok", f"Docker ID {docker_id} exists.")
            return True
        try:
            user = self.hub.get_user(docker_id)
        except NotFound:
            self.add(
                "docker_id",
                "error",
                f"There is no Docker ID called {docker_id} on Docker "
                "Hub: check the spelling (it is your Docker Hub username, not your email).",
            )
            return False
        if user.type.lower() not in ("user", ""):
            self.add(
                "docker_id",
                "error",
                f"{docker_id} is an organisation on Docker Hub, not a "
                "person: enter your own Docker ID.",
            )
            return False
        self.add("docker_id", "ok", f"Docker ID {user.username} exists.")
        return True

    def check_github_repository(self) -> tuple[str, str] | None:
        full = self.enrolment.github_repo.strip().strip("/")
        owner, _, name = full.partition("/")
        if not owner or not name or "/" in name:
            self.add(
                "github_repository",
                "error",
                "Enter your GitHub repository as owner/name, "
                "for example ada-lovelace/docker-course.",
            )
            return None
        try:
            repository = self.github.get_repository(owner, name)
        except (NotFound, Forbidden):
            self.add(
                "github_repository",
                "error",
                f"hubcourse cannot see the GitHub repository {full}: check its name; if it "
                "is private, install the course's GitHub App on it (from your course page), "
                "or make it public.",
            )
            return None
        if repository.archived or repository.disabled:
            self.add(
                "github_repository",
                "error",
                f"{full} is archived on GitHub, so nothing can "
                "be added to it or built from new pushes: unarchive it in its settings.",
            )
            return None
        if repository.full_name.lower() != full.lower():
            self.add(
                "github_repository",
                "warning",
                f"{full} is now called "
                f"{repository.full_name} on GitHub: update it here to the new name.",
            )
        else:
            self.add("github_repository", "ok", f"GitHub repository {repository.full_name} found.")
        owner, _, name = repository.full_name.partition("/")
        return owner, name

    def check_branch(self, owner: str, name: str) -> bool:
        branch = self.course.build_branch
        try:
            self.github.get_branch(owner, name, branch)
        except NotFound:
            self.add(
                "branch",
                "error",
                f"Your repository {owner}/{name} has no branch {branch}: "
                f"push your work to {branch} (git push origin {branch}).",
            )
            return False
        self.add("branch", "ok", f"Branch {branch} exists.")
        return True

    def check_dockerfile(self, owner: str, name: str) -> str | None:
        branch = self.course.build_branch
        path = dockerfile_path(self.course)
        wanted = posixpath.basename(path)
        folder = context_dir(self.course)
        where = (
            f"in the folder {folder}/ of your repository"
            if folder
            else ("at the top of your repository")
        )
        try:
            content = self.github.get_file(owner, name, path, ref=branch)
        except NotFound:
            hint = self._near_miss(owner, name, path, branch)
            self.add(
                "dockerfile",
                "error",
                f"There is no {wanted} {where} on branch {branch}: add it, commit, push.{hint}",
            )
            return None
        except Invalid:
            self.add(
                "dockerfile",
                "error",
                f"{path} on branch {branch} is a folder, not a file: "
                f"the build needs a file called {wanted} {where}.",
            )
            return None
        try:
            text = content.text
        except UnicodeDecodeError:
            self.add("dockerfile", "error", f"{path} is not a text file: it must be a Dockerfile.")
            return None
        self.add("dockerfile", "ok", f"{path} found on branch {branch}.")
        return text

    def _near_miss(self, owner: str, name: str, path: str, branch: str) -> str:
        """ " We found Dockerfile: rename it" when the usual name is there instead."""
        folder, wanted = posixpath.split(path)
        for candidate in ("Dockerfile", wanted.lower(), "dockerfile"):
            if candidate == wanted:
                continue
            other = posixpath.join(folder, candidate)
            if self.github.file_exists(owner, name, other, ref=branch):
                return f" (There is a {other}: rename it to {wanted}.)"
        return ""

    def check_base_images(self, dockerfile: str) -> None:
        images = base_images(dockerfile)
        if not images:
            self.add(
                "base_images",
                "error",
                f"{self.course.build_dockerfile} has no FROM line: "
                "start it with the image to build on, for example FROM python:3.12-slim.",
            )
            return
        problems: list[str] = []
        for image in images:
            problem = self._image_problem(image)
            if problem:
                problems.append(problem)
        if problems:
            self.add("base_images", "warning", " ".join(problems))
        else:
            named = ", ".join(sorted({i.image for i in images}))
            self.add(
                "base_images",
                "ok",
                f"Base images are Docker Official or Verified Publisher images: {named}.",
            )

    def _image_problem(self, image: BaseImage) -> str:
        where = f"FROM {image.written} (line {image.line})"
        if image.unresolved:
            names = ", ".join(image.unresolved)
            return (
                f"{where} uses the build argument {names}, which has no default value: "
                "give it one (ARG NAME=value) so the image can be checked and built."
            )
        if not image.image:
            return f"{where} names no image."
        parsed = parse_image(image.image)
        if parsed is None:
            return f"{where} is not an image name."
        if parsed.registry != "docker.io":
            return (
                f"{image.image} ({where}) comes from {parsed.registry}, not Docker Hub: "
                "the course expects Docker Official or Verified Publisher images."
            )
        key = f"preflight:image:{parsed.repository}:{parsed.tag}:{parsed.digest}"
        cached = cache.get(key)
        if cached is None:
            cached = self._classify(parsed)
            cache.set(key, cached, IMAGE_CACHE_SECONDS)
        return str(cached).format(where=where, image=image.image) if cached else ""

    def _classify(self, image: ImageName) -> str:
        """ "" for a good image, else a message template with {where} and {image}."""
        if image.namespace == "library":
            try:
                self.hub.get_repository("library", image.name)
            except NotFound:
                return (
                    f"{{image}} ({{where}}) is not a Docker Official Image: there is no "
                    f"image called {image.name} on Docker Hub. Is it a typo?"
                )
            if not image.digest:
                try:
                    self.hub.get_tag("library", image.name, image.tag)
                except NotFound:
                    return (
                        f"{{image}} ({{where}}): the official image {image.name} has no tag "
                        f"{image.tag}. Check the tags on hub.docker.com/_/{image.name}."
                    )
            return ""
        # The catalog search is the only place Docker Hub says "Verified Publisher" (notes §13).
        if self.hub.catalog_badge(image.repository) in ("verified_publisher", "official"):
            return ""
        return (
            "{image} ({where}) is neither a Docker Official Image nor a Verified Publisher "
            "image: prefer one of those, they are maintained and scanned."
        )


# -- a class's Docker IDs in one call ----------------------------------------------------------


def _docker_id_key(organisation: str, docker_id: str) -> str:
    return f"preflight:docker-id:{organisation.lower()}:{docker_id.lower()}"


def docker_id_invitable(
    course: Course, hub: DockerHubClient, docker_id: str, enrolment_id: int
) -> bool:
    """Whether Docker Hub's dry-run bulk invite answered that it would invite ``docker_id``.

    The first pre-flight of a class to ask sends one dry run (1000 Docker IDs a request) for
    every student of the course whose pre-flight has not run, and keeps each answer for an
    hour, so the class's Docker ID checks cost one call instead of one each. False when the
    dry run says anything else (an unknown ID, an organisation, no seat) or cannot be sent:
    the caller then reads the user, whose answer names the problem.
    """
    key = _docker_id_key(course.organisation, docker_id)
    if cache.get(key):
        return True
    pending = (
        Enrolment.objects.filter(course=course, preflight_state=PreflightState.NOT_RUN)
        .exclude(docker_id="")
        .exclude(error_permanent=True)
        .exclude(pk=enrolment_id)
        .values_list("docker_id", flat=True)
    )
    # An e-mail address would be "invited" too: only Docker IDs are asked about.
    wanted = {d.strip().lower() for d in [docker_id, *pending] if d.strip() and "@" not in d}
    known = cache.get_many([_docker_id_key(course.organisation, d) for d in wanted])
    asked = sorted(d for d in wanted if _docker_id_key(course.organisation, d) not in known)
    if not asked:
        return False
    try:
        answers = hub.bulk_invite(course.organisation, asked, dry_run=True)
    except PermanentError:
        # Refused as a whole (no seats left, no right to invite): each student is read alone.
        return False
    cache.set_many(
        {
            _docker_id_key(course.organisation, a.invitee): True
            for a in answers
            if a.status in _INVITABLE and a.invitee.strip().lower() in wanted
        },
        DOCKER_ID_CACHE_SECONDS,
    )
    return bool(cache.get(key))


# -- the service ---------------------------------------------------------------------------------


def preflight_state(findings: list[Finding]) -> PreflightState:
    levels = {finding.level for finding in findings}
    if "error" in levels:
        return PreflightState.FAILED
    if "warning" in levels:
        return PreflightState.WARNING
    return PreflightState.PASSED


def preflight_run(*, enrolment_id: int) -> PreflightState | None:
    """Run every check for the enrolment, store the report, and stop or clear its pipeline."""
    enrolment = Enrolment.objects.select_related("course").filter(pk=enrolment_id).first()
    if enrolment is None:
        return None
    course = enrolment.course
    # The student's repository is read through the app's installation or anonymously, never
    # with the course's token (see accounts.repository_access).
    findings = Preflight(
        enrolment, dockerhub_client_for(course), repository_client(enrolment)
    ).run()
    state = preflight_state(findings)
    now = timezone.now()
    docker_ok = any(f.check == "docker_id" and f.level == "ok" for f in findings)
    report: list[dict[str, Any]] = [asdict(f) for f in findings]
    Enrolment.objects.filter(pk=enrolment_id).update(
        preflight_state=state,
        preflight_report=report,
        preflight_at=now,
        docker_id_verified_at=(enrolment.docker_id_verified_at or now) if docker_ok else None,
    )
    if state == PreflightState.FAILED:
        errors = " ".join(f.message for f in findings if f.level == "error")
        enrolment_record_error(
            enrolment_id=enrolment_id, step=StepName.PREFLIGHT, error=errors, permanent=True
        )
    else:
        enrolment_clear_error(enrolment_id=enrolment_id, step=StepName.PREFLIGHT)
    return state
