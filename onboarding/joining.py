"""What students (and the instructor's join controls) change: joining, matching, linking.

Matching rules, in order (``join_course``):

1. a person already on the course goes to their page;
2. a roster entry whose email (or email-shaped identifier) is one of the person's
   *verified* email addresses is theirs;
3. otherwise the identifier they type (a student number, or an email) finds the entry, but
   an entry that names an email only its owner has verified is never handed to someone
   else, and an entry linked to another account is never taken over;
4. anyone left over is refused or waits for an instructor, as the course's link says.

Every link and unlink is written to the audit log, so an instructor can see (and undo) a
wrong match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialToken
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import (
    Course,
    Enrolment,
    JoinLink,
    JoinRequest,
    PreflightState,
    User,
    new_token,
)
from accounts.services import enrolment_clear_error
from accounts.steps import StepName
from builds.models import StudentBadge
from hubcourse.audit import Outcome, audit_record
from hubcourse.errors import ExternalServiceError
from onboarding.state import enrolment_refresh_state

logger = logging.getLogger(__name__)

HUBCOURSE = "hubcourse"  # the audit log's "service" for changes made inside hubcourse


def public_url(path: str) -> str:
    """An absolute address for people outside this request (a README, a shared link)."""
    return str(settings.SITE_URL).rstrip("/") + path


# -- the course link ---------------------------------------------------------------------------


def join_link_for(course: Course) -> JoinLink:
    """The course's link, made (turned on, refusing strangers) the first time it is asked for."""
    link, _ = JoinLink.objects.get_or_create(course=course)
    return link


def join_link_update(
    *, course: Course, actor: User, enabled: bool | None = None, policy: str | None = None
) -> JoinLink:
    link = join_link_for(course)
    changes: list[str] = []
    if enabled is not None and enabled != link.enabled:
        link.enabled = enabled
        changes.append("turned on" if enabled else "turned off")
    if policy is not None and policy != link.policy:
        if policy not in JoinLink.Policy.values:
            raise ValueError(f"unknown join policy {policy!r}")
        link.policy = policy
        changes.append(f"students not on the roster: {policy}")
    if changes:
        link.save(update_fields=["enabled", "policy"])
        _audit(course=course, actor=actor, action="join_link.update", message="; ".join(changes))
    return link


def join_link_regenerate(*, course: Course, actor: User) -> JoinLink:
    """A new token: the old link stops working at once (for a link shared too widely)."""
    link = join_link_for(course)
    link.token = new_token()
    link.regenerated_at = timezone.now()
    link.save(update_fields=["token", "regenerated_at"])
    _audit(course=course, actor=actor, action="join_link.regenerate", message="old link retired")
    return link


# -- joining and matching ------------------------------------------------------------------------


class JoinResult(Enum):
    LINKED = "linked"  # matched to a roster entry just now
    ALREADY = "already"  # was on the course already
    NEED_IDENTIFIER = "need_identifier"  # no verified email matched: ask for the identifier
    VERIFY_EMAIL = "verify_email"  # the entry's email is theirs but not verified yet
    PENDING = "pending"  # waiting for an instructor
    REFUSED = "refused"


@dataclass(frozen=True)
class JoinOutcome:
    result: JoinResult
    enrolment: Enrolment | None = None
    # For people: why, and what to do next.
    message: str = ""


def verified_emails(user: User) -> set[str]:
    """The person's email addresses that were proven (by a link, or by GitHub)."""
    emails = {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }
    return emails


def _entry_emails(enrolment: Enrolment) -> set[str]:
    """The email addresses a roster entry names: only their owners may claim it."""
    found = {enrolment.email.lower()} if enrolment.email else set()
    if "@" in enrolment.identifier:
        found.add(enrolment.identifier.lower())
    return found


# A student number is a weak secret: with the course link, typing numbers until one matches
# would claim someone else's roster entry. Each account gets this many typed identifiers per
# course in a window, plenty for typos.
JOIN_ATTEMPTS = 10
JOIN_ATTEMPT_WINDOW = 15 * 60  # seconds


