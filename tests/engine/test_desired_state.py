"""Every course setting with an outside effect is desired state: after a class is onboarded,
changing one makes the plan show, per student, what moves (before -> after), and applying it
leaves the sandbox exactly as the course says, with nothing made twice. Against the sandbox
over HTTP, on whatever database and broker the settings give."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.credentials import dockerhub_client_for
from accounts.models import Course, ManagedResource
from builds.backends import data
from builds.backends.github_actions.backend import (
    DRIFT_RECHECK,
    MOVE_LOGIN,
    TOKEN_SECRET,
    USERNAME_SECRET,
    USERNAME_VARIABLE,
    WORKFLOW_PATH,
    ActionsData,
    workflow_text,
)
from builds.services import repositories_note_push
from hubcourse.errors import ValidationError
from hubcourse.models import AuditEvent
from integrations.github.client import seal_secret
from onboarding.courses import course_move, course_update
from onboarding.engine import Plan, apply_plan, plan_course
from repositories.models import StudentRepository
from sandbox import dockerhub as hub_state
from sandbox import github_state
from tests.engine.support import created, make_class, requests_to
from tests.engine.test_converge import converge

pytestmark = pytest.mark.django_db(transaction=True)

CLASS_SIZE = 30


def _onboard(sandbox: Any, course: Course, size: int = CLASS_SIZE, **settings: Any) -> None:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    for name, value in settings.items():
        setattr(course, name, value)
    course.save()
    make_class(sandbox, course, size)
    converge(sandbox, course)


def _change(course: Course, **values: Any) -> None:
    course.refresh_from_db()
    Course.objects.filter(pk=course.pk).update(**values)
    course.refresh_from_db()


def _apply(sandbox: Any, course: Course) -> Plan:
    plan = plan_course(course, observe=True)
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    return plan


def _moves(plan: Plan) -> dict[str, list[str]]:
    """Per student, the settings the plan moves, in words."""
    moves: dict[str, list[str]] = {}
    for step in plan.actionable:
        if step.enrolment_id is not None:
            moves.setdefault(plan.labels[step.enrolment_id], []).append(step.change)
    return moves


def _rules(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    """Image -> its automated-build rules, read from the sandbox."""
    with sandbox.world.lock:
        builds = sandbox.world.dockerhub["builds"]
        return {
            source["image"]: [dict(builds["settings"][uuid]) for uuid in source["settings"]]
            for source in builds["sources"].values()
        }


def _repositories(course: Course) -> list[StudentRepository]:
    return list(StudentRepository.objects.filter(enrolment__course=course).order_by("name"))


def _settled_again(sandbox: Any, course: Course) -> None:
    """A second pass plans nothing and creates nothing."""
    before = created(sandbox)
    plan = plan_course(course, observe=True)
    assert plan.actionable == [], plan.render()
    apply_plan(plan)
    sandbox.world.wait_idle(timeout=30)
    assert created(sandbox) == before


def test_a_new_tag_and_dockerfile_update_every_rule_in_place(sandbox: Any, course: Course) -> None:
    _onboard(sandbox, course)
    rule_ids = {image: [r["uuid"] for r in rules] for image, rules in _rules(sandbox).items()}
    assert len(rule_ids) == CLASS_SIZE

    _change(course, build_tag="week1")
    plan = plan_course(course, observe=True)

    moves = _moves(plan)
    assert len(moves) == CLASS_SIZE
    assert all(words == ["tag latest -> week1"] for words in moves.values()), moves
    assert "tag latest -> week1" in plan.render()

    before = created(sandbox)
    _apply(sandbox, course)
    rules = _rules(sandbox)
    assert {image: [r["uuid"] for r in found] for image, found in rules.items()} == rule_ids
    assert all(r["tag"] == "week1" for found in rules.values() for r in found)
    assert created(sandbox).get("dockerhub.build_setting") == before.get("dockerhub.build_setting")
    _settled_again(sandbox, course)

    _change(course, build_dockerfile="Dockerfile")
    moves = _moves(plan_course(course, observe=True))
    assert len(moves) == CLASS_SIZE
    assert all(words == ["Dockerfile DockerfileVolume -> Dockerfile"] for words in moves.values())
    _apply(sandbox, course)
    rules = _rules(sandbox)
    assert all(
        (r["dockerfile"], r["tag"]) == ("Dockerfile", "week1")
        for found in rules.values()
        for r in found
    )
    assert all(len(found) == 1 for found in rules.values())
    _settled_again(sandbox, course)


def test_privacy_moves_every_repository(sandbox: Any, course: Course) -> None:
    _onboard(sandbox, course)

    _change(course, repo_private=False)
    moves = _moves(plan_course(course, observe=True))

    assert len(moves) == CLASS_SIZE
    assert all(words == ["privacy private -> public"] for words in moves.values()), moves
    _apply(sandbox, course)
    with sandbox.world.lock:
        repos = sandbox.world.dockerhub["repos"]
        privacy = {r.full_name: repos[r.full_name]["is_private"] for r in _repositories(course)}
    assert set(privacy.values()) == {False}
    _settled_again(sandbox, course)


def test_one_team_per_student_moves_every_grant_and_takes_the_course_teams_back(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course)
    org = course.organisation

    _change(course, access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    plan = plan_course(course, observe=True)

    moves = _moves(plan)
    assert len(moves) == CLASS_SIZE
    for label, words in moves.items():
        docker_id = label.split("@")[0]
        assert f"access students read -> docker-101-{docker_id} admin" in words, words
    converge(sandbox, course)
    for repository in _repositories(course):
        docker_id = repository.name.removeprefix("docker-101-")
        assert hub_state.team_grants(sandbox.world, org, repository.name) == {
            f"docker-101-{docker_id}": "admin",
            "instructors": "admin",
        }
    with sandbox.world.lock:
        groups = sandbox.world.dockerhub["orgs"][org.lower()]["groups"]
        members = {str(g["name"]): list(g["members"]) for g in groups.values()}
    # owners, students, instructors and one team per student, each once.
    assert len(members) == CLASS_SIZE + 3
    for repository in _repositories(course):
        assert repository.name.removeprefix("docker-101-") in members[repository.name]
    _settled_again(sandbox, course)


def test_the_repository_name_is_refused_once_repositories_exist(
    sandbox: Any, course: Course, instructor: Any
) -> None:
    _onboard(sandbox, course, size=2)

    with pytest.raises(ValidationError) as refused:
        course_update(
            course=course, actor=instructor, values={"repo_name_template": "{docker_id}-lab"}
        )

    message = str(refused.value)
    assert "cannot rename a repository" in message
    assert "2 student repositories exist" in message
    course.refresh_from_db()
    assert course.repo_name_template == "{course}-{docker_id}"
    # Other settings still save.
    assert course_update(course=course, actor=instructor, values={"build_tag": "week2"}) == [
        "build_tag"
    ]


def test_a_students_edit_of_the_managed_workflow_is_undone(sandbox: Any, course: Course) -> None:
    _onboard(
        sandbox,
        course,
        size=3,
        build_backend="github-actions",
        access_policy=Course.AccessPolicy.TEAM_PER_STUDENT,
    )
    edited, other = _repositories(course)[:2]
    source = edited.enrolment.github_repo
    github_state.push(
        sandbox.world,
        source,
        course.build_branch,
        {WORKFLOW_PATH: "name: mine\non: push\njobs: {}\n"},
        "my own workflow",
        source.split("/")[0],
    )
    # The push event of the hook hubcourse wrote (the sandbox delivers none here).
    repositories_note_push(course_id=course.pk, github_repo=source)

    plan = plan_course(course, observe=True)

    assert [(s.enrolment_id, s.step) for s in plan.actionable] == [
        (edited.enrolment_id, "configure_build")
    ]
    assert "was edited" in plan.actionable[0].reason
    _apply(sandbox, course)
    tree = github_state.read_tree(sandbox.world, source, course.build_branch)
    assert tree is not None
    assert tree[WORKFLOW_PATH] == workflow_text(course, edited.full_name)
    _settled_again(sandbox, course)
    other_tree = github_state.read_tree(
        sandbox.world, other.enrolment.github_repo, course.build_branch
    )
    assert other_tree is not None
    assert other_tree[WORKFLOW_PATH] == workflow_text(course, other.full_name)


def test_the_managed_workflow_is_not_read_at_every_reconcile_when_nothing_was_pushed(
    sandbox: Any, course: Course
) -> None:
    # Heads not watched, no push event: a reconcile every 5 minutes would otherwise read every
    # student's workflow each time, a class of 200 taking half of GitHub's hourly reads.
    _onboard(sandbox, course, size=3, build_backend="github-actions")
    quiet, pushed, old = _repositories(course)[:3]
    reads = requests_to(sandbox, "GET", "/contents/")
    quiet_checked = data.read(quiet, ActionsData).checked_at

    plan_course(course, observe=True)
    plan_course(course, observe=True)
    assert requests_to(sandbox, "GET", "/contents/") == reads  # just written: known as is

    repositories_note_push(course_id=course.pk, github_repo=pushed.enrolment.github_repo)
    checked = data.read(old, ActionsData).checked_at
    assert checked is not None
    data.update(old, ActionsData, checked_at=checked - DRIFT_RECHECK)
    plan_course(course, observe=True)
    plan_course(course, observe=True)

    # One read each for the student who pushed and the one last read long ago; none for
    # the quiet one.
    assert requests_to(sandbox, "GET", "/contents/") == reads + 2
    quiet.refresh_from_db()
    assert data.read(quiet, ActionsData).checked_at == quiet_checked


def _store_secret(sandbox: Any, full_name: str, name: str, value: str) -> None:
    with sandbox.world.lock:
        repo = github_state.get_repo(sandbox.world, full_name)
        assert repo is not None
        key, now = repo["secret_key"], sandbox.world.now()
        repo["secrets"][name] = {
            "encrypted_value": seal_secret(key["public"], value),
            "key_id": key["key_id"],
            "created_at": now,
            "updated_at": now,
        }


def test_a_login_name_kept_as_a_secret_moves_to_a_variable_on_the_next_apply(
    sandbox: Any, course: Course
) -> None:
    _onboard(
        sandbox,
        course,
        size=2,
        build_backend="github-actions",
        access_policy=Course.AccessPolicy.TEAM_PER_STUDENT,
    )
    before, current = _repositories(course)
    # ``before`` was set up by the hubcourse that kept the login name as a secret: its
    # workflow reads the secret, its record knows nothing of a variable.
    source = before.enrolment.github_repo
    old_text = workflow_text(course, before.full_name).replace(
        f"vars.{USERNAME_VARIABLE}", f"secrets.{USERNAME_SECRET}"
    )
    sha = github_state.push(
        sandbox.world,
        source,
        course.build_branch,
        {WORKFLOW_PATH: old_text},
        "old",
        source.split("/")[0],
    )
    _store_secret(sandbox, source, USERNAME_SECRET, before.namespace)
    with sandbox.world.lock:
        repo_state = github_state.get_repo(sandbox.world, source)
        assert repo_state is not None
        repo_state["variables"].clear()
    data.update(
        before,
        ActionsData,
        workflow_sha=sha,
        login="",
        variable_set_at=None,
        username_secret=None,
    )
    # ``current``'s student keeps a secret of that name of their own: hubcourse never made it.
    _store_secret(sandbox, current.enrolment.github_repo, USERNAME_SECRET, "mine")

    plan = plan_course(course, observe=True)

    assert [(s.enrolment_id, s.step) for s in plan.actionable] == [
        (before.enrolment_id, "configure_build")
    ]
    assert plan.actionable[0].reason == f"{MOVE_LOGIN}: hubcourse writes it again"
    _apply(sandbox, course)
    tree = github_state.read_tree(sandbox.world, source, course.build_branch)
    assert tree is not None and tree[WORKFLOW_PATH] == workflow_text(course, before.full_name)
    with sandbox.world.lock:
        moved = github_state.get_repo(sandbox.world, source)
        kept = github_state.get_repo(sandbox.world, current.enrolment.github_repo)
        assert moved is not None and kept is not None
        assert moved["variables"][USERNAME_VARIABLE]["value"] == before.namespace
        assert set(moved["secrets"]) == {TOKEN_SECRET}
        assert set(kept["secrets"]) == {TOKEN_SECRET, USERNAME_SECRET}
    _settled_again(sandbox, course)


def test_moving_to_github_actions_removes_the_automated_build_and_writes_the_workflow(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, size=3)
    assert len(_rules(sandbox)) == 3

    _change(course, build_backend="github-actions")
    plan = plan_course(course, observe=True)

    # A change of backend is a move an instructor starts (tests/builds/test_moves.py).
    moves = {
        plan.labels[s.enrolment_id]: s.change
        for s in plan.steps
        if s.enrolment_id is not None and s.setting
    }
    assert len(moves) == 3
    assert set(moves.values()) == {
        "build Docker Hub automated builds -> GitHub Actions (Docker's migration path)"
    }, moves
    assert plan.actionable == []
    course_move(course=course, actor=None, count=None)
    sandbox.world.wait_idle(timeout=30)
    _apply(sandbox, course)
    assert all(not rules for rules in _rules(sandbox).values())
    for repository in _repositories(course):
        tree = github_state.read_tree(
            sandbox.world, repository.enrolment.github_repo, course.build_branch
        )
        assert tree is not None
        assert tree[WORKFLOW_PATH] == workflow_text(course, repository.full_name)
    _settled_again(sandbox, course)


def test_renamed_teams_take_the_grants_with_them(sandbox: Any, course: Course) -> None:
    _onboard(sandbox, course, size=5, access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    org = course.organisation

    _change(course, instructors_team="docker-101-staff", student_team_template="lab-{docker_id}")
    plan = plan_course(course, observe=True)

    moves = _moves(plan)
    assert len(moves) == 5
    for label, words in moves.items():
        docker_id = label.split("@")[0]
        assert sorted(w for w in words if w) == [
            f"access docker-101-{docker_id} admin, instructors admin -> "
            f"lab-{docker_id} admin, docker-101-staff admin",
            f"team docker-101-{docker_id} -> lab-{docker_id}",
        ], words
    removals = sorted(s.reason for s in plan.actionable if s.kind == "delete")
    assert removals == [
        "delete old team instructors (renamed to docker-101-staff) once docker-101-staff "
        "holds every instructor and permission it gave",
        *(
            f"remove the old team docker-101-{r.name.removeprefix('docker-101-')} once "
            f"lab-{r.name.removeprefix('docker-101-')} holds the student and the permission"
            for r in _repositories(course)
        ),
    ]
    converge(sandbox, course)
    with sandbox.world.lock:
        groups = sandbox.world.dockerhub["orgs"][org.lower()]["groups"]
        members = {str(g["name"]): list(g["members"]) for g in groups.values()}
    for repository in _repositories(course):
        docker_id = repository.name.removeprefix("docker-101-")
        assert hub_state.team_grants(sandbox.world, org, repository.name) == {
            f"lab-{docker_id}": "admin",
            "docker-101-staff": "admin",
        }
        assert docker_id in members[f"lab-{docker_id}"]
        # The old team is gone once the new one holds the student and the permission.
        assert f"docker-101-{docker_id}" not in members
        assert repository.old_teams == []
    # The course made the instructors' team too: it goes as well.
    assert "instructors" not in members and "docker-101-staff" in members
    _settled_again(sandbox, course)


def test_an_old_team_the_course_did_not_make_is_left_and_the_plan_says_so(
    sandbox: Any, course: Course
) -> None:
    _onboard(sandbox, course, size=3, access_policy=Course.AccessPolicy.TEAM_PER_STUDENT)
    org = course.organisation
    theirs, gone, ours = _repositories(course)
    # One team existed before the course (a site admin never adopted it); another was deleted
    # by hand before the course renamed it.
    ManagedResource.objects.filter(
        course=course, kind=ManagedResource.Kind.TEAM, name=f"{org}/{theirs.student_team}".lower()
    ).update(origin=ManagedResource.Origin.FOUND)
    dockerhub_client_for(course).delete_team(org, gone.student_team)

    _change(course, student_team_template="lab-{docker_id}")
    plan = plan_course(course, observe=True)

    said = {(s.target, s.kind, s.reason) for s in plan.steps if "old team" in s.reason}
    assert (
        f"{org}/{theirs.student_team}",
        "no-op",
        f"the old team {theirs.student_team} stays: this course did not create it",
    ) in said
    assert {(t, k) for t, k, _ in said} == {
        (f"{org}/{theirs.student_team}", "no-op"),
        (f"{org}/{gone.student_team}", "delete"),
        (f"{org}/{ours.student_team}", "delete"),
    }
    converge(sandbox, course)
    with sandbox.world.lock:
        groups = {
            str(g["name"]) for g in sandbox.world.dockerhub["orgs"][org.lower()]["groups"].values()
        }
    assert theirs.student_team in groups
    assert ours.student_team not in groups and gone.student_team not in groups
    for repository in _repositories(course):
        assert repository.student_team.startswith("lab-")
    assert AuditEvent.objects.filter(
        action="team.delete", target=f"{org}/{ours.student_team}", outcome="ok"
    ).exists()
    assert AuditEvent.objects.filter(
        action="team.delete", target=f"{org}/{gone.student_team}", outcome="noop"
    ).exists()
    assert not AuditEvent.objects.filter(
        action="team.delete", target=f"{org}/{theirs.student_team}"
    ).exists()
    # Said every time, never acted on: nothing is left to apply.
    _settled_again(sandbox, course)
    again = plan_course(course, observe=True)
    assert any(
        s.target == f"{org}/{theirs.student_team}" and s.kind == "no-op" for s in again.steps
    )


def test_a_new_branch_moves_the_managed_workflow_to_it(sandbox: Any, course: Course) -> None:
    _onboard(
        sandbox,
        course,
        size=3,
        build_backend="github-actions",
        access_policy=Course.AccessPolicy.TEAM_PER_STUDENT,
    )
    for repository in _repositories(course):
        source = repository.enrolment.github_repo
        github_state.push(
            sandbox.world, source, "week2", {"NOTES.md": "week 2\n"}, "week 2", source.split("/")[0]
        )

    _change(course, build_branch="week2")
    moves = _moves(plan_course(course, observe=True))

    assert len(moves) == 3
    assert all(words == ["branch main -> week2"] for words in moves.values()), moves
    _apply(sandbox, course)
    for repository in _repositories(course):
        source = repository.enrolment.github_repo
        week2 = github_state.read_tree(sandbox.world, source, "week2")
        main = github_state.read_tree(sandbox.world, source, "main")
        assert week2 is not None and main is not None
        assert week2[WORKFLOW_PATH] == workflow_text(course, repository.full_name)
        assert WORKFLOW_PATH not in main
    _settled_again(sandbox, course)
