"""Base images the sandbox knows, Dockerfile FROM parsing and build evaluation.

Builds in the sandbox never run a container engine: a build "succeeds" when the Dockerfile
is where the rule says, every external ``FROM`` names an image the sandbox knows, and every
literal ``COPY``/``ADD`` source exists in the build context. The log mimics BuildKit's plain
progress output so that a person reading it in hubcourse sees what a real build would say.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
from dataclasses import dataclass, field

# Docker Official Images (namespace ``library``) with a handful of real tags each. Tags are
# explicit so that a typo in a tag fails like a real pull ("not found"), not only a typo in
# the repository name.
OFFICIAL_IMAGES: dict[str, tuple[str, ...]] = {
    "alpine": ("latest", "3", "3.19", "3.20", "3.21", "3.22", "edge"),
    "busybox": ("latest", "1", "1.36", "1.37", "musl", "glibc", "uclibc"),
    "debian": (
        "latest",
        "bookworm",
        "bookworm-slim",
        "bullseye",
        "bullseye-slim",
        "trixie",
        "trixie-slim",
        "12",
        "12-slim",
        "13",
        "stable-slim",
    ),
    "ubuntu": ("latest", "20.04", "22.04", "24.04", "focal", "jammy", "noble", "rolling"),
    "python": (
        "latest",
        "3",
        "3-slim",
        "3-alpine",
        "3.10",
        "3.10-slim",
        "3.11",
        "3.11-slim",
        "3.11-alpine",
        "3.12",
        "3.12-slim",
        "3.12-alpine",
        "3.12-bookworm",
        "3.12-slim-bookworm",
        "3.13",
        "3.13-slim",
        "3.13-alpine",
        "slim",
        "alpine",
    ),
    "node": (
        "latest",
        "lts",
        "lts-alpine",
        "lts-slim",
        "18",
        "18-alpine",
        "20",
        "20-alpine",
        "20-slim",
        "22",
        "22-alpine",
        "22-slim",
        "alpine",
        "slim",
    ),
    "nginx": (
        "latest",
        "stable",
        "mainline",
        "alpine",
        "stable-alpine",
        "1.26",
        "1.27",
        "1.27-alpine",
    ),
    "httpd": ("latest", "2.4", "2", "alpine", "2.4-alpine"),
    "golang": (
        "latest",
        "1.22",
        "1.23",
        "1.24",
        "1.23-alpine",
        "1.24-alpine",
        "alpine",
        "bookworm",
    ),
    "redis": ("latest", "7", "7.2", "7.4", "alpine", "7-alpine", "8"),
    "postgres": ("latest", "15", "16", "17", "16-alpine", "17-alpine", "alpine"),
    "mysql": ("latest", "8", "8.0", "8.4", "9"),
    "mariadb": ("latest", "10.11", "11", "11.4", "lts"),
    "mongo": ("latest", "6", "7", "8"),
    "openjdk": ("21", "21-jdk", "21-slim", "22", "23", "24"),
    "eclipse-temurin": ("latest", "17", "17-jre", "21", "21-jdk", "21-jre", "21-alpine"),
    "maven": ("latest", "3", "3-eclipse-temurin-21", "3.9"),
    "gradle": ("latest", "8", "jdk21"),
    "php": ("latest", "8", "8.2", "8.3", "8.3-apache", "8.3-fpm", "apache", "fpm", "cli"),
    "ruby": ("latest", "3", "3.2", "3.3", "3.3-slim", "3.3-alpine", "slim", "alpine"),
    "rust": ("latest", "1", "1-slim", "1-alpine", "slim", "alpine"),
    "gcc": ("latest", "13", "14"),
    "hello-world": ("latest", "linux"),
    "docker": ("latest", "dind", "cli", "27", "27-dind", "28", "28-cli"),
    "traefik": ("latest", "v3", "v3.1", "v2.11"),
    "haproxy": ("latest", "2.8", "3.0", "lts"),
    "memcached": ("latest", "1", "1.6", "alpine"),
    "rabbitmq": ("latest", "3", "3-management", "management", "4", "4-management"),
    "tomcat": ("latest", "10", "10.1", "11", "9"),
    "wordpress": ("latest", "6", "php8.3", "apache", "fpm"),
    "caddy": ("latest", "2", "2-alpine", "alpine", "builder"),
    "bash": ("latest", "5", "5.2"),
    "amazoncorretto": ("latest", "17", "21", "21-alpine"),
}

# Verified Publisher and Sponsored OSS images, with their namespace.
VERIFIED_IMAGES: dict[str, tuple[str, ...]] = {
    "bitnami/nginx": ("latest", "1.27"),
    "bitnami/python": ("latest", "3.12", "3.13"),
    "bitnami/node": ("latest", "20", "22"),
    "bitnami/postgresql": ("latest", "16", "17"),
    "bitnami/redis": ("latest", "7.4"),
    "circleci/python": ("latest", "3.9", "3.10"),
    "circleci/node": ("latest", "16", "lts"),
    "grafana/grafana": ("latest", "11.0.0", "main"),
    "prom/prometheus": ("latest", "v2.53.0", "main"),
    "jenkins/jenkins": ("latest", "lts", "lts-jdk17"),
    "hashicorp/terraform": ("latest", "1.9", "1.10"),
    "localstack/localstack": ("latest", "3", "4"),
    "gitlab/gitlab-ce": ("latest",),
    "sonarqube/sonarqube": ("latest", "community"),
    "jupyter/base-notebook": ("latest", "python-3.11"),
    "nvidia/cuda": ("12.4.1-base-ubuntu22.04", "12.6.0-runtime-ubuntu24.04"),
}


def known_images() -> dict[str, tuple[str, ...]]:
    """Every known repository (``namespace/name``) and its tags."""
    known = {f"library/{name}": tags for name, tags in OFFICIAL_IMAGES.items()}
    known.update(VERIFIED_IMAGES)
    return known


_KNOWN = known_images()
_DOCKER_HUB_HOSTS = (
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
)
# An image name component per the distribution reference grammar, simplified.
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: ``registry/namespace/name[:tag][@digest]``."""

    registry: str
    repository: str  # namespace/name for Docker Hub, e.g. library/python
    tag: str
    digest: str | None

    @property
    def canonical(self) -> str:
        """BuildKit's spelling, e.g. ``docker.io/library/python:3.12``."""
        suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.registry}/{self.repository}{suffix}"


