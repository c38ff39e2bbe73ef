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
from collections.abc import Callable, Mapping
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
    "owner_github_login",
)
# Docker Hub repository names: lower-case letters, digits and single separators.
REPO_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")
# A GitHub login: letters, digits and single hyphens inside, at most 39 characters.
GITHUB_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}\Z")
SLUG_MAX = 60
TEMPLATE_FIELDS = {"course", "docker_id"}
# Words the course pages' addresses use next to a course's short name.
RESERVED_SLUGS = {"new"}
SAMPLE_DOCKER_IDS = ("adalovelace", "alanturing", "gracehopper42")
# Paths in the student's repository that a build is given.
NO_SPACES = ("build_branch", "build_dockerfile", "build_context")

# Docker's rule for a tag (the reference grammar of distribution): what follows ":" in
# docker pull.
DOCKER_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
# Characters git check-ref-format refuses anywhere in a branch name (besides control
# characters and spaces).
GIT_REF_FORBIDDEN = "~^:?*[\\"

# A new course's students' team, unless one is given: a team of its own (Docker Hub team
# names are at most 30 letters, digits, - or _; a course's short name is those characters).
STUDENTS_TEAM_SUFFIX = "-students"
TEAM_NAME_MAX = 30

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


def tag_problem(tag: str) -> str:
    """Why Docker would refuse ``tag`` as an image tag, or "" when it takes it."""
    if not tag:
        return "Give the image a tag, like latest or week1."
    if len(tag) > 128:
        return "An image tag is at most 128 characters."
    if not DOCKER_TAG_RE.match(tag):
        return (
            "Docker refuses this tag: use letters, digits, _ . and -, not starting with . "
            "or -, like latest or week1."
        )
    return ""


def branch_problem(branch: str) -> str:
    """Why Git would refuse ``branch`` as a branch name (``git check-ref-format --branch``),
    or "" when it takes it."""
    if not branch:
        return "Give the branch to build from, like main."
    bad = sorted({ch for ch in branch if ch in GIT_REF_FORBIDDEN})
    if bad:
        return f"Git refuses {' '.join(bad)} in a branch name."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in branch):
        return "Git refuses control characters in a branch name."
    if branch == "@" or "@{" in branch:
        return "Git refuses a branch named @ or containing @{."
    if branch == "HEAD" or branch.startswith("-"):
        return "Git refuses a branch named HEAD or starting with -."
    if ".." in branch:
        return "Git refuses .. in a branch name."
    if branch.startswith("/") or branch.endswith("/") or "//" in branch:
        return "Git refuses a branch name that starts or ends with / or contains //."
    if branch.endswith("."):
        return "Git refuses a branch name that ends with a dot."
    for part in branch.split("/"):
        if part.startswith("."):
            return "Git refuses a part of a branch name (between /) that starts with a dot."
        if part.endswith(".lock"):
            return "Git refuses a part of a branch name (between /) that ends with .lock."
    return ""


def default_team(slug: str) -> str:
    """The students' team a course gets unless told otherwise: ``{slug}-students``."""
    stem = slug.lower()[: TEAM_NAME_MAX - len(STUDENTS_TEAM_SUFFIX)].rstrip("-_")
    return stem + STUDENTS_TEAM_SUFFIX


def team_shared_with(
    *, organisation: str, team: str, access_policy: str, exclude_pk: int | None = None
) -> Course | None:
    """Another active course whose students' team is ``team``, when sharing it lets one
    course's students read the other's repositories: under the course-team policy the team
    reads every student repository of its course, so it must be either course's own."""
    others = Course.objects.filter(
        archived_at__isnull=True, organisation__iexact=organisation, team__iexact=team
    )
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if access_policy != Course.AccessPolicy.COURSE_TEAM:
        # This course's team reads nothing; only the other course's policy can leak.
        others = others.filter(access_policy=Course.AccessPolicy.COURSE_TEAM)
    return others.order_by("name", "pk").first()


