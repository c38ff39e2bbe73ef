"""``github-actions``: a workflow in the student's repository builds and pushes the image.

Docker's own migration path from automated builds: hubcourse commits
``.github/workflows/hubcourse.yml`` (on push to the course branch: ``docker/login-action``
with the login name from a repository variable and the token from a repository secret,
``docker/build-push-action`` with the course's context and Dockerfile, pushing
``<org>/<repo>:<tag>``), stores the Docker Hub login name as an Actions variable and the token
as an Actions secret, adds a signed repository webhook to hubcourse (``push`` and ``workflow_run``) and
reads build status from the Actions runs API.

The secret holds, per student, an organisation access token made for that student's
workflow: it may push to the student's repository and nothing else (``scope-image-push`` on
``<org>/<repo>``), so a student who prints their secret in a run reaches no one else's image.
Only an organisation owner can make one (Docker lists no token scope for it), and the Team
plan caps how many an organisation holds; when Docker Hub refuses, the secret and variable
hold the course's own credentials instead and the audit log says so. The token's id stays in this
backend's part of the student's ``build_data`` (:class:`ActionsData`) so offboarding revokes it.

On a repository the student owns, everything is written through hubcourse's GitHub App (an
installation token for that repository alone, see ``access.py``), never with the course's
token; the student's page says hubcourse committed the workflow, so their next push from an
older clone needs a pull first. A set-up that fails before the workflow is in place takes back
what it made: the access token is revoked and the secrets it stored are deleted (audited).
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from typing import Any, ClassVar, Literal

from django.utils import timezone
from pydantic import ValidationError

from accounts.credentials import dockerhub_client_for, dockerhub_credentials_for
from accounts.models import Course, Enrolment, GitHubAccess
from builds.backends import data
from builds.backends.base import (
    BuildInfo,
    BuildNotReady,
    ConfigureResult,
    StudentTask,
    WaitsOnStudent,
)
from builds.backends.common import (
    context_dir,
    dockerfile_path,
    ensure_dockerhub_webhook,
    ensure_github_webhook,
    github_repository_exists,
    github_source,
    image_name,
    known_course_github_login,
    remove_dockerhub_webhook,
    remove_github_webhook,
    student_repository,
)
from builds.backends.data import AppliedBuild, BackendData, PushHooks
from builds.backends.github_actions.access import write_access, writer, writer_and_way
from builds.models import BuildState
from hubcourse import http
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import (
    Conflict,
    ExternalServiceError,
    Forbidden,
    Invalid,
    NotFound,
    TransientError,
)
from integrations.dockerhub.client import IMAGE_PUSH_SCOPE, OrgAccessTokenResource
from integrations.dockerhub.client import SERVICE as DOCKER_HUB
from integrations.github.client import SERVICE as GITHUB
from integrations.github.client import GitHubClient, WorkflowRun
from repositories.models import StudentRepository

WORKFLOW_PATH = ".github/workflows/hubcourse.yml"
REMOVE_MESSAGE = "Remove hubcourse build workflow"
# The login name is no secret (GitHub masks a secret wherever it appears in a run's log, which
# hid the organisation's name in every image reference): a variable since issue 15.
USERNAME_VARIABLE = "DOCKERHUB_USERNAME"
# Where workflows written before kept it; hubcourse deletes that secret once it has moved.
USERNAME_SECRET = "DOCKERHUB_USERNAME"  # noqa: S105 (a secret's name)
TOKEN_SECRET = "DOCKERHUB_TOKEN"  # noqa: S105 (a secret's name, not a secret)
HOOK_EVENTS = ("push", "workflow_run")
MOVE_LOGIN = (
    f"the Docker Hub login name moves from Actions secret {USERNAME_SECRET} to Actions "
    f"variable {USERNAME_VARIABLE}"
)
# Runs read per poll: the student's recent pushes, newest first.
HISTORY = 20
# GitHub lists a run a few seconds after the push that starts it; until then the first
# build is "not there yet", not "never".
RUN_APPEARS_WITHIN = dt.timedelta(minutes=5)
# Where hubcourse does not know the student's branch head (not watched), a push event since
# the last look says the managed workflow may have changed; without one it is read again
# after this long, not at every reconcile. Read at every pass, a class of 200 took 144 s of each 5-minute pass at
# GitHub's 5000 reads an hour, and passes 30 s apart piled up on the workers.
DRIFT_RECHECK = dt.timedelta(minutes=30)

_QUEUED = frozenset({"queued", "requested", "waiting", "pending"})
_CANCELED = frozenset({"cancelled", "skipped", "stale"})


# GitHub's branch filters are globs: these characters are escaped to match themselves.
_FILTER_SPECIAL = frozenset("*?+[]!\\")


def yaml_string(value: str) -> str:
    """``value`` as one YAML double-quoted scalar that is read back unchanged.

    JSON's string syntax (ASCII only, every control character escaped) is a subset of
    YAML's double-quoted style, so no quote, newline or ``#`` in a setting can end the
    scalar or add a key.
    """
    return json.dumps(value, ensure_ascii=True)


def literal(value: str) -> str:
    """``value`` for a step input, where GitHub evaluates ``${{ ... }}``: a literal ``${{``
    becomes the expression that yields it, so a setting cannot reach a secret or context."""
    return value.replace("${{", "${{ '${{' }}")


def _branch_filter(branch: str) -> str:
    """A filter that matches exactly ``branch`` (``\\`` escapes a glob character)."""
    return "".join("\\" + ch if ch in _FILTER_SPECIAL else ch for ch in branch)


def _comment(text: str) -> str:
    """Text for a ``#`` comment: printable, on one line."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def workflow_text(course: Course, image: str) -> str:
    """The workflow hubcourse commits; its content alone decides whether a commit is needed.

    Beyond Docker's recommended workflow: runs of one branch queue one after another
    (``concurrency``), so an older commit never lands as the tag after a newer one; the
    commit's SHA is pushed as a second tag, so an instructor can pull exactly what was built;
    the job's token may only read the repository; and layers are cached between runs
    (GitHub's Actions cache). The Docker Hub token is an Actions secret; the login name (an
    organisation access token logs in with the organisation's name) an Actions variable, so
    run logs show it rather than masking it.
    """
    context = context_dir(course)
    branch = course.build_branch
    dockerfile = dockerfile_path(course)
    # The SHA tag is an expression of ours: only the course's values are made literal.
    tags = literal(f"{image}:{course.build_tag}") + "\n" + literal(image) + ":${{ github.sha }}"
    return f"""\
# Managed by hubcourse for the course {_comment(course.name)}: every push to
# {_comment(branch)} builds {_comment(dockerfile)} and pushes it to Docker Hub as
# {_comment(image)}:{_comment(course.build_tag)} and as {_comment(image)}:<commit SHA>.
# Changes here are overwritten when hubcourse reconciles the course.
name: hubcourse
on:
  push:
    branches: [{yaml_string(_branch_filter(branch))}]
  workflow_dispatch:
permissions:
  contents: read
concurrency:
  group: hubcourse-${{{{ github.ref }}}}
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - uses: docker/login-action@v3
        with:
          username: ${{{{ vars.{USERNAME_VARIABLE} }}}}
          password: ${{{{ secrets.{TOKEN_SECRET} }}}}
      - uses: docker/build-push-action@v6
        with:
          context: {yaml_string(literal("./" + context))}
          file: {yaml_string(literal("./" + dockerfile))}
          push: true
          tags: {yaml_string(tags)}
          cache-from: type=gha
          cache-to: type=gha,mode=max
"""


def map_run(run: WorkflowRun) -> BuildState:
    status = (run.status or "").lower()
    if status != "completed":
        return BuildState.QUEUED if status in _QUEUED else BuildState.RUNNING
    conclusion = (run.conclusion or "").lower()
    if conclusion == "success":
        return BuildState.SUCCESS
    if conclusion in _CANCELED:
        return BuildState.CANCELED
    return BuildState.FAILED


def build_info(run: WorkflowRun) -> BuildInfo:
    state = map_run(run)
    final = state in (BuildState.SUCCESS, BuildState.FAILED, BuildState.CANCELED)
    return BuildInfo(
        external_id=str(run.id),
        state=state,
        created_at=run.created_at,
        started_at=run.run_started_at if state != BuildState.QUEUED else None,
        finished_at=run.updated_at if final else None,
        commit_sha=run.head_sha,
        branch=run.head_branch or "",
        log_url=run.html_url,
    )


class ActionsData(BackendData):
    """What configure put in the student's GitHub repository, and the student's push token."""

    key: ClassVar[str] = "github-actions"
    # The commit that put the workflow on the course branch.
    workflow_sha: str = ""
    secret_set_at: dt.datetime | None = None
    # The organisation access token made for this student's workflow (it may push to this
    # repository only), kept so offboarding can revoke it. Blank when the secrets hold the
    # course's own token.
    token_id: str = ""
    # The login name the variable holds (the one that goes with the token in the secret),
    # and when hubcourse stored it.
    login: str = ""
    variable_set_at: dt.datetime | None = None
    # Whether hubcourse's Actions secret USERNAME_SECRET (where the login name was kept before
    # it became a variable) is still there. None in records written before: then it is there
    # when hubcourse stored secrets at all.
    username_secret: bool | None = None

    @property
    def has_username_secret(self) -> bool:
        if self.username_secret is not None:
            return self.username_secret
        return self.secret_set_at is not None

    # When the workflow was last committed by hubcourse (the student's page says so).
    committed_at: dt.datetime | None = None
    # What someone changed in the managed workflow, in words ("" when it is as written),
    # and the branch head it was last read at (a head not moved since needs no read).
    drift: str = ""
    checked_head: str = ""
    checked_at: dt.datetime | None = None


class GitHubActions:
    name = "github-actions"
    label = "GitHub Actions (Docker's migration path)"
    removal_note = "with the workflow, secret and variable in each student's GitHub repository"
    needs_owner_account = False
    service = "GitHub"
    student_team_permission: Literal["read", "write", "admin"] = "read"
    results_by_event = True  # workflow_run events carry each run's result
    # Configure writes its own webhook (push and workflow_run), or the GitHub App's events
    # stand for one: the push-hook task has nothing to add.
    needs_push_hook = False
    github_scopes: tuple[tuple[str, tuple[str, ...], str], ...] = (
        ("workflow", ("workflow",), "commit the GitHub Actions workflow"),
    )

    def forget(self, repository: StudentRepository, *, hub_repository_gone: bool) -> bool:
        if hub_repository_gone:
            # The workflow pushes the repository into being again: nothing to redo.
            return False
        # A new GitHub repository has no workflow, secrets or hook of ours. The token id is
        # kept: the token still exists on Docker Hub and offboarding revokes it.
        data.update(repository, ActionsData, workflow_sha="", secret_set_at=None)
        data.update(repository, PushHooks, github_hook_id=None)
        return True

    def may_have_built(self, repository: StudentRepository) -> bool:
        return True  # the workflow's own commit starts the first run

    def has_configuration(self, repository: StudentRepository) -> bool:
        kept = data.read(repository, ActionsData)
        return bool(
            kept.workflow_sha
            or kept.token_id
            or data.read(repository, PushHooks).github_hook_id is not None
        )

    def observe_drift(self, enrolment: Enrolment, repository: StudentRepository) -> bool:
        """Read the managed workflow on the course branch and compare it, by content, with
        the one hubcourse writes: one GitHub read per student whose branch head moved since
        the last look (where the head is not known: after a push event, else every
        ``DRIFT_RECHECK``)."""
        kept = data.read(repository, ActionsData)
        if repository.build_configured_at is None or not kept.workflow_sha:
            return False
        if kept.variable_set_at is None:
            # Written before the login name was a variable: it differs from today's text for
            # that reason alone, and the plan already says the next set-up rewrites it.
            return False
        head, now = repository.head_sha, timezone.now()
        if head and head == kept.checked_head:
            return False
        pushed = repository.last_pushed_at
        if (
            not head
            and kept.checked_at is not None
            and now - kept.checked_at < DRIFT_RECHECK
            and (pushed is None or pushed <= kept.checked_at)
        ):
            return False  # no push heard of since the last look, and that look was recent
        course = enrolment.course
        try:
            owner, repo = github_source(enrolment)
            client = writer(enrolment)
            try:
                found = client.get_file(owner, repo, WORKFLOW_PATH, ref=course.build_branch)
            except NotFound:
                drift = f"{WORKFLOW_PATH} was deleted from {course.build_branch}"
            else:
                written = workflow_text(course, image_name(repository)).encode()
                drift = (
                    ""
                    if found.content == written
                    else f"{WORKFLOW_PATH} was edited in the repository"
                )
        except (BuildNotReady, ExternalServiceError, ValueError):
            # Not readable now (no access or token, a passing failure): the next pass looks.
            return False
        data.update(repository, ActionsData, drift=drift, checked_head=head, checked_at=now)
        return drift != kept.drift

    def drift(self, repository: StudentRepository) -> tuple[str, ...]:
        kept = data.read(repository, ActionsData)
        found: tuple[str, ...] = (kept.drift,) if kept.drift else ()
        if kept.workflow_sha and kept.variable_set_at is None:
            # Set up before the login name was a variable: the next set-up moves it.
            found += (MOVE_LOGIN,)
        return found

    def ensure_push_hook(self, enrolment: Enrolment) -> bool:
        return False  # never asked (needs_push_hook): configure writes the hook

    def build_from_webhook(
        self, course: Course, event: str, payload: dict[str, Any]
    ) -> BuildInfo | None:
        """A ``workflow_run`` delivery of hubcourse's workflow carries the run itself."""
        if event != "workflow_run":
            return None
        try:
            run = WorkflowRun.model_validate(payload.get("workflow_run"))
        except ValidationError:
            return None
        if run.path not in (None, WORKFLOW_PATH):
            return None  # the student's own workflows are theirs
        return build_info(run)

    def _client(self, enrolment: Enrolment) -> GitHubClient:
        return writer(enrolment)

    def preflight_findings(self, enrolment: Enrolment) -> list[tuple[str, str]]:
        """Whether hubcourse will be able to write the workflow and secrets, before any is made."""
        try:
            access = write_access(enrolment)
        except BuildNotReady:
            return []
        if access.way == "app":
            return [
                (
                    "ok",
                    f"The hubcourse GitHub App may write the build workflow to "
                    f"{enrolment.github_repo}.",
                )
            ]
        if access.way == "course":
            return []
        return [("error", access.problem)]

    def student_first(self, enrolment: Enrolment) -> str:
        """What the student must do before hubcourse can write the workflow to their
        repository, in words, from rows only (a move onto this backend asks it in advance):
        install the GitHub App on a repository that is not the course's own. "" when it is
        installed, the repository is the course's, or the rows cannot tell (the course
        token's login not read lately); pre-flight at the move says it then."""
        if enrolment.github_access == GitHubAccess.APP and enrolment.github_installation_id:
            return ""
        try:
            owner, repo = github_source(enrolment)
        except BuildNotReady:
            return ""
        login = known_course_github_login(enrolment.course)
        if not login or login.lower() == owner.lower():
            return ""
        return (
            f"install the course's GitHub App on {owner}/{repo}: hubcourse writes the GitHub "
            "Actions workflow and its Docker Hub secret there through it"
        )

    def student_task(
        self, enrolment: Enrolment, repository: StudentRepository
    ) -> StudentTask | None:
        kept = data.read(repository, ActionsData)
        if kept.committed_at is None or not kept.workflow_sha:
            return None
        branch = enrolment.course.build_branch
        return StudentTask(
            title="hubcourse committed a workflow to your repository",
            text=(
                f"hubcourse committed {WORKFLOW_PATH} to {branch} of {enrolment.github_repo} "
                f"(commit {kept.workflow_sha[:7]}, {kept.committed_at:%Y-%m-%d %H:%M} UTC): it "
                "builds and pushes your image on every push. Before your next push from a "
                f"clone made earlier, run git pull origin {branch} (or your push is refused)."
            ),
        )

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        course = enrolment.course
        repository = student_repository(enrolment)
        owner, repo = github_source(enrolment)
        client, way = writer_and_way(enrolment)
        made: list[str] = []  # what this set-up made, to take back if it fails
        try:
            # Order matters: the workflow's commit is a push that starts a run, which needs
            # the secrets, and hubcourse wants to hear about that run through its webhook.
            secrets_changed = self._ensure_secrets(
                client, enrolment, repository, owner, repo, made=made
            )
            variable_changed = self._ensure_variable(
                client, enrolment, repository, owner, repo, made=made
            )
            # Through the app, its own events (push, workflow_run) reach hubcourse: no
            # repository webhook is needed, nor may an installation token add one.
            hook_changed = way != "app" and ensure_github_webhook(
                client, enrolment, repository, owner, repo, events=HOOK_EVENTS
            )
            sha, workflow_changed = self._ensure_workflow(
                client, enrolment, repository, owner, repo
            )
            moved = self._leave_old_branch(client, enrolment, repository, owner, repo)
            # Only once no workflow of ours reads it any more.
            old_secret = self._remove_username_secret(client, enrolment, repository, owner, repo)
        except BaseException:
            # No workflow uses them yet: a live token or a secret holding a token about to
            # be made again is only a risk.
            self._take_back(client, enrolment, repository, owner, repo, made)
            raise
        dockerhub_hook = ensure_dockerhub_webhook(
            dockerhub_client_for(course), enrolment, repository
        )
        return ConfigureResult(
            changed=secrets_changed
            or variable_changed
            or old_secret
            or hook_changed
            or workflow_changed
            or dockerhub_hook
            or moved,
            reference=sha,
        )

    def _audit(
        self, enrolment: Enrolment, action: str, target: str, outcome: str, message: object
    ) -> None:
        audit_record(
            service=GITHUB,
            action=action,
            target=target,
            outcome=outcome,
            enrolment=enrolment,
            message=message if isinstance(message, BaseException) else str(message),
        )

    def _take_back(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
        made: list[str],
    ) -> None:
        """Undo what a failed set-up made (``made``: "token", "variable", secret names); best
        effort, each step audited, and never hiding the error that made the set-up fail."""
        target = f"{owner}/{repo}"
        if "variable" in made:
            try:
                client.delete_actions_variable(owner, repo, USERNAME_VARIABLE)
                data.update(repository, ActionsData, variable_set_at=None, login="")
                self._audit(
                    enrolment,
                    "variable.delete",
                    target,
                    Outcome.OK,
                    f"Deleted {USERNAME_VARIABLE}: the build set-up failed before it was complete.",
                )
            except ExternalServiceError as error:
                self._audit(enrolment, "variable.delete", target, Outcome.ERROR, error)
        secret_names = [m for m in made if m not in ("token", "variable")]
        for name in secret_names:
            try:
                client.delete_actions_secret(owner, repo, name)
                self._audit(
                    enrolment,
                    "secret.delete",
                    target,
                    Outcome.OK,
                    f"Deleted {name}: the build set-up failed before it was complete.",
                )
            except ExternalServiceError as error:
                self._audit(enrolment, "secret.delete", target, Outcome.ERROR, error)
        if secret_names:
            data.update(repository, ActionsData, secret_set_at=None)
        if "token" in made:
            try:
                self._revoke_token(enrolment, repository)
            except ExternalServiceError:
                pass  # audited by _revoke_token; the id stays kept, so offboarding retries

    def _ensure_secrets(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
        *,
        made: list[str],
    ) -> bool:
        course = enrolment.course
        target = f"{owner}/{repo}"
        kept = data.read(repository, ActionsData)
        try:
            if kept.secret_set_at is not None and (
                # A student's own token does not change with the course's.
                kept.token_id
                or course.dockerhub_token_set_at is None
                or kept.secret_set_at >= course.dockerhub_token_set_at
            ):
                # GitHub never shows a secret's value: trust our record if it still exists.
                client.get_actions_secret(owner, repo, TOKEN_SECRET)
                return False
        except NotFound:
            pass  # someone deleted it: store it again
        identifier, token, token_id = self._push_credentials(enrolment, repository)
        if token_id:
            made.append("token")
        try:
            client.set_actions_secret(owner, repo, TOKEN_SECRET, token)
            made.append(TOKEN_SECRET)
        except ExternalServiceError as error:
            self._audit(enrolment, "secret.set", target, Outcome.ERROR, error)
            raise
        now = timezone.now()
        # The login goes with the token: the variable step below writes it. A record from
        # before variables keeps saying the old login secret is there (it is, and ours).
        data.update(
            repository,
            ActionsData,
            secret_set_at=now,
            login=identifier,
            username_secret=kept.has_username_secret,
        )
        self._audit(
            enrolment,
            "secret.set",
            target,
            Outcome.OK,
            f"Stored the Docker Hub token as Actions secret {TOKEN_SECRET}"
            + (
                " (a token that pushes to this student's repository only)."
                if token_id
                else " (the course's own credentials)."
            ),
        )
        return True

    def _login(self, enrolment: Enrolment, repository: StudentRepository) -> str:
        """The login name that goes with the token in the secret."""
        kept = data.read(repository, ActionsData)
        if kept.login:
            return kept.login
        # Stored before the login was recorded: a student's own token logs in with the
        # organisation's name, the course's token with the course's login.
        if kept.token_id:
            return repository.namespace
        return dockerhub_credentials_for(enrolment.course)[0]

    def _ensure_variable(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
        *,
        made: list[str],
    ) -> bool:
        """The login name as Actions variable USERNAME_VARIABLE (one read when it holds it)."""
        target = f"{owner}/{repo}"
        login = self._login(enrolment, repository)
        try:
            action = client.set_actions_variable(owner, repo, USERNAME_VARIABLE, login)
        except ExternalServiceError as error:
            self._audit(enrolment, "variable.set", target, Outcome.ERROR, error)
            raise
        kept = data.read(repository, ActionsData)
        if action == "unchanged":
            if kept.variable_set_at is None or kept.login != login:
                data.update(repository, ActionsData, variable_set_at=timezone.now(), login=login)
            return False
        if action == "created":
            made.append("variable")
        data.update(repository, ActionsData, variable_set_at=timezone.now(), login=login)
        self._audit(
            enrolment,
            "variable.set",
            target,
            Outcome.OK,
            f"Actions variable {USERNAME_VARIABLE} {action}: the workflow logs in as {login}.",
        )
        return True

    def _remove_username_secret(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
    ) -> bool:
        """Delete the login-name secret hubcourse stored before it used a variable; a secret
        of that name hubcourse did not store is not its to delete."""
        if not data.read(repository, ActionsData).has_username_secret:
            return False
        try:
            removed = client.delete_actions_secret(owner, repo, USERNAME_SECRET)
        except ExternalServiceError as error:
            self._audit(enrolment, "secret.delete", f"{owner}/{repo}", Outcome.ERROR, error)
            raise
        data.update(repository, ActionsData, username_secret=False)
        self._audit(
            enrolment,
            "secret.delete",
            f"{owner}/{repo}",
            Outcome.OK if removed else Outcome.NOOP,
            f"Deleted Actions secret {USERNAME_SECRET}: the login name is variable "
            f"{USERNAME_VARIABLE} now."
            if removed
            else f"Actions secret {USERNAME_SECRET} was gone already.",
        )
        return removed

    def _push_credentials(
        self, enrolment: Enrolment, repository: StudentRepository
    ) -> tuple[str, str, str]:
        """(login, secret, token id) for the student's workflow: a new organisation access token
        that pushes to the student's repository only, or the course's credentials ("" id) when
        Docker Hub will not make one for these credentials."""
        hub = dockerhub_client_for(enrolment.course)
        image = image_name(repository)
        label = token_label(repository)
        try:
            # Its secret is shown once, at creation: a token of ours found here (a crash
            # between making it and storing it, a secret deleted on GitHub) cannot be reused,
            # so it is revoked rather than left alive.
            for stale in hub.list_org_access_tokens(repository.namespace):
                if stale.label == label:
                    hub.delete_org_access_token(repository.namespace, stale.id)
            created = hub.create_org_access_token(
                repository.namespace,
                label=label,
                description=f"hubcourse: {enrolment.course.name}, pushes {image} only",
                resources=[
                    OrgAccessTokenResource(type="TYPE_REPO", path=image, scopes=(IMAGE_PUSH_SCOPE,))
                ],
            )
        except (Forbidden, Invalid, NotFound) as error:
            # Not an owner's token, an organisation access token, a plan without (enough)
            # organisation access tokens: the course's token still builds.
            identifier, secret = dockerhub_credentials_for(enrolment.course)
            audit_record(
                service=DOCKER_HUB,
                action="token.create",
                target=image,
                outcome=Outcome.FALLBACK,
                enrolment=enrolment,
                message=(
                    "Docker Hub did not make a token for this repository alone "
                    f"({error.message}); the workflow uses the course's credentials."
                ),
            )
            return identifier, secret, ""
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="token.create",
                target=image,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        # Kept at once, so a crash before the secrets are stored still leaves it revocable.
        data.update(repository, ActionsData, token_id=created.id)
        audit_record(
            service=DOCKER_HUB,
            action="token.create",
            target=image,
            outcome=Outcome.OK,
            enrolment=enrolment,
            message=f"Made access token {label!r}: it pushes to {image} only.",
        )
        # An organisation access token logs in with the organisation's name.
        return repository.namespace, created.token, created.id

    def _ensure_workflow(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
    ) -> tuple[str, bool]:
        course = enrolment.course
        target = f"{owner}/{repo}"
        text = workflow_text(course, image_name(repository))
        message = f"Build and push to Docker Hub on every push to {course.build_branch} (hubcourse)"
        try:
            try:
                write = client.create_or_update_file(
                    owner, repo, WORKFLOW_PATH, text, message=message, branch=course.build_branch
                )
            except Conflict:
                # The file changed between our read and our write (another worker, the
                # student): read again and write only if it still differs.
                write = client.create_or_update_file(
                    owner, repo, WORKFLOW_PATH, text, message=message, branch=course.build_branch
                )
        except ExternalServiceError as error:
            self._audit(enrolment, "workflow.commit", target, Outcome.ERROR, error)
            raise
        changed = write.action != "unchanged"
        known = data.read(repository, ActionsData).workflow_sha
        sha = write.commit_sha or known or write.content_sha
        if write.commit_sha:
            data.update(
                repository,
                ActionsData,
                workflow_sha=sha,
                committed_at=timezone.now(),
                drift="",
                checked_head="",
                checked_at=timezone.now(),  # as written: no read needed to know it
            )
        elif known != sha or data.read(repository, ActionsData).drift:
            data.update(
                repository, ActionsData, workflow_sha=sha, drift="", checked_at=timezone.now()
            )
        self._audit(
            enrolment,
            "workflow.commit",
            f"{target}/{WORKFLOW_PATH}",
            Outcome.OK if changed else Outcome.NOOP,
            f"Workflow {write.action} on {course.build_branch}"
            + (f" in commit {write.commit_sha[:7]}." if write.commit_sha else "."),
        )
        return sha, changed

    def _runs(self, enrolment: Enrolment) -> list[WorkflowRun]:
        owner, repo = github_source(enrolment)
        runs = self._client(enrolment).list_workflow_runs(
            owner, repo, branch=enrolment.course.build_branch, limit=HISTORY
        )
        return [run for run in runs if run.path in (None, WORKFLOW_PATH)]

    def trigger(self, enrolment: Enrolment) -> str | None:
        """The first build: the run the workflow's own commit started, else a dispatched one.

        When hubcourse's commit of the workflow is the branch's head, that push starts a run
        and GitHub lists it within seconds: until then this raises a transient error so the
        step is tried again shortly. When the workflow was already in place (nothing was
        committed) or no run came of the commit, the workflow is dispatched
        (``workflow_dispatch``) on the course branch.
        """
        repository = student_repository(enrolment)
        runs = self._runs(enrolment)
        if runs:
            return str(runs[0].id)
        owner, repo = github_source(enrolment)
        client = self._client(enrolment)
        branch = enrolment.course.build_branch
        configured = StudentRepository.objects.filter(pk=repository.pk).values_list(
            "build_configured_at", flat=True
        )[0]
        recent = configured is not None and timezone.now() - configured < RUN_APPEARS_WITHIN
        target = f"{owner}/{repo}"
        try:
            if (
                recent
                and client.get_branch(owner, repo, branch).sha
                == data.read(repository, ActionsData).workflow_sha
            ):
                raise TransientError(
                    GITHUB,
                    f"find the first workflow run of {target}",
                    None,
                    "GitHub has not listed the run yet",
                )
            run_id = client.dispatch_workflow(
                owner, repo, posixpath.basename(WORKFLOW_PATH), branch
            )
        except TransientError:
            raise
        except ExternalServiceError as error:
            self._audit(enrolment, "workflow.dispatch", target, Outcome.ERROR, error)
            raise
        self._audit(
            enrolment,
            "workflow.dispatch",
            target,
            Outcome.OK,
            f"Started the workflow on {branch}"
            + (f" (run {run_id})." if run_id is not None else "."),
        )
        # A GitHub that does not say the run's id lists it shortly; polling records it.
        return str(run_id) if run_id is not None else None

    def builds_since(self, enrolment: Enrolment, since: dt.datetime | None) -> list[BuildInfo]:
        infos = [build_info(run) for run in self._runs(enrolment)]
        if since is None:
            return infos
        return [i for i in infos if i.created_at is None or i.created_at >= since]

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        owner, repo = github_source(enrolment)
        client = self._client(enrolment)
        parts: list[str] = []
        for job in client.list_workflow_jobs(owner, repo, int(external_id)):
            if job.status != "completed":
                continue
            url = client.job_log_url(owner, repo, job.id)
            # A short-lived signed URL on GitHub's storage: it carries no token of ours.
            response = http.request(
                "GET", url, service=GITHUB, operation=f"read the log of job {job.name}"
            )
            parts.append(response.text)
        return "\n".join(parts)

    def remove(self, enrolment: Enrolment) -> str | None:
        """Undo ``configure``: the webhooks, the workflow (one commit), the secrets, and the
        student's access token revoked. Whatever is gone already counts as done."""
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is None:
            return None
        try:
            owner, repo = github_source(enrolment)
            client, way = writer_and_way(enrolment)
        except WaitsOnStudent as why:
            # The app is gone from the student's repository: the workflow and secrets stay
            # there, but the token they hold is revoked below, so they push nothing.
            self._audit(enrolment, "build.remove", enrolment.github_repo, Outcome.NOOP, why)
        except BuildNotReady:
            pass  # no GitHub repository was ever linked: only Docker Hub has anything of ours
        else:
            target = f"{owner}/{repo}"
            try:
                if way != "app":  # through the app, configure added no repository webhook
                    remove_github_webhook(client, enrolment, repository, owner, repo)
                self._remove_workflow(client, enrolment, owner, repo)
                kept = data.read(repository, ActionsData)
                # Only what hubcourse stored: a login secret of the student's stays.
                names = (
                    (USERNAME_SECRET, TOKEN_SECRET) if kept.has_username_secret else (TOKEN_SECRET,)
                )
                removed = [
                    name for name in names if client.delete_actions_secret(owner, repo, name)
                ]
                if kept.variable_set_at is not None and client.delete_actions_variable(
                    owner, repo, USERNAME_VARIABLE
                ):
                    removed.append(f"variable {USERNAME_VARIABLE}")
            except NotFound as error:
                # Fine when the GitHub repository itself is gone, and all in it with it; not
                # when only something we need to see is hidden from our token.
                if github_repository_exists(client, owner, repo):
                    self._audit(enrolment, "build.remove", target, Outcome.ERROR, error)
                    raise
                removed = []
            except ExternalServiceError as error:
                self._audit(enrolment, "build.remove", target, Outcome.ERROR, error)
                raise
            self._audit(
                enrolment,
                "secret.delete",
                target,
                Outcome.OK if removed else Outcome.NOOP,
                f"Deleted {', '.join(removed)}." if removed else "No secrets of ours were left.",
            )
        self._revoke_token(enrolment, repository)
        remove_dockerhub_webhook(dockerhub_client_for(enrolment.course), enrolment, repository)
        # Cleared last: a removal cut short keeps the row saying there is something to remove.
        data.clear(repository, PushHooks, ActionsData)
        StudentRepository.objects.filter(pk=repository.pk).update(build_configured_at=None)
        return None

    def _leave_old_branch(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
    ) -> bool:
        """The course builds from another branch than the workflow was last written to: the
        workflow there is removed (a push to the old branch would still build the tag)."""
        applied = data.read(repository, AppliedBuild)
        old = applied.branch
        if applied.backend != self.name or not old or old == enrolment.course.build_branch:
            return False
        try:
            self._remove_workflow(client, enrolment, owner, repo, branch=old)
        except NotFound:
            return False  # the old branch itself is gone, with the workflow on it
        return True

    def _remove_workflow(
        self,
        client: GitHubClient,
        enrolment: Enrolment,
        owner: str,
        repo: str,
        *,
        branch: str | None = None,
    ) -> None:
        branch = branch or enrolment.course.build_branch
        try:
            sha = client.delete_file(
                owner, repo, WORKFLOW_PATH, message=REMOVE_MESSAGE, branch=branch
            )
        except Conflict:
            # Changed between our read and our delete (the student pushed): read again.
            sha = client.delete_file(
                owner, repo, WORKFLOW_PATH, message=REMOVE_MESSAGE, branch=branch
            )
        self._audit(
            enrolment,
            "workflow.delete",
            f"{owner}/{repo}/{WORKFLOW_PATH}",
            Outcome.OK if sha else Outcome.NOOP,
            f"Removed the workflow from {branch} in commit {sha[:7]}."
            if sha
            else f"There was no workflow on {branch}.",
        )

    def _revoke_token(self, enrolment: Enrolment, repository: StudentRepository) -> None:
        token_id = data.read(repository, ActionsData).token_id
        if not token_id:
            return
        image = image_name(repository)
        try:
            dockerhub_client_for(enrolment.course).delete_org_access_token(
                repository.namespace, token_id
            )
            outcome, message = Outcome.OK, "The student's push token no longer works."
        except NotFound:
            outcome, message = Outcome.NOOP, "the token was already deleted"
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="token.delete",
                target=image,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        data.update(repository, ActionsData, token_id="")
        audit_record(
            service=DOCKER_HUB,
            action="token.delete",
            target=image,
            outcome=outcome,
            enrolment=enrolment,
            message=message,
        )


def token_label(repository: StudentRepository) -> str:
    """The label of the student's access token: unique per repository, so it is found again."""
    return f"hubcourse {image_name(repository)}"[:100]
