"""The rules a course's settings follow, in one place for the settings page, the API and the
services that save a course.

``course_validate`` checks the settings as they would be stored (the course's current ones,
or a new course's defaults, with the given ones on top) and returns the given ones in the
domain's spelling; every broken rule is a ``hubcourse.errors.ValidationError`` whose ``key``
is the setting's name, raised together.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.text import slugify

from accounts.models import Course, User
from accounts.organisations import organisation_choose
from hubcourse.errors import ValidationError, ValidationErrors

# What a person may set on a course, the settings page's fields and the API's alike.
COURSE_SETTINGS: tuple[str, ...] = (
    "name",
    "slug",
    "organisation",
    "team",
    "instructors_team",
    "access_policy",
    "repo_name_template",
    "student_team_template",
    "repo_private",
    "build_backend",
    "build_branch",
    "build_dockerfile",
    "build_context",
    "build_tag",
    "dockerhub_username",
)
# Docker Hub repository names: lower-case letters, digits and single separators.
REPO_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")
SLUG_MAX = 60
TEMPLATE_FIELDS = {"course", "docker_id"}
# Words the course pages' addresses use next to a course's short name.
RESERVED_SLUGS = {"new"}
SAMPLE_DOCKER_IDS = ("adalovelace", "alanturing", "gracehopper42")
# Paths in the student's repository that a build is given.
NO_SPACES = ("build_branch", "build_dockerfile", "build_context")

# The settings as given, in the domain's spelling (only the names given, plus a new course's
# short name when it was made from the course's name).
CourseValues = dict[str, Any]


def fill_template(template: str, *, course: str, docker_id: str) -> str:
    return template.format(course=course, docker_id=docker_id).lower()


def template_problem(template: str) -> str:
    """Why a name template cannot be used, or "" when it can."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return "Braces must come in pairs, like {docker_id}; write a literal brace as {{ or }}."
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        return f"Unknown placeholder {{{sorted(unknown)[0]}}}: use {{course}} and {{docker_id}}."
    if "docker_id" not in names:
        return "Include {docker_id}, so every student gets a name of their own."
    return ""


def slug_problem(slug: str) -> str:
    """Why a new course may not have this short name, or "" when it may."""
    if not slug:
        return "Give the course a short name (letters and digits)."
    if len(slug) > SLUG_MAX or not SLUG_RE.match(slug):
        return "Use only letters, digits, dashes and underscores, like docker-101."
    if slug in RESERVED_SLUGS:
        return f"{slug} is reserved: choose another short name."
    if Course.objects.filter(slug=slug).exists():
        return f"Another course is already called {slug}."
    return ""


def course_validate(
    values: Mapping[str, Any], *, course: Course | None, actor: User | None = None
) -> CourseValues:
    """The given settings checked against every course rule; see the module's docstring.

    ``course`` is the stored course being changed, ``None`` for a new one. A stored course's
    short name never changes (it is in every repository name and link). With ``actor``, the
    organisation is one registered and granted to them, unchanged once the course has
    students (``accounts.organisations.organisation_choose``).
    """
    base = course if course is not None else Course()
    cleaned: CourseValues = {name: values[name] for name in COURSE_SETTINGS if name in values}
    problems: list[ValidationError] = []

    def refuse(key: str, message: str) -> None:
        problems.append(ValidationError(message, key=key, value=str(values.get(key, ""))))

    if course is not None:
        slug = course.slug
        if "slug" in cleaned:
            cleaned["slug"] = slug
    else:
        given = str(values.get("slug") or "").strip()
        slug = given or slugify(str(values.get("name") or ""))[:SLUG_MAX]
        cleaned["slug"] = slug
        if problem := slug_problem(slug):
            refuse("slug", problem)
            slug = ""
    broken_templates = set()
    for name in ("repo_name_template", "student_team_template"):
        if name in values:
            cleaned[name] = str(values[name] or "").strip()
        template = str(cleaned.get(name, getattr(base, name)))
        if problem := template_problem(template):
            refuse(name, problem)
            broken_templates.add(name)
    template = str(cleaned.get("repo_name_template", base.repo_name_template))
    if slug and "repo_name_template" not in broken_templates:
        for docker_id in SAMPLE_DOCKER_IDS:
            repo = fill_template(template, course=slug, docker_id=docker_id)
            if not 2 <= len(repo) <= 255 or not REPO_NAME_RE.match(repo):
                refuse(
                    "repo_name_template",
                    f"It gives {repo!r}, which Docker Hub refuses: repository names are "
                    "lower-case letters and digits, separated by single . _ or -.",
                )
                break
    if actor is not None and (course is None or "organisation" in values):
        try:
            cleaned["organisation"] = organisation_choose(
                actor=actor,
                # A new course given none runs on the settings' organisation.
                value=str(
                    values.get("organisation")
                    or (base.organisation if course is not None else settings.DOCKERHUB_ORG)
                ),
                course=course,
            )
        except ValidationError as error:
            problems.append(error)
    for name in NO_SPACES:
        value = str(cleaned.get(name, "") or "")
        if value and any(ch.isspace() for ch in value):
            refuse(name, "No spaces, please.")
    ValidationErrors.raise_any(problems)
    return cleaned