def team_shared_problem(other: Course, *, team: str, slug: str, access_policy: str) -> str:
    """Why a course may not use ``team``, which ``other`` uses (see ``team_shared_with``)."""
    if other.access_policy == Course.AccessPolicy.COURSE_TEAM:
        seen = (
            f"every student of this course would see the repositories of all of "
            f"{other.name}'s students, private ones included"
        )
        if access_policy == Course.AccessPolicy.COURSE_TEAM:
            seen += f", and {other.name}'s students would see this course's"
    else:
        seen = (
            f"{other.name}'s students would see the repositories of all of this course's "
            "students, private ones included"
        )
    suggestion = f", like {default_team(slug)}" if slug else ""
    return (
        f"The team {team} is already the students' team of the course {other.name} "
        f"({other.slug}), and the team reads every student repository of a course that uses "
        f"one course team: {seen}. Give this course a team of its own{suggestion}."
    )


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
    if "owner_github_login" in values:
        login = str(values["owner_github_login"] or "").strip().removeprefix("@")
        cleaned["owner_github_login"] = login
        if login and (len(login) > 39 or not GITHUB_LOGIN_RE.match(login)):
            refuse(
                "owner_github_login",
                "A GitHub account name has only letters, digits and single hyphens (at most "
                "39), like octo-cat.",
            )
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
    spaced = set()
    for name in NO_SPACES:
        value = str(cleaned.get(name, "") or "")
        if value and any(ch.isspace() for ch in value):
            refuse(name, "No spaces, please.")
            spaced.add(name)
    # What the build pushes and builds from, as Docker and Git would take them.
    if "build_branch" in cleaned and "build_branch" not in spaced:
        if problem := branch_problem(str(cleaned["build_branch"] or "")):
            refuse("build_branch", problem)
    if "build_tag" in cleaned:
        if problem := tag_problem(str(cleaned["build_tag"] or "")):
            refuse("build_tag", problem)
    _check_team(cleaned, values, course=course, base=base, slug=slug, refuse=refuse)
    if (
        course is not None
        and "repo_name_template" not in broken_templates
        and str(cleaned.get("repo_name_template", course.repo_name_template))
        != course.repo_name_template
        and (problem := _rename_problem(course))
    ):
        refuse("repo_name_template", problem)
    ValidationErrors.raise_any(problems)
    return cleaned


def _check_team(
    cleaned: CourseValues,
    values: Mapping[str, Any],
    *,
    course: Course | None,
    base: Course,
    slug: str,
    refuse: Callable[[str, str], None],
) -> None:
    """A new course gets a team of its own unless one is named; a team shared with another
    active course is refused when either uses the course-team policy (``team_shared_with``)."""
    if "team" in values:
        cleaned["team"] = str(values["team"] or "").strip()
    if course is None and not cleaned.get("team"):
        if not slug:
            return  # the short name's own problem is reported
        cleaned["team"] = default_team(slug)
    elif "team" in cleaned and not cleaned["team"]:
        cleaned["team"] = base.team
    watched = ("team", "organisation", "access_policy")
    if course is not None and all(
        name not in cleaned or str(cleaned[name]) == str(getattr(course, name)) for name in watched
    ):
        # Unchanged: a course that shares a team already is flagged on the organisation
        # page, not stopped from saving its other settings.
        return
    team = str(cleaned.get("team", base.team))
    policy = str(cleaned.get("access_policy", base.access_policy))
    other = team_shared_with(
        organisation=str(cleaned.get("organisation", base.organisation)),
        team=team,
        access_policy=policy,
        exclude_pk=course.pk if course is not None else None,
    )
    if other is not None:
        refuse("team", team_shared_problem(other, team=team, slug=slug, access_policy=policy))


def _rename_problem(course: Course) -> str:
    """Why the repository name cannot change any more ("" while no repository exists)."""
    made = course.enrolments.filter(repository__created_at__isnull=False)
    count = made.count()
    if not count:
        return ""
    example = made.values_list("repository__namespace", "repository__name").first()
    shown = f" (such as {example[0]}/{example[1]})" if example else ""
    return (
        f"{count} student repositor{'y exists' if count == 1 else 'ies exist'} under the "
        f"current name{shown}, and Docker Hub cannot rename a repository: a new name would "
        "give those students new, empty repositories and leave their images behind. Keep "
        "this name; for another one, start a new course (or offboard the class first, which "
        "deletes their repositories)."
    )
