"""Seed worlds: ``empty`` (the course organisation and its owner), ``demo`` (plus a class)
and ``demo-unkind`` (a class whose repositories are the students' own, as in a real course).

Credentials are fixed strings so that a demo's ``.env`` can be written once; they only ever
open the sandbox. The GitHub App's private key is made once per process (``pem`` in the
result; a data file keeps it across restarts).

Every seed has, besides what its function says:

- the Owner's Docker Hub account linked to the course's GitHub account
  (``linked_github_login`` = ``revelare-instructor``), so the Owner can create automated build
  sources for repositories that account owns;
- a GitHub App ``hubcourse-sandbox`` owned by the course's GitHub account, with
  ``DEFAULT_PERMISSIONS`` and ``DEFAULT_EVENTS`` of ``github_apps_state``, no webhook URL and
  no setup URL yet (set them with ``PATCH /_sandbox/github/apps/hubcourse-sandbox``),
  redirecting to the setup URL on updates too. Its credentials are ``result["github"]["app"]``
  (see ``github_apps_state.credentials``).
"""

from __future__ import annotations

from typing import Any

from sandbox import dockerhub, github_apps_state, github_state
from sandbox.world import World

ORG_NAME = "Revelare"
OWNER = "revelareowner"
OWNER_PASSWORD = "revelare-owner-password"  # noqa: S105 (sandbox-only demo credential)
OWNER_PAT = "dckr_pat_sandboxRevelareOwnerToken000000"
ORG_TOKEN = "dckr_oat_sandboxRevelareOrgToken0000000"  # noqa: S105 (sandbox-only)
INSTRUCTOR_LOGIN = "revelare-instructor"
APP_NAME = "hubcourse-sandbox"
STUDENT_REPO = "docker-course"

GOOD_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
COPY app.py .
VOLUME ["/data"]
CMD ["python", "app.py"]
"""
APP_PY = 'print("hello from the course container")\n'

# (Docker ID, GitHub login, full name, what is wrong with their repository or None)
STUDENTS: list[tuple[str, str, str, str | None]] = [
    ("adalovelace", "ada-lovelace", "Ada Lovelace", None),
    ("alanturing", "alan-turing", "Alan Turing", None),
    ("gracehopper", "grace-hopper", "Grace Hopper", None),
    ("kengthompson", "ken-thompson", "Ken Thompson", None),
    ("barbaraliskov", "barbara-liskov", "Barbara Liskov", None),
    ("dennisritchie", "dennis-ritchie", "Dennis Ritchie", None),
    ("margarethamilton", "margaret-hamilton", "Margaret Hamilton", None),
    ("edsgerdijkstra", "edsger-dijkstra", "Edsger Dijkstra", None),
    ("franallen", "fran-allen", "Fran Allen", None),
    ("johnbackus", "john-backus", "John Backus", None),
    # Broken: the Dockerfile is called Dockerfile, not DockerfileVolume.
    ("katherinejohnson", "katherine-johnson", "Katherine Johnson", "missing-dockerfile"),
    # Broken: FROM names an image that does not exist (a typo of python).
    ("linustorvalds", "linus-torvalds", "Linus Torvalds", "unknown-base-image"),
]


def student_files(problem: str | None) -> dict[str, str]:
    readme = (
        "# Docker course\n\nMy image for the course: `DockerfileVolume` at the repository root.\n"
    )
    if problem == "missing-dockerfile":
        return {"README.md": readme, "Dockerfile": GOOD_DOCKERFILE, "app.py": APP_PY}
    if problem == "unknown-base-image":
        return {
            "README.md": readme,
            "DockerfileVolume": GOOD_DOCKERFILE.replace("python:3.12-slim", "pyhton:3.12-slim"),
            "app.py": APP_PY,
        }
    return {"README.md": readme, "DockerfileVolume": GOOD_DOCKERFILE, "app.py": APP_PY}


def seed_empty(w: World) -> dict[str, Any]:
    """The course organisation ``Revelare`` with its owner, the owner's PAT and an org token."""
    with w.lock:
        dockerhub.create_user(w, OWNER, OWNER_PASSWORD, "owner@revelare.example", "Revelare Owner")
        dockerhub.create_pat(w, OWNER, "sandbox-seed", token=OWNER_PAT)
        org = dockerhub.create_org(w, ORG_NAME, OWNER, full_name=ORG_NAME)
        dockerhub.create_org_token(w, org["orgname"], "hubcourse", token=ORG_TOKEN)
        instructor = github_state.create_user(
            w, INSTRUCTOR_LOGIN, "instructor@revelare.example", "Revelare Instructor"
        )
        w.dockerhub["users"][OWNER]["linked_github_login"] = instructor["login"]
        w.dockerhub["builds"]["require_linked_admin"] = True
        app = github_apps_state.create_app(
            w,
            APP_NAME,
            instructor["login"],
            permissions=dict(github_apps_state.DEFAULT_PERMISSIONS),
            events=list(github_apps_state.DEFAULT_EVENTS),
            setup_on_update=True,
            reuse_key=True,
        )
    return {
        "dockerhub": {
            "org": org["orgname"],
            "org_display_name": ORG_NAME,
            "org_token": ORG_TOKEN,
            "owner": OWNER,
            "owner_password": OWNER_PASSWORD,
            "owner_token": OWNER_PAT,
        },
        "github": {
            "instructor": {"login": instructor["login"], "token": instructor["token"]},
            "app": github_apps_state.credentials(app),
        },
        "students": [],
    }