def join_attempt_allowed(user: User, course: Course) -> bool:
    """Count one typed identifier; False once the account has used up its tries for now."""
    key = f"student:join-attempts:{course.pk}:{user.pk}"
    cache.add(key, 0, JOIN_ATTEMPT_WINDOW)
    try:
        attempts = cache.incr(key)
    except ValueError:  # the window ran out between add and incr
        cache.set(key, 1, JOIN_ATTEMPT_WINDOW)
        attempts = 1
    return attempts <= JOIN_ATTEMPTS


def join_course(
    *, user: User, link: JoinLink, identifier: str = "", may_ask: bool = True
) -> JoinOutcome:
    """Match the signed-in person to the course's roster (see the module's rules).

    ``may_ask`` False (opening the link, a GET) never files a request for approval: the
    person asks explicitly, with the form.
    """
    course = link.course
    mine = Enrolment.objects.filter(course=course, user=user).first()
    if mine is not None:
        return JoinOutcome(JoinResult.ALREADY, mine)
    emails = verified_emails(user)
    identifier = identifier.strip()
    try:
        with transaction.atomic():
            outcome = _match(user, link, emails, identifier, may_ask=may_ask)
    except IntegrityError:
        # Someone else linked the same entry (or this person joined in another tab) at the
        # same moment: the database's constraints kept one; say what happened.
        mine = Enrolment.objects.filter(course=course, user=user).first()
        if mine is not None:
            return JoinOutcome(JoinResult.ALREADY, mine)
        return JoinOutcome(
            JoinResult.REFUSED,
            message="That roster entry was just linked to another account. If it is yours, "
            "ask your instructor to unlink it.",
        )
    if outcome.result is JoinResult.LINKED and outcome.enrolment is not None:
        enrolment_refresh_state(enrolment_id=outcome.enrolment.pk)
    return outcome


def _match(
    user: User, link: JoinLink, emails: set[str], identifier: str, *, may_ask: bool
) -> JoinOutcome:
    course = link.course
    if emails:
        by_email = list(
            Enrolment.objects.select_for_update().filter(course=course).filter(_any_email_q(emails))
        )
        by_email = [e for e in by_email if _entry_emails(e) & emails]
        free = [e for e in by_email if e.user_id is None]
        if len(free) == 1:
            return _link(free[0], user, how="a verified email address")
        if len(free) > 1:
            return _ask_or_refuse(
                user,
                link,
                identifier,
                may_ask=may_ask,
                reason="more than one roster entry has this person's email address",
                refused="More than one roster entry has your email address, so hubcourse cannot "
                "tell which is yours. Ask your instructor to link you.",
            )
        if by_email:
            return JoinOutcome(
                JoinResult.REFUSED,
                message="The roster entry with your email address is already linked to another "
                "account. If that is not you, ask your instructor to unlink it.",
            )
    if not identifier:
        return JoinOutcome(JoinResult.NEED_IDENTIFIER)
    entry = (
        Enrolment.objects.select_for_update()
        .filter(course=course)
        .filter(Q(identifier__iexact=identifier) | Q(email__iexact=identifier))
        .order_by("pk")
        .first()
    )
    if entry is None:
        return _ask_or_refuse(
            user,
            link,
            identifier,
            may_ask=may_ask,
            reason=f"not on the roster (gave {identifier!r})",
            refused=f"There is no {identifier!r} on the roster of {course.name}. Check it with "
            "your instructor: they can add you to the roster, then open the course link again.",
        )
    if entry.user_id is not None:
        return JoinOutcome(
            JoinResult.REFUSED,
            message=f"The roster entry {identifier!r} is already linked to another account. If "
            "it is yours, sign in with that account; if not, ask your instructor to unlink it.",
        )
    owners = _entry_emails(entry)
    if not owners:
        # A student number and nothing else: the identifier is all there is to go on. The
        # audit log shows the match, and an instructor can unlink a wrong one.
        return _link(entry, user, how=f"the roster identifier {identifier!r}")
    unverified = {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=False).values_list(
            "email", flat=True
        )
    }
    if owners & unverified:
        return JoinOutcome(
            JoinResult.VERIFY_EMAIL,
            message="This roster entry is yours once you confirm your email address: open the "
            "link in the email hubcourse sent you, then open the course link again.",
        )
    return _ask_or_refuse(
        user,
        link,
        identifier,
        may_ask=may_ask,
        reason=f"gave {identifier!r}, whose roster entry names another email address",
        refused="This roster entry belongs to another email address. Sign in with the GitHub "
        "account or email address your school gave the instructor, or ask your instructor.",
    )


