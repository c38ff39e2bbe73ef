"""``dockerhub-autobuild``: Docker Hub's automated builds, the course handout's way.

Links the student's Docker Hub repository to their GitHub repository with one rule (branch
``main``, Dockerfile ``DockerfileVolume``, context ``/`` by default) on the undocumented
``api/build/v1`` routes (notes §11.1). Docker Hub then builds on every push to the branch.
These routes need a signed-in Owner (a personal access token of an organisation owner), not
an organisation access token, and Docker retires automated builds on 1 April 2027.

Docker Hub links a build source only through the GitHub account linked to the Docker ID
that sets it up, and only for repositories that GitHub account administers. So the course's
Owner links the build only where their linked GitHub account administers the repository (an
organisation's, or the linked account's own: Docker Hub's API does not say which account is
linked, so it is the one the course or ``DOCKERHUB_OWNER_GITHUB_LOGIN`` names, else the
course's GitHub token's account, and ``hub_doctor`` says which). On a repository the
student owns, the student links it from their own Docker ID (their team administers their
Docker Hub repository): the student page shows the exact values and the build settings page,
and ``configure`` reads the source and its rule back, says what differs, corrects the rule's
fields (an Owner may edit those) and is done once it matches.

Docker Hub calls its webhook only after a successful push, so a failed build would be seen
only at the slow idle read. ``configure`` therefore also puts a signed push webhook on the
student's GitHub repository (when the course's GitHub credentials may): a push marks the
repository for polling at once, and the build it starts, failed or not, is read within
seconds. Without that permission the student's builds are found by polling alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from celery import current_app
from django.conf import settings
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.credentials import dockerhub_client_for, github_client_for, owner_github_login_for
from accounts.managed import record_created
from accounts.models import Course, Enrolment, GitHubAccess, ManagedResource
from builds.backends import data
from builds.backends.autobuild.client import AutobuildClient, BuildRule, BuildSetting, BuildSource
from builds.backends.autobuild.client import Build as HubBuild
from builds.backends.base import (
    BuildInfo,
    BuildNotReady,
    ConfigureResult,
    StudentTask,
    WaitsOnStudent,
)
from builds.backends.common import (
    audit_github_error,
    course_github_login,
    ensure_dockerhub_webhook,
    ensure_github_webhook,
    github_hook_url,
    github_repository_exists,
    github_source,
    image_name,
    remove_dockerhub_webhook,
    remove_github_webhook,
    student_repository,
)
from builds.backends.data import BackendData, PushHooks
from builds.models import BuildState
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import (
    AuthenticationFailed,
    ExternalServiceError,
    Forbidden,
    Invalid,
    NotFound,
    PermanentError,
    UnexpectedResponse,
)
from integrations.dockerhub.client import SERVICE as DOCKER_HUB
from integrations.github.client import SERVICE as GITHUB
from repositories.models import StudentRepository

# Docker Cloud's action states (notes §11.1) in hubcourse's words.
_STATES: dict[str, BuildState] = {
    "pending": BuildState.QUEUED,
    "in progress": BuildState.RUNNING,
    "building": BuildState.RUNNING,
    "canceling": BuildState.RUNNING,
    "success": BuildState.SUCCESS,
    "failed": BuildState.FAILED,
    "error": BuildState.FAILED,
    "canceled": BuildState.CANCELED,
    "cancelled": BuildState.CANCELED,
}
# How many recent builds one read asks for: far more than a student pushes between polls.
HISTORY = 25
# The GitHub webhook only says "look now": Docker Hub builds on the push by itself.
HOOK_EVENTS = ("push",)


# Who links the student's repository on Docker Hub.
BY_HUBCOURSE = "hubcourse"
BY_STUDENT = "student"


class AutobuildData(BackendData):
    """The student's build source on Docker Hub, once configure made or found it."""

    key: ClassVar[str] = "dockerhub-autobuild"
    source_uuid: str = ""
    # BY_HUBCOURSE or BY_STUDENT once decided ("" before the first configure).
    set_up_by: str = ""
    # What the student's build source had that the course does not want, in words: what
    # hubcourse corrected, or (while ``waiting``) what only the student can change.
    differences: tuple[str, ...] = ()
    waiting: bool = False
    # When hubcourse created ``source_uuid`` itself (None for a source found or linked by the
    # student): no build can predate it, and only a push since can have started one.
    source_created_at: dt.datetime | None = None


