"""What both backends share: the student's rows, hook URLs, the Docker Hub push webhook and
the signed GitHub webhook to hubcourse."""

from __future__ import annotations

import posixpath
import secrets

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from accounts.managed import record_created
from accounts.models import Course, Enrolment, ManagedResource
from builds.backends import data
from builds.backends.base import BuildNotReady
from builds.backends.data import PushHooks
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ExternalServiceError, Forbidden, NotFound
from hubcourse.secrets import SecretValue
from integrations.dockerhub.client import SERVICE as DOCKER_HUB
from integrations.dockerhub.client import DockerHubClient
from integrations.github.client import SERVICE as GITHUB
from integrations.github.client import GitHubClient
from repositories.models import StudentRepository

# The name hubcourse gives its Docker Hub webhook pipeline, so it finds its own again.
HOOK_NAME = "hubcourse"
# How long the login of the course's GitHub token is remembered (it changes with the token).
LOGIN_HINT_SECONDS = 3600


def login_cache_key(course: Course) -> str:
    return f"hubcourse:github-login:{course.pk}:{course.github_token_set_at}"


def course_github_login(course: Course, client: GitHubClient) -> str:
    """The login of the course's GitHub token (one call an hour per course and token)."""
    known = known_course_github_login(course)
    if known:
        return known
    login = client.get_authenticated_user().login
    cache.set(login_cache_key(course), login, LOGIN_HINT_SECONDS)
    return login


def known_course_github_login(course: Course) -> str:
    """The login of the course's GitHub token as last read (no call); "" when not known."""
    cached = cache.get(login_cache_key(course))
    return cached if isinstance(cached, str) else ""


def student_repository(enrolment: Enrolment) -> StudentRepository:
    """The student's Docker Hub repository row, once it exists on Docker Hub."""
    repository = StudentRepository.objects.filter(enrolment=enrolment).first()
    if repository is None or repository.created_at is None:
        raise BuildNotReady(f"{enrolment} has no Docker Hub repository yet")
    return repository


def github_source(enrolment: Enrolment) -> tuple[str, str]:
    """(owner, name) of the student's GitHub repository."""
    owner, _, name = enrolment.github_repo.strip().partition("/")
    if not owner or not name or "/" in name:
        raise BuildNotReady(f"{enrolment} has no GitHub repository in owner/name form")
    return owner, name


def image_name(repository: StudentRepository) -> str:
    # Image references are lower case; Docker Hub namespaces are case-insensitive.
    return f"{repository.namespace}/{repository.name}".lower()


def dockerfile_path(course: Course) -> str:
    """The Dockerfile's path from the repository root ("DockerfileVolume", "app/Dockerfile").

    Docker Hub's rule reads the Dockerfile location relative to the build context.
    """
    context = context_dir(course)
    return (
        posixpath.join(context, course.build_dockerfile.strip().lstrip("/"))
        if context
        else (course.build_dockerfile.strip().lstrip("/"))
    )


def context_dir(course: Course) -> str:
    """The build context as a repository-relative folder: "" for the root."""
    clean = posixpath.normpath("/" + course.build_context.strip()).lstrip("/")
    return "" if clean == "." else clean


def site_url(path: str) -> str:
    return str(settings.SITE_URL).rstrip("/") + path


def dockerhub_hook_url(course: Course) -> str:
    return site_url(reverse("builds:dockerhub-hook", args=[course.webhook_token]))


def github_hook_url(course: Course) -> str:
    return site_url(reverse("builds:github-hook", args=[course.webhook_token]))


