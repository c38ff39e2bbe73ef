"""``dockerhub-autobuild``: Docker Hub's automated builds, the course handout's way.

Links the student's Docker Hub repository to their GitHub repository with one rule (branch
``main``, Dockerfile ``DockerfileVolume``, context ``/`` by default) on the undocumented
``api/build/v1`` routes (notes §11.1). Docker Hub then builds on every push to the branch.
These routes need a signed-in Owner (a personal access token of an organisation owner), not
an organisation access token, and Docker retires automated builds on 1 April 2027.

Docker Hub calls its webhook only after a successful push, so a failed build would be seen
only at the slow idle read. ``configure`` therefore also puts a signed push webhook on the
student's GitHub repository (when the course's GitHub credentials may): a push marks the
repository for polling at once, and the build it starts, failed or not, is read within
seconds. Without that permission the student's builds are found by polling alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.core.cache import cache

from accounts.credentials import dockerhub_client_for, github_client_for
from accounts.managed import record_created
from accounts.models import Course, Enrolment, ManagedResource
from builds.backends import data
from builds.backends.autobuild.client import AutobuildClient, BuildRule, BuildSetting, BuildSource
from builds.backends.autobuild.client import Build as HubBuild
from builds.backends.base import BuildInfo, BuildNotReady, ConfigureResult
from builds.backends.common import (
    audit_github_error,
    ensure_dockerhub_webhook,
    ensure_github_webhook,
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
    ExternalServiceError,
    Forbidden,
    Invalid,
    NotFound,
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


class AutobuildData(BackendData):
    """The student's build source on Docker Hub, once configure made or found it."""

    key: ClassVar[str] = "dockerhub-autobuild"
    source_uuid: str = ""


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


class DockerHubAutobuild:
    name = "dockerhub-autobuild"
    label = "Docker Hub automated builds"
    removal_note = ""
    needs_owner_account = True
    github_scopes: tuple[tuple[str, tuple[str, ...], str], ...] = ()

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

    def build_from_webhook(
        self, course: Course, event: str, payload: dict[str, Any]
    ) -> BuildInfo | None:
        return None  # Docker Hub builds are read through its API; a push only says "look now"

    def _client(self, enrolment: Enrolment) -> AutobuildClient:
        return AutobuildClient(dockerhub_client_for(enrolment.course))

    def configure(self, enrolment: Enrolment) -> ConfigureResult:
        course = enrolment.course
        repository = student_repository(enrolment)
        owner, repo = github_source(enrolment)
        client = self._client(enrolment)
        wanted = course_rule(course)
        target = image_name(repository)
        try:
            source, changed, created = self._ensure_source(client, repository, owner, repo, wanted)
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
        if data.read(repository, AutobuildData).source_uuid != source.uuid:
            data.update(repository, AutobuildData, source_uuid=source.uuid)
        # A source created just now means no earlier configure got this far: no hubcourse
        # webhook can be on the repository, so there is nothing to look for.
        hook_added = ensure_dockerhub_webhook(
            client.hub, enrolment, repository, known_absent=created
        )
        push_hook_added = self._ensure_push_hook(enrolment, repository, owner, repo)
        return ConfigureResult(
            changed=changed or hook_added or push_hook_added, reference=source.uuid
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
                outcome=Outcome.NOOP,
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

    def remove(self, enrolment: Enrolment) -> None:
        """Unlink the repository from GitHub (its build rules go with the source) and take
        hubcourse's Docker Hub webhook off it. Whatever is gone already counts as done."""
        repository = StudentRepository.objects.filter(enrolment=enrolment).first()
        if repository is None:
            return
        client = self._client(enrolment)
        target = image_name(repository)
        removed = False
        try:
            source = client.get_build_source(repository.namespace, repository.name)
            if source is not None:
                client.delete_build_source(source)
                removed = True
        except NotFound:
            pass  # unlinked meanwhile, or the repository itself is gone
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
            action="autobuild.delete",
            target=target,
            outcome=Outcome.OK if removed else Outcome.NOOP,
            enrolment=enrolment,
            message="" if removed else "the repository had no automated build",
        )
        remove_dockerhub_webhook(client.hub, enrolment, repository)
        self._remove_push_hook(enrolment, repository)
        # Cleared last: a removal cut short keeps the row saying there is something to remove.
        data.clear(repository, AutobuildData, PushHooks)
        StudentRepository.objects.filter(pk=repository.pk).update(build_configured_at=None)

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