def owner_linked_login(course: Course) -> tuple[str, str]:
    """(login, where it comes from, in words) of the GitHub account taken to be linked to the
    Owner's Docker ID; ``("", "")`` when nothing says and there is no GitHub token.

    Docker Hub's API does not say which GitHub account a Docker ID has linked (no documented or
    known route reads it): a configured login wins (``owner_github_login_for``), else the
    course's GitHub token's account is assumed, as the handout asks instructors to link that
    one. ``hub_doctor`` names the account and how to check it.
    """
    login, where = owner_github_login_for(course)
    if login:
        return login, where
    try:
        client = github_client_for(course)
    except ValueError:
        return "", ""
    return course_github_login(course, client), "the GitHub token's account (assumed)"


def who_links(enrolment: Enrolment, owner: str) -> str:
    """BY_HUBCOURSE or BY_STUDENT: who links an automated build from ``owner``'s repository.

    A repository of the Owner's linked GitHub account (``owner_linked_login``) or of an
    organisation is linked by the Owner (Docker Hub refusing it hands it to the student); a
    repository of another user, or one the student installed the GitHub App on, is the
    student's to link, when the course gives each student their own team (the only policy
    under which they administer their Docker Hub repository). Asks nothing of the student's
    repository itself.
    """
    course = enrolment.course
    if course.access_policy != Course.AccessPolicy.TEAM_PER_STUDENT:
        # The student could not link it (no admin on their Docker Hub repository): the Owner
        # tries, and Docker Hub's refusal hands it to the student with what is missing.
        return BY_HUBCOURSE
    linked, _where = owner_linked_login(course)
    if not linked:
        return BY_HUBCOURSE  # nothing to compare with: try; Docker Hub's refusal decides
    if owner.lower() == linked.lower():
        return BY_HUBCOURSE
    if enrolment.github_access == GitHubAccess.APP:
        return BY_STUDENT  # they installed the app on it: theirs
    try:
        client = github_client_for(course)
    except ValueError:
        return BY_HUBCOURSE  # cannot tell a user from an organisation: try as before
    if client.get_account(owner).type.lower() != "organization":
        return BY_STUDENT
    return BY_HUBCOURSE


def build_settings_url(repository: StudentRepository) -> str:
    """The repository's build settings page on Docker Hub, where a build source is linked."""
    web = str(settings.DOCKERHUB_WEB_URL).rstrip("/")
    return f"{web}/repository/docker/{repository.namespace}/{repository.name}/builds/edit"


def rule_differences(setting: BuildRule, wanted: BuildRule) -> list[str]:
    """What differs between a rule on Docker Hub and the course's, in words."""
    words = {
        "source_type": "source type",
        "source_name": "source branch",
        "tag": "Docker tag",
        "dockerfile": "Dockerfile location",
        "build_context": "build context",
        "autobuild": "autobuild",
    }
    out: list[str] = []
    for field, label in words.items():
        have, want = getattr(setting, field), getattr(wanted, field)
        if have != want:
            if isinstance(want, bool):
                have, want = ("on" if have else "off"), ("on" if want else "off")
            out.append(f"the {label} is {have!r}, the course builds {want!r}")
    return out


def course_rule(course: Course) -> BuildRule:
    return BuildRule(
        source_type="Branch",
        source_name=course.build_branch,
        tag=course.build_tag,
        dockerfile=course.build_dockerfile,
        build_context=course.build_context,
        autobuild=True,
        nocache=False,
    )


def _same_rule(setting: BuildRule, wanted: BuildRule) -> bool:
    fields = ("source_type", "source_name", "tag", "dockerfile", "build_context", "autobuild")
    return all(getattr(setting, f) == getattr(wanted, f) for f in fields)


def map_state(state: str) -> BuildState:
    # An unknown state is treated as still running: polling keeps looking, and the stuck
    # sweep flags it if it never ends.
    return _STATES.get(state.strip().lower(), BuildState.RUNNING)