def _any_email_q(emails: set[str]) -> Q:
    # The roster keeps emails as typed: compare without case.
    query = Q()
    for email in sorted(emails):
        query |= Q(email__iexact=email) | Q(identifier__iexact=email)
    return query


def _link(entry: Enrolment, user: User, *, how: str) -> JoinOutcome:
    updated = Enrolment.objects.filter(pk=entry.pk, user__isnull=True).update(
        user=user, updated_at=timezone.now()
    )
    if not updated:
        raise IntegrityError("the entry was linked concurrently")
    entry.user = user
    StudentBadge.objects.get_or_create(enrolment=entry)
    JoinRequest.objects.filter(
        course=entry.course, user=user, status=JoinRequest.Status.PENDING
    ).update(status=JoinRequest.Status.APPROVED, decided_at=timezone.now(), enrolment=entry)
    _audit(
        course=entry.course,
        enrolment=entry,
        actor=user,
        action="enrolment.link",
        message=f"{user.email} matched by {how}",
    )
    return JoinOutcome(JoinResult.LINKED, entry)


def _ask_or_refuse(
    user: User, link: JoinLink, identifier: str, *, may_ask: bool, reason: str, refused: str
) -> JoinOutcome:
    if link.policy != JoinLink.Policy.APPROVAL:
        return JoinOutcome(JoinResult.REFUSED, message=refused)
    if not may_ask:
        return JoinOutcome(JoinResult.NEED_IDENTIFIER)
    request, created = JoinRequest.objects.get_or_create(
        course=link.course,
        user=user,
        status=JoinRequest.Status.PENDING,
        defaults={"identifier": identifier, "reason": reason[:300]},
    )
    if not created and identifier and request.identifier != identifier:
        JoinRequest.objects.filter(pk=request.pk).update(identifier=identifier, reason=reason[:300])
    return JoinOutcome(
        JoinResult.PENDING,
        message="Your request to join is waiting for your instructor. Come back to this link "
        "later: once they approve it, it takes you to your course page.",
    )


def pending_request(user: User, course: Course) -> JoinRequest | None:
    return JoinRequest.objects.filter(
        course=course, user=user, status=JoinRequest.Status.PENDING
    ).first()


def last_refusal(user: User, course: Course) -> JoinRequest | None:
    return (
        JoinRequest.objects.filter(course=course, user=user, status=JoinRequest.Status.REFUSED)
        .order_by("-decided_at")
        .first()
    )


# -- the instructor's decisions ------------------------------------------------------------------


class DecisionError(Exception):
    """A decision that cannot be made as asked; ``str()`` says why, for the instructor."""


def join_request_approve(
    *, request_id: int, course: Course, actor: User, enrolment_id: int | None = None
) -> Enrolment:
    """Approve: link the person to the chosen unlinked roster entry, or add them to the roster."""
    with transaction.atomic():
        request = (
            JoinRequest.objects.select_for_update()
            .select_related("user")
            .filter(pk=request_id, course=course, status=JoinRequest.Status.PENDING)
            .first()
        )
        if request is None:
            raise DecisionError("This request was already decided.")
        user = request.user
        if Enrolment.objects.filter(course=course, user=user).exists():
            raise DecisionError(f"{user.email} is already on the course.")
        if enrolment_id is not None:
            entry = (
                Enrolment.objects.select_for_update()
                .filter(pk=enrolment_id, course=course, user__isnull=True)
                .first()
            )
            if entry is None:
                raise DecisionError("That roster entry is gone or linked to someone else.")
            Enrolment.objects.filter(pk=entry.pk).update(user=user, updated_at=timezone.now())
            entry.user = user
            how = f"approved by {actor.email}, linked to roster entry {entry.identifier}"
        else:
            identifier = request.identifier or user.email
            if Enrolment.objects.filter(course=course, identifier__iexact=identifier).exists():
                raise DecisionError(
                    f"The roster already has {identifier!r}: pick that entry to link it instead."
                )
            entry = Enrolment.objects.create(
                course=course,
                identifier=identifier,
                name=user.get_full_name(),
                email=user.email,
                user=user,
            )
            how = f"approved by {actor.email}, added to the roster"
        StudentBadge.objects.get_or_create(enrolment=entry)
        JoinRequest.objects.filter(pk=request.pk).update(
            status=JoinRequest.Status.APPROVED,
            decided_at=timezone.now(),
            decided_by=actor,
            enrolment=entry,
        )
        _audit(course=course, enrolment=entry, actor=actor, action="enrolment.link", message=how)
    enrolment_refresh_state(enrolment_id=entry.pk)
    return entry