def ensure_dockerhub_webhook(
    client: DockerHubClient,
    enrolment: Enrolment,
    repository: StudentRepository,
    *,
    known_absent: bool = False,
) -> bool:
    """A push webhook on the Docker Hub repository to hubcourse; True when one was added.

    Docker Hub signs nothing, so the URL carries the course's secret token and hubcourse takes
    a delivery only as a hint to re-read the repository's builds through the API.
    ``known_absent``: the caller knows no hubcourse webhook can be there yet (it has just
    linked the repository for the first time), so the list is not read.
    """
    url = dockerhub_hook_url(enrolment.course)
    target = image_name(repository)
    try:
        if not known_absent:
            for pipeline in client.list_webhooks(repository.namespace, repository.name):
                if any(hook.hook_url == url for hook in pipeline.webhooks):
                    _remember_hook(repository, pipeline.slug or pipeline.name)
                    return False
        pipeline = client.create_webhook(repository.namespace, repository.name, HOOK_NAME, url)
        record_created(
            enrolment.course, ManagedResource.Kind.WEBHOOK, f"{target}:{HOOK_NAME}", pipeline.slug
        )
    except ExternalServiceError as error:
        audit_record(
            service=DOCKER_HUB,
            action="webhook.create",
            target=target,
            outcome=Outcome.ERROR,
            enrolment=enrolment,
            message=error,
        )
        raise
    _remember_hook(repository, pipeline.slug or pipeline.name)
    audit_record(
        service=DOCKER_HUB,
        action="webhook.create",
        target=target,
        outcome=Outcome.OK,
        enrolment=enrolment,
        message="Docker Hub tells hubcourse about every push to this repository.",
    )
    return True


def _remember_hook(repository: StudentRepository, slug: str) -> None:
    if data.read(repository, PushHooks).dockerhub_webhook != slug:
        data.update(repository, PushHooks, dockerhub_webhook=slug)


def remove_dockerhub_webhook(
    client: DockerHubClient, enrolment: Enrolment, repository: StudentRepository
) -> bool:
    """Take hubcourse's push webhook off the Docker Hub repository; True when one was removed.

    Found by its URL, not only by the slug on the row, so a hook whose answer was lost goes too.
    A repository that is gone has no webhook left: that is done, not an error.
    """
    url = dockerhub_hook_url(enrolment.course)
    target = image_name(repository)
    removed = False
    known = data.read(repository, PushHooks).dockerhub_webhook
    try:
        for pipeline in client.list_webhooks(repository.namespace, repository.name):
            slug = pipeline.slug or pipeline.name
            if slug != known and not any(hook.hook_url == url for hook in pipeline.webhooks):
                continue
            try:
                client.delete_webhook(repository.namespace, repository.name, slug)
            except NotFound:
                continue  # deleted meanwhile
            removed = True
    except NotFound:
        pass  # the repository itself is gone
    except ExternalServiceError as error:
        audit_record(
            service=DOCKER_HUB,
            action="webhook.delete",
            target=target,
            outcome=Outcome.ERROR,
            enrolment=enrolment,
            message=error,
        )
        raise
    data.update(repository, PushHooks, dockerhub_webhook="")
    audit_record(
        service=DOCKER_HUB,
        action="webhook.delete",
        target=target,
        outcome=Outcome.OK if removed else Outcome.NOOP,
        enrolment=enrolment,
        message="" if removed else "no hubcourse webhook was left",
    )
    return removed


# -- the GitHub webhook ----------------------------------------------------------------------

_EVENT_WORDS = {"push": "pushes", "workflow_run": "workflow runs"}


def ensure_github_webhook_secret(course: Course) -> str:
    """The course's GitHub webhook secret, generated and stored the first time."""
    value = _reveal(course.github_webhook_secret)
    if value:
        return value
    value = secrets.token_urlsafe(32)
    # Only the first writer wins, so two workers never sign hooks with different secrets.
    Course.objects.filter(pk=course.pk, github_webhook_secret="").update(
        github_webhook_secret=value
    )
    course.refresh_from_db(fields=["github_webhook_secret"])
    return _reveal(course.github_webhook_secret)


def _reveal(value: SecretValue | str) -> str:
    return value.reveal() if isinstance(value, SecretValue) else value