class InvalidReference(ValueError):
    """The text after FROM is not an image reference at all."""


def parse_image_ref(ref: str) -> ImageRef:
    """Parse an image reference the way the Docker CLI normalises it."""
    text = ref.strip()
    if not text:
        raise InvalidReference(
            "invalid reference format: repository name must have at least one component"
        )
    digest: str | None = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid reference format: {ref}")
    tag = "latest"
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: {ref}")
    parts = text.split("/")
    registry = "docker.io"
    # A first component with a dot, a port or "localhost" is a registry host, as in the CLI.
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        if registry in _DOCKER_HUB_HOSTS:
            registry = "docker.io"
    if any(not _COMPONENT.match(part) for part in parts) or not parts:
        raise InvalidReference(
            f"invalid reference format: repository name ({ref}) must be lowercase"
            if ref.lower() != ref
            else f"invalid reference format: {ref}"
        )
    if registry == "docker.io" and len(parts) == 1:
        parts.insert(0, "library")
    return ImageRef(registry=registry, repository="/".join(parts), tag=tag, digest=digest)


def is_known_image(ref: ImageRef) -> bool:
    """True when the sandbox's Docker Hub serves this image (by tag; any well-formed digest)."""
    if ref.registry != "docker.io":
        return False
    tags = _KNOWN.get(ref.repository)
    if tags is None:
        return False
    return ref.digest is not None or ref.tag in tags


