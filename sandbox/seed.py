"""Seed worlds: ``empty`` (the course organisation and its owner) and ``demo`` (plus a class).

Credentials are fixed strings so that a demo's ``.env`` can be written once; they only ever
open the sandbox.
"""

from __future__ import annotations

from typing import Any

from sandbox import dockerhub, github_state
from sandbox.world import World

ORG_NAME = "Revelare"
OWNER = "revelareowner"
OWNER_PASSWORD = "revelare-owner-password"  # noqa: S105 (sandbox-only demo credential)
OWNER_PAT = "dckr_pat_sandboxRevelareOwnerToken000000"
ORG_TOKEN = "dckr_oat_sandboxRevelareOrgToken0000000"  # noqa: S105 (sandbox-only)
INSTRUCTOR_LOGIN = "revelare-instructor"
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
    return {
        "dockerhub": {
            "org": org["orgname"],
            "org_display_name": ORG_NAME,
            "org_token": ORG_TOKEN,
            "owner": OWNER,
            "owner_password": OWNER_PASSWORD,
            "owner_token": OWNER_PAT,
        },
        "github": {"instructor": {"login": instructor["login"], "token": instructor["token"]}},
        "students": [],
    }


def seed_demo(w: World) -> dict[str, Any]:
    """``seed_empty`` plus a dozen students, each with a Docker ID and a GitHub repository."""
    result = seed_empty(w)
    with w.lock:
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