def join_request_refuse(*, request_id: int, course: Course, actor: User) -> JoinRequest:
    with transaction.atomic():
        request = (
            JoinRequest.objects.select_for_update()
            .filter(pk=request_id, course=course, status=JoinRequest.Status.PENDING)
            .first()
        )
        if request is None:
            raise DecisionError("This request was already decided.")
        request.status = JoinRequest.Status.REFUSED
        request.decided_at = timezone.now()
        request.decided_by = actor
        request.save(update_fields=["status", "decided_at", "decided_by"])
        _audit(
            course=course,
            actor=actor,
            action="join_request.refuse",
            message=f"{request.user} refused",
        )
    return request


def enrolment_unlink(*, enrolment: Enrolment, actor: User, forget_links: bool = False) -> None:
    """Take the roster entry away from the account that claimed it (a wrong match).

    With ``forget_links`` the Docker ID and GitHub repository that account entered are
    cleared too, so the rightful student starts from step 1. What was already made on
    Docker Hub stays until the next reconcile or offboarding.
    """
    with transaction.atomic():
        entry = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=enrolment.pk)
        )
        previous = entry.user
        fields: dict[str, object] = {"user": None, "updated_at": timezone.now()}
        if forget_links:
            fields.update(
                docker_id="",
                github_repo="",
                docker_id_verified_at=None,
                preflight_state=PreflightState.NOT_RUN,
                preflight_report=[],
                preflight_at=None,
            )
        Enrolment.objects.filter(pk=entry.pk).update(**fields)
        # A new token: the badge of the wrong account's repository stops answering.
        StudentBadge.objects.filter(enrolment=entry).update(token=new_token())
        _audit(
            course=entry.course,
            enrolment=entry,
            actor=actor,
            action="enrolment.unlink",
            message=f"unlinked {previous.email if previous else 'nobody'}"
            + ("; Docker ID and GitHub repository cleared" if forget_links else ""),
        )
    if forget_links:
        enrolment_clear_error(enrolment_id=entry.pk)
    else:
        enrolment_refresh_state(enrolment_id=entry.pk)


# -- linking the Docker ID and the GitHub repository --------------------------------------------


def docker_id_is_locked(enrolment: Enrolment) -> bool:
    """Once Docker Hub has invited the Docker ID, changing it is the instructor's call."""
    from accounts.models import InviteState

    return enrolment.member_at is not None or enrolment.invite_state in (
        InviteState.PENDING,
        InviteState.ACCEPTED,
    )


def docker_id_exists(course: Course, docker_id: str) -> bool:
    """Ask Docker Hub (with the course's credentials); raises ``ExternalServiceError``."""
    from accounts.credentials import dockerhub_client_for

    return dockerhub_client_for(course).user_exists(docker_id)