def build_info(build: HubBuild) -> BuildInfo:
    return BuildInfo(
        external_id=build.uuid,
        state=map_state(build.state),
        # The action list carries no creation date; a build starts when it leaves Pending.
        created_at=build.start_date,
        started_at=build.start_date,
        finished_at=build.end_date if build.finished else None,
        commit_sha=build.commit,
        branch=build.source_branch,
        tag=build.build_tag,
        log=build.logs,
    )


# The rule configure made or found, for trigger to start it without reading the source and
# its rules again. A hint kept in the shared cache: when it is missing (evicted, another
# deployment), trigger reads the rule as before.
RULE_HINT_SECONDS = 24 * 3600


def _rule_key(repository: StudentRepository) -> str:
    return f"hubcourse:autobuild-rule:{repository.pk}"


def _rule_uuid(source: BuildSource) -> str:
    # Answers name their rules as URIs ("/api/build/v1/setting/<uuid>/"); one rule is ours.
    if len(source.build_settings) != 1:
        return ""
    return source.build_settings[0].rstrip("/").rsplit("/", 1)[-1]


def remember_rule(repository: StudentRepository, source: BuildSource, rule_uuid: str) -> None:
    if rule_uuid:
        cache.set(_rule_key(repository), f"{source.uuid}:{rule_uuid}", RULE_HINT_SECONDS)


def remembered_rule(repository: StudentRepository) -> str:
    """The remembered rule's uuid, if it belongs to the source the row records."""
    value = cache.get(_rule_key(repository))
    if not isinstance(value, str):
        return ""
    source_uuid, _, rule_uuid = value.partition(":")
    return (
        rule_uuid
        if source_uuid and source_uuid == data.read(repository, AutobuildData).source_uuid
        else ""
    )


def forget_rule(repository: StudentRepository) -> None:
    cache.delete(_rule_key(repository))


# The task that writes a student's GitHub push webhook, queued by name (builds.tasks
# registers it).
PUSH_HOOK_TASK = "builds.ensure_push_hook"