@dataclass(frozen=True)
class FromLine:
    """One ``FROM`` instruction after ARG substitution."""

    line: int  # 1-based line number of the instruction's first physical line
    image: str  # the reference as written after substitution ("" when blank)
    raw: str  # the reference before substitution, e.g. "${BASE}"
    stage_name: str | None  # "AS name", lower-cased as BuildKit does
    stage_ref: bool  # names an earlier stage, so it is not an external image
    scratch: bool
    platform: str | None = None


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


def _instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, joining backslash continuations."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        stripped = physical.strip()
        # Comments and blank lines inside a continuation are skipped, as in BuildKit.
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, args = joined.partition(" ")
        result.append(Instruction(line=start, keyword=keyword.upper(), args=args.strip()))
    if pending:
        joined = " ".join(part for part in pending if part)
        keyword, _, args = joined.partition(" ")
        result.append(Instruction(line=start, keyword=keyword.upper(), args=args.strip()))
    return result


_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:[-+])?(?P<word>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def _substitute(value: str, args: dict[str, str | None]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        current = args.get(name)
        op = match.group("op")
        if op == ":-":
            return current if current else match.group("word")
        if op == ":+":
            return match.group("word") if current else ""
        return current or ""

    return _VAR.sub(replace, value)


def _parse_arg(args: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for item in args.split():
        name, sep, default = item.partition("=")
        pairs.append((name, default.strip("\"'") if sep else None))
    return pairs


def parse_from_lines(text: str) -> list[FromLine]:
    """Every FROM of a Dockerfile, with global ARG defaults substituted.

    Only ARGs declared before the first FROM are in scope for FROM lines (Docker's rule);
    ``FROM <earlier stage>`` is marked ``stage_ref`` because it pulls nothing.
    """
    global_args: dict[str, str | None] = {}
    stages: set[str] = set()
    found: list[FromLine] = []
    for instruction in _instructions(text):
        if instruction.keyword == "ARG" and not found:
            global_args.update(_parse_arg(instruction.args))
            continue
        if instruction.keyword != "FROM":
            continue
        words = instruction.args.split()
        platform = None
        while words and words[0].startswith("--"):
            flag = words.pop(0)
            if flag.startswith("--platform="):
                platform = _substitute(flag.split("=", 1)[1], global_args)
        raw = words[0] if words else ""
        stage_name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
        image = _substitute(raw, global_args)
        found.append(
            FromLine(
                line=instruction.line,
                image=image,
                raw=raw,
                stage_name=stage_name,
                stage_ref=image.lower() in stages,
                scratch=image.lower() == "scratch",
                platform=platform,
            )
        )
        if stage_name:
            stages.add(stage_name)
    return found


@dataclass
class BuildVerdict:
    ok: bool
    log: list[str] = field(default_factory=list)
    digest: str | None = None


def _normalise_dir(path: str) -> str:
    """A build context such as "/", "", ".", "./app" or "/app/" becomes "" or "app"."""
    clean = posixpath.normpath("/" + (path or "").strip()).lstrip("/")
    return "" if clean == "." else clean


def _copy_sources(instruction: Instruction) -> list[str] | None:
    """Literal context sources of a COPY/ADD, or None when it copies from a stage or a URL."""
    args = instruction.args
    if args.startswith("["):
        # JSON form: ["src", ..., "dest"]
        items = re.findall(r'"((?:[^"\\]|\\.)*)"', args)
    else:
        items = args.split()
    words: list[str] = []
    for item in items:
        if item.startswith("--"):
            if item.startswith("--from="):
                return None
            continue
        words.append(item)
    sources = words[:-1]
    if any(re.match(r"^[a-z]+://", source) or source.startswith("git@") for source in sources):
        return None
    return sources


def _source_exists(source: str, context_files: list[str]) -> bool:
    pattern = _normalise_dir(source)
    if pattern == "":
        return True  # "." or "/" is the whole context
    for path in context_files:
        if path == pattern or path.startswith(pattern + "/"):
            return True
        if any(char in pattern for char in "*?[") and (
            fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern + "/*")
        ):
            return True
    return False


def evaluate_build(
    files: dict[str, str],
    dockerfile_path: str,
    context: str,
    *,
    dockerfile_from_root: bool = False,
) -> BuildVerdict:
    """Decide whether a build of ``files`` would succeed, with a BuildKit-like log.

    ``context`` is the build context directory in the repository ("/" is the root) and
    ``dockerfile_path`` is relative to it, as in Docker Hub's build rules ("Dockerfile
    location"); with ``dockerfile_from_root`` it is relative to the repository root instead,
    as ``docker build -f`` and ``docker/build-push-action``'s ``file`` are. The digest depends
    only on the inputs, so a rebuild of the same commit yields the same digest.
    """
    context_dir = _normalise_dir(context)
    prefix = f"{context_dir}/" if context_dir else ""
    context_files = sorted(path[len(prefix) :] for path in files if path.startswith(prefix))
    name = dockerfile_path.strip() or "Dockerfile"
    log = [f"#1 [internal] load build definition from {posixpath.basename(name)}"]

    if context_dir and not context_files:
        log.append(f'ERROR: unable to prepare context: path "{context_dir}" not found')
        return BuildVerdict(ok=False, log=log)
    relative = _normalise_dir(name)
    dockerfile = files.get(relative if dockerfile_from_root else prefix + relative)
    if dockerfile is None:
        log.append(
            f"#1 ERROR: failed to read dockerfile: open {relative}: no such file or directory"
        )
        log.append(
            "ERROR: failed to solve: failed to read dockerfile: "
            f"open {relative}: no such file or directory"
        )
        return BuildVerdict(ok=False, log=log)
    log.append(f"#1 transferring dockerfile: {len(dockerfile.encode())}B done")
    log.append("#1 DONE 0.0s")

    from_lines = parse_from_lines(dockerfile)
    if not from_lines:
        log.append(
            "ERROR: failed to solve: dockerfile parse error: no build stage in current context"
        )
        return BuildVerdict(ok=False, log=log)
    step = 2
    for from_line in from_lines:
        if from_line.stage_ref or from_line.scratch:
            continue
        if not from_line.image:
            log.append(f"ERROR: failed to solve: base name ({from_line.raw}) should not be blank")
            return BuildVerdict(ok=False, log=log)
        try:
            ref = parse_image_ref(from_line.image)
        except InvalidReference as error:
            log.append(
                f'ERROR: failed to solve: failed to parse stage name "{from_line.image}": {error}'
            )
            return BuildVerdict(ok=False, log=log)
        log.append(
            f"#{step} [internal] load metadata for {ref.registry}/{ref.repository}:{ref.tag}"
        )
        if not is_known_image(ref):
            log.append(f"#{step} ERROR: {ref.canonical}: not found")
            log.append(
                f"ERROR: failed to solve: {from_line.image}: failed to resolve source metadata for "
                f"{ref.canonical}: pull access denied, repository does not exist or may require "
                "authorization: server message: insufficient_scope: authorization failed"
            )
            return BuildVerdict(ok=False, log=log)
        log.append(f"#{step} DONE 0.4s")
        step += 1

    for instruction in _instructions(dockerfile):
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        for source in _copy_sources(instruction) or []:
            if not _source_exists(source, context_files):
                log.append(
                    "ERROR: failed to solve: failed to compute cache key: "
                    f'failed to calculate checksum of ref: "/{_normalise_dir(source)}": not found'
                )
                return BuildVerdict(ok=False, log=log)

    hasher = hashlib.sha256()
    hasher.update(relative.encode())
    for path in context_files:
        hasher.update(path.encode() + b"\0" + files[prefix + path].encode() + b"\0")
    digest = f"sha256:{hasher.hexdigest()}"
    log.append(f"#{step} exporting to image")
    log.append(f"#{step} writing image {digest} done")
    log.append(f"#{step} DONE 0.2s")
    return BuildVerdict(ok=True, log=log, digest=digest)