def enrolment_link(
    *, enrolment: Enrolment, actor: User, docker_id: str, github_repo: str
) -> Enrolment:
    """Store the student's Docker ID (already checked to exist) and GitHub repository.

    A change clears the last pre-flight result, so the checks run again on the new values,
    and starts the student's pipeline (pre-flight first).
    """
    now = timezone.now()
    with transaction.atomic():
        entry = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        fields: dict[str, object] = {}
        if docker_id != entry.docker_id:
            fields.update(docker_id=docker_id, docker_id_verified_at=now)
        elif entry.docker_id and entry.docker_id_verified_at is None:
            fields["docker_id_verified_at"] = now
        if github_repo != entry.github_repo:
            fields["github_repo"] = github_repo
        if not fields:
            return entry
        fields.update(preflight_state=PreflightState.NOT_RUN, preflight_report=[], updated_at=now)
        Enrolment.objects.filter(pk=entry.pk).update(**fields)
        _audit(
            course=entry.course,
            enrolment=entry,
            actor=actor,
            action="enrolment.link_accounts",
            message=f"Docker ID {docker_id or '-'}, GitHub repository {github_repo or '-'}",
        )
    enrolment_clear_error(enrolment_id=entry.pk, step=StepName.PREFLIGHT)
    entry.refresh_from_db()
    enrolment_start_pipeline(enrolment=entry, actor=actor)
    return entry


def enrolment_check_again(*, enrolment: Enrolment, actor: User) -> None:
    """The student fixed their repository: run the pre-flight checks (and the rest) again."""
    Enrolment.objects.filter(pk=enrolment.pk, preflight_state=PreflightState.FAILED).update(
        preflight_state=PreflightState.NOT_RUN, updated_at=timezone.now()
    )
    enrolment_clear_error(enrolment_id=enrolment.pk, step=StepName.PREFLIGHT)
    enrolment.refresh_from_db()
    enrolment_start_pipeline(enrolment=enrolment, actor=actor)


def enrolment_start_pipeline(*, enrolment: Enrolment, actor: User | None) -> None:
    """Enqueue the student's onboarding plan (pre-flight first); returns at once."""
    from onboarding.engine import apply_plan, plan_course

    if not enrolment.docker_id or not enrolment.course.is_active:
        return
    apply_plan(
        plan_course(enrolment.course, enrolment=enrolment), actor_id=actor.pk if actor else None
    )


# -- the student's own GitHub repositories -------------------------------------------------------

REPO_LIST_SECONDS = 300


@dataclass(frozen=True)
class OwnRepositories:
    signed_in_with_github: bool
    names: list[str]
    # Why the list is empty or missing, for the student.
    problem: str = ""


def github_token_of(user: User) -> str:
    token = (
        SocialToken.objects.filter(account__user=user, account__provider="github")
        .order_by("-pk")
        .values_list("token", flat=True)
        .first()
    )
    return token or ""


def own_repositories(user: User, *, refresh: bool = False) -> OwnRepositories:
    """The repositories the student owns, read with their GitHub sign-in (cached briefly).

    The list proves ownership: GitHub only lists what the token's user owns. Read on the
    linking form only (never on the status page), and kept a few minutes so reloading the
    form does not spend the student's rate limit.
    """
    from integrations.github.client import GitHubClient

    token = github_token_of(user)
    if not token:
        return OwnRepositories(False, [])
    key = f"student:own-repos:{user.pk}"
    cached = None if refresh else cache.get(key)
    if isinstance(cached, list):
        return OwnRepositories(True, [str(name) for name in cached])
    try:
        repos = GitHubClient.for_oauth_token(token).list_my_repositories(affiliation="owner")
    except ExternalServiceError as error:
        logger.info("could not list repositories of user %s: %s", user.pk, error)
        return OwnRepositories(True, [], problem=f"{error}. Type your repository instead.")
    names = sorted((repo.full_name for repo in repos if not repo.archived), key=str.lower)
    cache.set(key, names, REPO_LIST_SECONDS)
    return OwnRepositories(True, names)


# -- badge ----------------------------------------------------------------------------------------


def badge_for(enrolment: Enrolment) -> StudentBadge:
    badge, _ = StudentBadge.objects.get_or_create(enrolment=enrolment)
    return badge


def badge_regenerate(*, enrolment: Enrolment) -> StudentBadge:
    badge = badge_for(enrolment)
    badge.token = new_token()
    badge.save(update_fields=["token"])
    return badge


def _audit(
    *,
    course: Course,
    actor: User | None,
    action: str,
    message: str,
    enrolment: Enrolment | None = None,
) -> None:
    audit_record(
        service=HUBCOURSE,
        action=action,
        target=enrolment.identifier if enrolment is not None else course.slug,
        outcome=Outcome.OK,
        course=course,
        enrolment=enrolment,
        actor=actor,
        message=message,
    )