def ensure_github_webhook(
    client: GitHubClient,
    enrolment: Enrolment,
    repository: StudentRepository,
    owner: str,
    repo: str,
    *,
    events: tuple[str, ...],
    required: bool = True,
) -> bool:
    """A webhook on the student's GitHub repository to hubcourse, signed with the course's
    secret and sending at least ``events``; True when one was added. Found again by its URL.

    When not ``required``, credentials that may not manage the repository's hooks (403, or
    404 for a repository they see without admin rights) are no failure: nothing is added, the
    audit log says so, and hubcourse reads that student's builds by polling alone.
    """
    course = enrolment.course
    url = github_hook_url(course)
    target = f"{owner}/{repo}"
    try:
        existing = next((h for h in client.list_webhooks(owner, repo) if h.config.url == url), None)
        if existing is not None and set(events) <= set(existing.events):
            hook_id, changed = existing.id, False
        else:
            if existing is not None:
                # Wrong events (an older hubcourse, a hand edit): replace it.
                client.delete_webhook(owner, repo, existing.id)
            hook = client.create_webhook(
                owner, repo, url=url, secret=ensure_github_webhook_secret(course), events=events
            )
            hook_id, changed = hook.id, True
            record_created(course, ManagedResource.Kind.WEBHOOK, f"github:{target}", str(hook.id))
    except (Forbidden, NotFound) as error:
        if required:
            audit_github_error(enrolment, "webhook.create", target, error)
            raise
        audit_record(
            service=GITHUB,
            action="webhook.create",
            target=target,
            outcome=Outcome.FALLBACK,
            enrolment=enrolment,
            message=(
                f"GitHub did not let hubcourse add a webhook ({error.message}); "
                "new builds are found by polling instead."
            ),
        )
        return False
    except ExternalServiceError as error:
        audit_github_error(enrolment, "webhook.create", target, error)
        raise
    if data.read(repository, PushHooks).github_hook_id != hook_id:
        data.update(repository, PushHooks, github_hook_id=hook_id)
    if changed:
        described = " and ".join(_EVENT_WORDS.get(event, event) for event in events)
        audit_record(
            service=GITHUB,
            action="webhook.create",
            target=target,
            outcome=Outcome.OK,
            enrolment=enrolment,
            message=f"GitHub tells hubcourse about {described}.",
        )
    return changed


def remove_github_webhook(
    client: GitHubClient,
    enrolment: Enrolment,
    repository: StudentRepository,
    owner: str,
    repo: str,
) -> None:
    """Delete hubcourse's webhooks from the student's GitHub repository (errors propagate)."""
    url = github_hook_url(enrolment.course)
    # By id and by URL: a hook whose id was never stored (a lost answer) goes too.
    ids = {hook.id for hook in client.list_webhooks(owner, repo) if hook.config.url == url}
    known = data.read(repository, PushHooks).github_hook_id
    if known is not None:
        ids.add(known)
    deleted = 0
    for hook_id in sorted(ids):
        try:
            client.delete_webhook(owner, repo, hook_id)
            deleted += 1
        except NotFound:
            pass  # already gone
    audit_record(
        service=GITHUB,
        action="webhook.delete",
        target=f"{owner}/{repo}",
        outcome=Outcome.OK if deleted else Outcome.NOOP,
        enrolment=enrolment,
        message="" if deleted else "no hubcourse webhook was left",
    )


def github_repository_exists(client: GitHubClient, owner: str, repo: str) -> bool:
    try:
        client.get_repository(owner, repo)
    except NotFound:
        return False
    return True


def audit_github_error(
    enrolment: Enrolment, action: str, target: str, error: ExternalServiceError
) -> None:
    audit_record(
        service=GITHUB,
        action=action,
        target=target,
        outcome=Outcome.ERROR,
        enrolment=enrolment,
        message=error,
    )