def seed_demo(w: World) -> dict[str, Any]:
    """``seed_empty`` plus a dozen students, each with a Docker ID and a GitHub repository.

    The Owner may still set up automated builds from the students' own repositories
    (``require_linked_admin`` off): the default demo keeps working as it did until hubcourse
    hands that set-up to the students. ``demo-unkind`` is the world as it really is.
    """
    result = seed_empty(w)
    with w.lock:
        w.dockerhub["builds"]["require_linked_admin"] = False
        for docker_id, login, full_name, problem in STUDENTS:
            email = f"{docker_id}@students.revelare.example"
            password = f"{docker_id}-password"
            dockerhub.create_user(w, docker_id, password, email, full_name)
            gh_user = github_state.create_user(w, login, email, full_name)
            repo = github_state.create_repo(w, login, STUDENT_REPO, student_files(problem))
            result["students"].append(
                {
                    "name": full_name,
                    "email": email,
                    "docker_id": docker_id,
                    "docker_password": password,
                    "github_login": login,
                    "github_token": gh_user["token"],
                    "github_repo": repo["full_name"],
                    "problem": problem,
                }
            )
    return result


# Students of ``demo-unkind`` whose repository is private, and those who installed the app.
UNKIND_PRIVATE = frozenset({"alan-turing", "ken-thompson", "margaret-hamilton", "john-backus"})
UNKIND_INSTALLED = frozenset(
    {
        "ada-lovelace",
        "alan-turing",
        "grace-hopper",
        "barbara-liskov",
        "fran-allen",
        "linus-torvalds",
    }
)


def seed_demo_unkind(w: World) -> dict[str, Any]:
    """The class as it really is: every student owns their repository (some private), with
    their Docker ID linked to their own GitHub account; the course's GitHub token can neither
    read the private ones nor add a webhook to any; some students installed the app on their
    repository (only that one), the others did not. Build sources need a linked GitHub account
    that administers the repository (the Owner's does not administer the students').

    Each student in ``result["students"]`` also has ``private`` and ``app_installation_id``
    (None when they have not installed the app).
    """
    result = seed_empty(w)
    with w.lock:
        app = github_apps_state.get_app(w, APP_NAME)
        assert app is not None
        for docker_id, login, full_name, problem in STUDENTS:
            email = f"{docker_id}@students.revelare.example"
            password = f"{docker_id}-password"
            dockerhub.create_user(w, docker_id, password, email, full_name)
            w.dockerhub["users"][docker_id]["linked_github_login"] = login
            gh_user = github_state.create_user(w, login, email, full_name)
            private = login in UNKIND_PRIVATE
            repo = github_state.create_repo(
                w, login, STUDENT_REPO, student_files(problem), private=private
            )
            installation_id = None
            if login in UNKIND_INSTALLED:
                inst, _ = github_apps_state.install(
                    w, app, login, repositories=[STUDENT_REPO], sender=login
                )
                installation_id = inst["id"]
            result["students"].append(
                {
                    "name": full_name,
                    "email": email,
                    "docker_id": docker_id,
                    "docker_password": password,
                    "github_login": login,
                    "github_token": gh_user["token"],
                    "github_repo": repo["full_name"],
                    "problem": problem,
                    "private": private,
                    "app_installation_id": installation_id,
                }
            )
    return result