class DockerHubAutobuild:
    name = "dockerhub-autobuild"
    label = "Docker Hub automated builds"
    # Docker retires automated builds on this day: courses must have moved to another way of
    # building by then (the course form and the organisation page say so).
    retires_on = dt.date(2027, 4, 1)
    removal_note = ""
    needs_owner_account = True
    service = "Docker Hub"
    # Docker Hub links a build source only for an admin of the repository, through the GitHub
    # account linked to the admin's Docker ID: a student who owns their GitHub repository links
    # it themselves, so their team administers their own repository (and no one else's).
    student_team_permission: Literal["read", "write", "admin"] = "admin"
    results_by_event = False  # Docker Hub sends nothing for a failed build: read after a push
    github_scopes: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    # Docker Hub says nothing of a push (nor of a failed build): hubcourse's own push hook
    # tells it when to look.
    needs_push_hook = True

    def forget(self, repository: StudentRepository, *, hub_repository_gone: bool) -> bool:
        # The build source hangs on the Docker Hub repository and names the GitHub one:
        # either change means linking again.
        data.clear(repository, AutobuildData)
        if not hub_repository_gone:
            data.update(repository, PushHooks, github_hook_id=None)
        return True

    def has_configuration(self, repository: StudentRepository) -> bool:
        hooks = data.read(repository, PushHooks)
        return bool(
            data.read(repository, AutobuildData).source_uuid
            or hooks.github_hook_id is not None
            or hooks.dockerhub_webhook
        )

    def observe_drift(self, enrolment: Enrolment, repository: StudentRepository) -> bool:
        # The rule is read and corrected by configure, which the plan runs again whenever the
        # course's settings move; reading every student's rule on each pass would cost two
        # Docker Hub calls per student.
        return False

    def drift(self, repository: StudentRepository) -> tuple[str, ...]:
        return ()

    def build_from_webhook(
        self, course: Course, event: str, payload: dict[str, Any]
    ) -> BuildInfo | None:
        return None  # Docker Hub builds are read through its API; a push only says "look now"

    def may_have_built(self, repository: StudentRepository) -> bool:
        # Docker Hub starts an automated build on a push, never on linking: a source hubcourse
        # created has no build until a push (the push webhook notes it) or a trigger.
        created_at = data.read(repository, AutobuildData).source_created_at
        if created_at is None:
            return True
        pushed_at = repository.last_pushed_at
        return pushed_at is not None and pushed_at >= created_at

    def _client(self, enrolment: Enrolment) -> AutobuildClient:
        return AutobuildClient(dockerhub_client_for(enrolment.course))

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        course = enrolment.course
        repository = student_repository(enrolment)
        owner, repo = github_source(enrolment)
        client = self._client(enrolment)
        wanted = course_rule(course)
        target = image_name(repository)
        by_student = not self._owner_links(enrolment, repository, owner)
        try:
            if by_student:
                source, changed, created = self._student_source(
                    client, enrolment, repository, owner, repo, wanted
                )
            else:
                try:
                    source, changed, created = self._ensure_source(
                        client, repository, owner, repo, wanted
                    )
                except Forbidden as refused:
                    # The Owner's linked GitHub account does not administer the repository
                    # after all (an organisation they are no admin of): the student links it.
                    data.update(repository, AutobuildData, set_up_by=BY_STUDENT)
                    linked, where = owner_linked_login(course)
                    audit_record(
                        service=DOCKER_HUB,
                        action="autobuild.configure",
                        target=target,
                        outcome=Outcome.NOOP,
                        enrolment=enrolment,
                        message=(
                            f"Docker Hub would not link {owner}/{repo} through the Owner's "
                            f"GitHub account ({refused.message}); the student links it."
                            + (
                                f" The Owner's linked GitHub account is taken to be {linked} "
                                f"({where}): if another is linked, say which in the course's "
                                "settings."
                                if linked
                                else ""
                            )
                        ),
                    )
                    source, changed, created = self._student_source(
                        client, enrolment, repository, owner, repo, wanted
                    )
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="autobuild.configure",
                target=target,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        audit_record(
            service=DOCKER_HUB,
            action="autobuild.configure",
            target=target,
            outcome=Outcome.OK if changed else Outcome.NOOP,
            enrolment=enrolment,
            message=(
                f"Builds {owner}/{repo} branch {wanted.source_name} "
                f"({wanted.dockerfile} in {wanted.build_context}) as tag {wanted.tag}."
            ),
        )
        if created:
            data.update(
                repository,
                AutobuildData,
                source_uuid=source.uuid,
                source_created_at=timezone.now(),
            )
        elif data.read(repository, AutobuildData).source_uuid != source.uuid:
            data.update(repository, AutobuildData, source_uuid=source.uuid, source_created_at=None)
        # A source created just now means no earlier configure got this far: no hubcourse
        # webhook can be on the repository, so there is nothing to look for.
        hook_added = ensure_dockerhub_webhook(
            client.hub, enrolment, repository, known_absent=created
        )
        # The course's token touches nothing in a repository the student owns (the GitHub
        # App's push events tell hubcourse to look instead). GitHub asks for a second between
        # writes, so a class's push webhooks take a second each: they are written by their
        # own task, off the path to the first build (until one is there, the branch-head
        # watcher reads the repository's head).
        if data.read(repository, AutobuildData).set_up_by != BY_STUDENT:
            enrolment_id = enrolment.pk
            transaction.on_commit(lambda: current_app.tasks[PUSH_HOOK_TASK].delay(enrolment_id))
        return ConfigureResult(changed=changed or hook_added, reference=source.uuid)

    def ensure_push_hook(self, enrolment: Enrolment) -> bool:
        """hubcourse's push webhook on the student's GitHub repository when hubcourse linked
        its build (the task configure queues); True when one was added."""
        repository = student_repository(enrolment)
        kept = data.read(repository, AutobuildData)
        if not kept.source_uuid or kept.set_up_by == BY_STUDENT:
            return False
        owner, repo = github_source(enrolment)
        return self._ensure_push_hook(enrolment, repository, owner, repo)

    def _owner_links(self, enrolment: Enrolment, repository: StudentRepository, owner: str) -> bool:
        """Whether the course's Owner links the build (see :func:`who_links`), decided once
        per student and kept."""
        kept = data.read(repository, AutobuildData)
        if kept.set_up_by:
            return kept.set_up_by == BY_HUBCOURSE
        decided = who_links(enrolment, owner)
        data.update(repository, AutobuildData, set_up_by=decided)
        return decided == BY_HUBCOURSE

    def _student_source(
        self,
        client: AutobuildClient,
        enrolment: Enrolment,
        repository: StudentRepository,
        owner: str,
        repo: str,
        wanted: BuildRule,
    ) -> tuple[BuildSource, bool, bool]:
        """The build source the student linked, read back and its rule corrected; raises
        ``WaitsOnStudent`` while there is none or it builds from another repository."""
        target = image_name(repository)
        source = client.get_build_source(repository.namespace, repository.name)
        if source is None:
            data.update(repository, AutobuildData, waiting=True, differences=())
            raise WaitsOnStudent(
                f"{target} has no automated build yet: the student links it to "
                f"{owner}/{repo} on Docker Hub."
            )
        if (source.owner.lower(), source.repository.lower()) != (owner.lower(), repo.lower()):
            elsewhere = (
                f"it builds from GitHub {source.owner}/{source.repository}, not from {owner}/{repo}"
            )
            data.update(
                repository,
                AutobuildData,
                waiting=True,
                differences=(elsewhere,),
                source_uuid=source.uuid,
            )
            raise WaitsOnStudent(f"The automated build of {target}: {elsewhere}.")
        settings_now = client.list_build_settings(source)
        differences: list[str] = []
        if not settings_now:
            differences.append("it has no build rule")
        else:
            differences.extend(rule_differences(settings_now[0], wanted))
            if len(settings_now) > 1:
                differences.append(
                    f"it has {len(settings_now)} build rules, the course builds with one"
                )
        if not differences:
            remember_rule(repository, source, settings_now[0].uuid)
            data.update(repository, AutobuildData, waiting=False, differences=())
            return source, False, False
        # The rule's fields are the Owner's to edit (only the GitHub link is the student's):
        # keep the first rule's uuid (an update, not a new rule), drop any others.
        rules: list[BuildRule] = (
            [BuildSetting(**{**settings_now[0].model_dump(), **wanted.model_dump()})]
            if settings_now
            else [wanted]
        )
        updated = client.update_build_source(source, rules=rules)
        remember_rule(repository, updated, _rule_uuid(updated))
        data.update(repository, AutobuildData, waiting=False, differences=tuple(differences))
        audit_record(
            service=DOCKER_HUB,
            action="autobuild.correct",
            target=target,
            outcome=Outcome.OK,
            enrolment=enrolment,
            message="Corrected the student's build rule: " + "; ".join(differences) + ".",
        )
        return updated, True, False

    def preflight_findings(self, enrolment: Enrolment) -> list[tuple[str, str]]:
        """Says so when the student will link their own build (nothing is missing then: the
        team-per-student policy gives them admin on their Docker Hub repository)."""
        try:
            owner, _repo = github_source(enrolment)
        except BuildNotReady:
            return []
        if who_links(enrolment, owner) != BY_STUDENT:
            return []
        return [
            (
                "ok",
                f"You will link the automated build of {enrolment.github_repo} on Docker Hub "
                "yourself (your page shows the values once your repository exists).",
            )
        ]

    def student_task(
        self, enrolment: Enrolment, repository: StudentRepository
    ) -> StudentTask | None:
        kept = data.read(repository, AutobuildData)
        if kept.set_up_by != BY_STUDENT:
            return None
        course = enrolment.course
        values = (
            ("Source repository", enrolment.github_repo),
            ("Source type", "Branch"),
            ("Source", course.build_branch),
            ("Docker tag", course.build_tag),
            ("Dockerfile location", course.build_dockerfile),
            ("Build context", course.build_context),
            ("Autobuild", "on"),
        )
        if repository.build_configured_at is not None and not kept.waiting:
            corrected = (
                " hubcourse corrected: " + "; ".join(kept.differences) + "."
                if kept.differences
                else ""
            )
            return StudentTask(
                title="Automated build linked",
                text=f"Your automated build of {repository.full_name} matches the course."
                + corrected,
                differences=kept.differences,
            )
        needs = (
            ""
            if course.access_policy == Course.AccessPolicy.TEAM_PER_STUDENT
            else (
                "the course needs one team per student (Docker Hub lets a student link only "
                "as an admin of their repository)"
            )
        )
        return StudentTask(
            title="Link your automated build on Docker Hub",
            needs=needs,
            text=(
                f"Docker Hub builds only from repositories that the GitHub account linked to "
                f"the Docker ID setting it up administers, so you link {enrolment.github_repo} "
                f"yourself: sign in to Docker Hub as {enrolment.docker_id} (with your GitHub "
                "account linked under Account settings, Linked accounts), open the build "
                f"settings of {repository.full_name} and enter exactly these values. This step "
                "ticks by itself once hubcourse reads them back."
                + (
                    " First your instructor must give each student their own team, so that you "
                    "administer your Docker Hub repository."
                    if needs
                    else ""
                )
            ),
            values=values,
            link_url=build_settings_url(repository),
            link_label="Open the build settings on Docker Hub",
            waiting=True,
            differences=kept.differences,
        )

    def _ensure_push_hook(
        self, enrolment: Enrolment, repository: StudentRepository, owner: str, repo: str
    ) -> bool:
        """hubcourse's push webhook on the student's GitHub repository, where allowed."""
        try:
            client = github_client_for(enrolment.course)
        except ValueError:
            # No GitHub credentials at all: automated builds need none of hubcourse's.
            audit_record(
                service=GITHUB,
                action="webhook.create",
                target=f"{owner}/{repo}",
                outcome=Outcome.FALLBACK,
                enrolment=enrolment,
                message="No GitHub token is set; new builds are found by polling instead.",
            )
            return False
        return ensure_github_webhook(
            client, enrolment, repository, owner, repo, events=HOOK_EVENTS, required=False
        )

    def _ensure_source(
        self,
        client: AutobuildClient,
        repository: StudentRepository,
        owner: str,
        repo: str,
        wanted: BuildRule,
    ) -> tuple[BuildSource, bool, bool]:
        """The build source with exactly the course's rule; (source, whether it changed,
        whether it was created just now)."""
        # Written first: configure runs when the row records no build yet, so the source is
        # nearly always missing, and the create answer names its rule (no read-back).
        try:
            created = client.create_build_source(
                repository.namespace,
                repository.name,
                github_owner=owner,
                github_repository=repo,
                rules=[wanted],
            )
        except Invalid:
            # Already linked (an earlier attempt whose answer was lost, another worker, by
            # hand): read it and check its rule.
            found = client.get_build_source(repository.namespace, repository.name)
            if found is None:
                raise
            source = found
        else:
            record_created(
                repository.enrolment.course,
                ManagedResource.Kind.BUILD_SOURCE,
                f"{repository.namespace}/{repository.name}",
                created.uuid,
            )
            remember_rule(repository, created, _rule_uuid(created))
            return created, True, True
        settings = client.list_build_settings(source)
        linked = (source.owner.lower(), source.repository.lower()) == (owner.lower(), repo.lower())
        if linked and len(settings) == 1 and _same_rule(settings[0], wanted):
            remember_rule(repository, source, settings[0].uuid)
            return source, False, False
        # Keep the first rule's uuid (an update, not a new rule), drop any others.
        rules: list[BuildRule] = (
            [BuildSetting(**{**settings[0].model_dump(), **wanted.model_dump()})]
            if settings
            else [wanted]
        )
        updated = client.update_build_source(
            source, rules=rules, github_owner=owner, github_repository=repo
        )
        remember_rule(repository, updated, _rule_uuid(updated))
        return updated, True, False

    def trigger(self, enrolment: Enrolment) -> str | None:
        repository = student_repository(enrolment)
        client = self._client(enrolment)
        target = image_name(repository)
        wanted = course_rule(enrolment.course)
        try:
            build_id = self._trigger_known_rule(client, repository, wanted, target)
            if build_id is None:
                source = client.get_build_source(repository.namespace, repository.name)
                if source is None:
                    raise NotFound(
                        DOCKER_HUB, f"start a build of {target}", 404, "no automated build"
                    )
                rule = next(
                    (s for s in client.list_build_settings(source) if _same_rule(s, wanted)), None
                )
                if rule is None:
                    raise UnexpectedResponse(
                        DOCKER_HUB,
                        f"start a build of {target}",
                        None,
                        f"no build rule for branch {wanted.source_name}",
                    )
                build_id = client.trigger_build(rule, target)
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="build.trigger",
                target=target,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        audit_record(
            service=DOCKER_HUB,
            action="build.trigger",
            target=target,
            outcome=Outcome.OK,
            enrolment=enrolment,
            message=f"Started build {build_id} of branch {wanted.source_name}.",
        )
        return build_id

    def _trigger_known_rule(
        self, client: AutobuildClient, repository: StudentRepository, wanted: BuildRule, target: str
    ) -> str | None:
        """Start the build of the rule configure remembered, in one call; None when no rule
        is remembered for the repository's current source, or it is gone."""
        rule_uuid = remembered_rule(repository)
        if not rule_uuid:
            return None
        setting = BuildSetting(uuid=rule_uuid, **wanted.model_dump())
        try:
            return client.trigger_build(setting, target)
        except NotFound:
            forget_rule(repository)
            return None

    def builds_since(self, enrolment: Enrolment, since: dt.datetime | None) -> list[BuildInfo]:
        repository = student_repository(enrolment)
        builds = self._client(enrolment).list_builds(
            repository.namespace, repository.name, limit=HISTORY
        )
        infos = [build_info(build) for build in builds]
        if since is None:
            return infos
        # A pending build has no date yet: it is always new enough.
        return [i for i in infos if i.created_at is None or i.created_at >= since]

    def build_log(self, enrolment: Enrolment, external_id: str) -> str:
        return self._client(enrolment).build_log(external_id)

    def remove(self, enrolment: Enrolment) -> str | None:
        """Unlink the repository from GitHub (its build rules go with the source) and take
        hubcourse's Docker Hub webhook off it. Whatever is gone already counts as done.
        Returns what happened to the automated build, in words (see ``unlink_build_source``)."""
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is None:
            return None
        client = self._client(enrolment)
        target = image_name(repository)
        try:
            outcome, action, done = unlink_build_source(client, repository)
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="autobuild.delete",
                target=target,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        audit_record(
            service=DOCKER_HUB,
            action=action,
            target=target,
            outcome=outcome,
            enrolment=enrolment,
            message=done,
        )
        remove_dockerhub_webhook(client.hub, enrolment, repository)
        self._remove_push_hook(enrolment, repository)
        # Cleared last: a removal cut short keeps the row saying there is something to remove.
        data.clear(repository, AutobuildData, PushHooks)
        StudentRepository.objects.filter(pk=repository.pk).update(build_configured_at=None)
        return done

    def retire(self, enrolment: Enrolment) -> str:
        """A move to another backend is complete: take the build rule away (so a push no
        longer builds here) but keep the repository's link to GitHub, which only its linker
        could make again, so moving back is one rule away. The Docker Hub webhook stays (the
        new backend's pushes use it too); the push-only GitHub hook of ours goes. In words."""
        repository = student_repository(enrolment)
        client = self._client(enrolment)
        target = image_name(repository)
        try:
            try:
                source = client.get_build_source(repository.namespace, repository.name)
            except NotFound:
                source = None
            rules = client.list_build_settings(source) if source is not None else []
            if source is not None and rules:
                client.update_build_source(source, rules=[])
        except ExternalServiceError as error:
            audit_record(
                service=DOCKER_HUB,
                action="autobuild.retire",
                target=target,
                outcome=Outcome.ERROR,
                enrolment=enrolment,
                message=error,
            )
            raise
        forget_rule(repository)
        done = (
            f"removed the automated-build rule of {target}; its link to GitHub stays"
            if rules
            else f"{target} had no automated-build rule left"
        )
        audit_record(
            service=DOCKER_HUB,
            action="autobuild.retire",
            target=target,
            outcome=Outcome.OK if rules else Outcome.NOOP,
            enrolment=enrolment,
            message=done,
        )
        self._remove_push_only_hook(enrolment, repository)
        return done

    def _remove_push_only_hook(self, enrolment: Enrolment, repository: StudentRepository) -> None:
        """hubcourse's push-only GitHub hook (this backend's); a hook that also sends
        ``workflow_run`` is the new backend's, at the same address, and stays."""
        if data.read(repository, AutobuildData).set_up_by == BY_STUDENT:
            return  # none was added on a repository the student owns
        try:
            owner, repo = github_source(enrolment)
            client = github_client_for(enrolment.course)
        except (BuildNotReady, ValueError):
            return
        url = github_hook_url(enrolment.course)
        try:
            hooks = [h for h in client.list_webhooks(owner, repo) if h.config.url == url]
            for hook in hooks:
                if "workflow_run" in hook.events:
                    continue
                client.delete_webhook(owner, repo, hook.id)
                if data.read(repository, PushHooks).github_hook_id == hook.id:
                    data.update(repository, PushHooks, github_hook_id=None)
                audit_record(
                    service=GITHUB,
                    action="webhook.delete",
                    target=f"{owner}/{repo}",
                    outcome=Outcome.OK,
                    enrolment=enrolment,
                    message="The automated build's push hook is no longer needed.",
                )
        except (Forbidden, NotFound):
            return  # these credentials never managed the repository's hooks
        except ExternalServiceError as error:
            audit_github_error(enrolment, "webhook.delete", f"{owner}/{repo}", error)
            raise

    def _remove_push_hook(self, enrolment: Enrolment, repository: StudentRepository) -> None:
        try:
            owner, repo = github_source(enrolment)
            client = github_client_for(enrolment.course)
        except (BuildNotReady, ValueError):
            return  # no GitHub repository or no GitHub token: no hook of ours can be there
        target = f"{owner}/{repo}"
        try:
            remove_github_webhook(client, enrolment, repository, owner, repo)
        except (Forbidden, NotFound) as error:
            # Fine when configure was never allowed to add one (no id on the row) or the
            # repository is gone with its hooks; not when our hook is there and hidden from us.
            hooked = data.read(repository, PushHooks).github_hook_id is not None
            if hooked and github_repository_exists(client, owner, repo):
                audit_github_error(enrolment, "webhook.delete", target, error)
                raise
        except ExternalServiceError as error:
            audit_github_error(enrolment, "webhook.delete", target, error)
            raise


