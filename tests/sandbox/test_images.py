from __future__ import annotations

import pytest

from sandbox.images import (
    InvalidReference,
    evaluate_build,
    is_known_image,
    parse_from_lines,
    parse_image_ref,
)

GOOD_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
COPY app.py .
CMD ["python", "app.py"]
"""


def test_it_normalises_short_official_names_to_library() -> None:
    ref = parse_image_ref("python:3.12")
    assert (ref.registry, ref.repository, ref.tag) == ("docker.io", "library/python", "3.12")
    assert ref.canonical == "docker.io/library/python:3.12"


def test_it_defaults_the_tag_to_latest_and_keeps_a_registry_port() -> None:
    assert parse_image_ref("nginx").tag == "latest"
    ref = parse_image_ref("localhost:5000/team/app:1")
    assert (ref.registry, ref.repository, ref.tag) == ("localhost:5000", "team/app", "1")


def test_it_treats_docker_hub_host_spellings_as_docker_hub() -> None:
    assert is_known_image(parse_image_ref("docker.io/library/alpine:3.20"))
    assert is_known_image(parse_image_ref("index.docker.io/bitnami/nginx"))


def test_it_rejects_uppercase_references() -> None:
    with pytest.raises(InvalidReference, match="lowercase"):
        parse_image_ref("Python:3.12")


def test_it_knows_official_and_verified_images_but_not_typos_or_other_registries() -> None:
    assert is_known_image(parse_image_ref("python:3.12-slim"))
    assert is_known_image(parse_image_ref("circleci/python:3.10"))
    assert not is_known_image(parse_image_ref("pyhton:3.12"))
    assert not is_known_image(parse_image_ref("python:9.9"))
    assert not is_known_image(parse_image_ref("ghcr.io/library/python:3.12"))


def test_it_accepts_any_well_formed_digest_of_a_known_repository() -> None:
    assert is_known_image(parse_image_ref("alpine@sha256:" + "a" * 64))


def test_it_substitutes_global_args_into_from() -> None:
    text = "ARG BASE=python:3.12\nARG TAG\nFROM ${BASE}\nFROM node:${TAG:-20}\n"
    images = [line.image for line in parse_from_lines(text)]
    assert images == ["python:3.12", "node:20"]


def test_it_marks_earlier_stages_as_not_external() -> None:
    text = (
        "FROM golang:1.23 AS build\nRUN go build\n"
        "FROM --platform=$BUILDPLATFORM alpine:3.20 AS Final\n"
        "FROM build\nFROM scratch\n"
    )
    lines = parse_from_lines(text)
    assert [(line.stage_ref, line.scratch) for line in lines] == [
        (False, False),
        (False, False),
        (True, False),
        (False, True),
    ]
    assert lines[1].stage_name == "final"
    assert lines[2].line == 4


def test_it_joins_continuation_lines_and_skips_comments() -> None:
    text = "# syntax=docker/dockerfile:1\nFROM \\\n  python:3.12 \\\n  AS base\n"
    (line,) = parse_from_lines(text)
    assert (line.image, line.stage_name, line.line) == ("python:3.12", "base", 2)


def test_a_good_build_succeeds_with_a_digest_that_depends_on_the_inputs() -> None:
    files = {"DockerfileVolume": GOOD_DOCKERFILE, "app.py": "print('hi')\n"}
    verdict = evaluate_build(files, "DockerfileVolume", "/")
    assert verdict.ok, verdict.log
    assert verdict.digest is not None and verdict.digest.startswith("sha256:")
    assert evaluate_build(dict(files), "DockerfileVolume", "/").digest == verdict.digest
    changed = evaluate_build({**files, "app.py": "print('bye')\n"}, "DockerfileVolume", "/")
    assert changed.digest != verdict.digest


def test_it_fails_when_the_dockerfile_is_missing_at_the_path() -> None:
    verdict = evaluate_build({"Dockerfile": GOOD_DOCKERFILE, "app.py": ""}, "DockerfileVolume", "/")
    assert not verdict.ok
    assert verdict.digest is None
    assert (
        "failed to read dockerfile: open DockerfileVolume: no such file or directory"
        in verdict.log[-1]
    )


def test_the_dockerfile_path_is_relative_to_the_build_context() -> None:
    files = {"web/DockerfileVolume": GOOD_DOCKERFILE, "web/app.py": ""}
    assert evaluate_build(files, "DockerfileVolume", "/web").ok
    assert evaluate_build(files, "DockerfileVolume", "web/").ok
    assert not evaluate_build(files, "DockerfileVolume", "/").ok


def test_it_fails_when_the_context_directory_does_not_exist() -> None:
    verdict = evaluate_build({"DockerfileVolume": GOOD_DOCKERFILE}, "DockerfileVolume", "/nope")
    assert not verdict.ok
    assert 'path "nope" not found' in verdict.log[-1]


def test_it_fails_with_a_pull_error_for_an_unknown_base_image() -> None:
    files = {"DockerfileVolume": "FROM pyhton:3.12\nCMD true\n"}
    verdict = evaluate_build(files, "DockerfileVolume", "/")
    assert not verdict.ok
    assert "docker.io/library/pyhton:3.12" in verdict.log[-1]
    assert "pull access denied" in verdict.log[-1]


def test_it_fails_when_an_arg_base_is_blank() -> None:
    verdict = evaluate_build({"Dockerfile": "ARG BASE\nFROM ${BASE}\n"}, "Dockerfile", "/")
    assert not verdict.ok
    assert "base name (${BASE}) should not be blank" in verdict.log[-1]


def test_a_multi_stage_build_only_checks_external_images() -> None:
    dockerfile = (
        "ARG GO=golang:1.23\nFROM ${GO} AS build\nFROM scratch\nCOPY --from=build /out /out\n"
    )
    assert evaluate_build({"Dockerfile": dockerfile}, "Dockerfile", "/").ok


def test_it_fails_when_a_copy_source_is_missing_from_the_context() -> None:
    files = {"DockerfileVolume": GOOD_DOCKERFILE}
    verdict = evaluate_build(files, "DockerfileVolume", "/")
    assert not verdict.ok
    assert '"/app.py": not found' in verdict.log[-1]


def test_copy_accepts_globs_directories_and_the_json_form() -> None:
    dockerfile = 'FROM alpine\nCOPY *.txt src/ ./\nCOPY ["conf/a b.ini", "/etc/"]\nCOPY . /app\n'
    files = {"Dockerfile": dockerfile, "req.txt": "", "src/main.py": "", "conf/a b.ini": ""}
    assert evaluate_build(files, "Dockerfile", "/").ok, evaluate_build(files, "Dockerfile", "/").log


def test_a_dockerfile_without_from_fails() -> None:
    verdict = evaluate_build({"Dockerfile": "RUN echo hi\n"}, "Dockerfile", "/")
    assert not verdict.ok
    assert "no build stage" in verdict.log[-1]