def _route_missing(error: PermanentError) -> bool:
    """404 or 405 from a route nobody has seen work: it may simply not exist (notes §11.1)."""
    return error.status in (404, 405)


def unlink_build_source(
    client: AutobuildClient, repository: StudentRepository
) -> tuple[str, str, str]:
    """Take the repository's automated build away: ``(audit outcome, audit action, words)``.

    ``DELETE`` of the build source is what Docker Hub's Tastypie resource should accept, but
    no client was ever seen sending it (notes §11.1). When it answers 404 or 405, every rule
    is switched off with the ``PATCH`` that real clients send, so no push builds any more.
    When that is refused too, only Docker Hub's own page can remove it: the words say so,
    with the page. Passing failures (5xx, 429, timeouts) are raised for a later retry.
    """
    image = image_name(repository)
    try:
        source = client.get_build_source(repository.namespace, repository.name)
    except NotFound:
        return Outcome.NOOP, "autobuild.delete", "the repository itself was already gone"
    if source is None:
        return Outcome.NOOP, "autobuild.delete", "the repository had no automated build"
    try:
        client.delete_build_source(source)
    except PermanentError as error:
        if not _route_missing(error):
            raise
    else:
        return Outcome.OK, "autobuild.delete", f"automated build of {image} removed"
    try:
        settings_ = client.list_build_settings(source)
        client.update_build_source(
            source, rules=[rule.model_copy(update={"autobuild": False}) for rule in settings_]
        )
    except NotFound:
        try:
            gone = client.get_build_source(repository.namespace, repository.name) is None
        except NotFound:
            gone = True  # the repository with it
        if gone:
            return Outcome.NOOP, "autobuild.delete", "the automated build was already gone"
    except AuthenticationFailed:
        raise  # the credentials, not the route: nothing the page would fix
    except PermanentError:
        pass  # refused as well (405, or 403 for want of an Owner): only the page is left
    else:
        return (
            Outcome.OK,
            "autobuild.disable",
            f"Docker Hub refused to remove the automated build of {image}; its "
            f"{len(settings_)} build rule(s) were switched off instead, so pushes no longer "
            "build (the link to GitHub stays)",
        )
    page = f"{str(django_settings.DOCKERHUB_WEB_URL).rstrip('/')}/repository/docker/{image}/builds"
    return (
        Outcome.ERROR,
        "autobuild.manual",
        f"Docker Hub would neither remove nor switch off the automated build of {image}: "
        f"remove it on Docker Hub's page, {page} (Builds tab, Configure Automated Builds)",
    )
