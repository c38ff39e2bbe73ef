"""What students (and the instructor's join controls) change: joining, matching, linking.

Matching rules, in order (``join_course``):

1. a person already on the course goes to their page;
2. a roster entry whose email (or email-shaped identifier) is one of the person's
   *verified* email addresses is theirs, at once;
3. otherwise the identifier they type (a student number, a Docker ID) is only a claim:
   anyone with the course link can type someone else's, so a free entry that names no email
   waits for an instructor, who sees who asked, to approve or refuse;
4. anything else they type (no such entry, an entry linked to another account, an entry
   naming another email) gets one and the same answer, so the join form tells nobody what
   the roster holds: refused, or waiting for an instructor, as the course's link says.

Typed identifiers are limited per account, and those that match nothing per client address
and per course (``join_attempt_allowed``): new accounts, or many addresses, do not buy more
guesses.

Every link and unlink is written to the audit log, so an instructor can see (and undo) a
wrong match.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import identifiers
from accounts.credentials import dockerhub_client_for
from accounts.models import (
    Course,
    Enrolment,
    GitHubAccess,
    InviteState,
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
from hubcourse.errors import ExternalServiceError, ValidationError, ValidationErrors, sentence
from onboarding import engine
from onboarding.github_access import own_public_repositories, repository_linked
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
    # A typed identifier that named no roster entry the person may ask for (counted).
    missed: bool = False


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


# A student number is a weak secret: typing numbers until one matches tells who is on the
# roster (and files claims). Each account gets this many typed identifiers per course in a
# window, plenty for typos.
JOIN_ATTEMPTS = 10
# Sign-up is open, so accounts are free: typed identifiers that match nothing are also
# counted per client address and per course. Only misses count there, because a whole class
# behind one school address types its student numbers at once; misses are its typos.
JOIN_MISSES_PER_ADDRESS = 30
JOIN_MISSES_PER_COURSE = 100
JOIN_ATTEMPT_WINDOW = 15 * 60  # seconds


def _count(key: str, add: int) -> int:
    if not add:
        return int(cache.get(key, 0))
    cache.add(key, 0, JOIN_ATTEMPT_WINDOW)
    try:
        return int(cache.incr(key, add))
    except ValueError:  # the window ran out between add and incr
        cache.set(key, add, JOIN_ATTEMPT_WINDOW)
        return add


def _address_key(address: str) -> str:
    # An IPv6 host holds a whole /64: one bucket for it, or every address is a fresh start.
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return f"student:join-misses:address:{address}"
    if found.version == 6:
        return f"student:join-misses:address:{ipaddress.ip_network(f'{found}/64', strict=False)}"
    return f"student:join-misses:address:{found}"


def _course_key(course: Course) -> str:
    return f"student:join-misses:course:{course.pk}"


def join_attempt_allowed(user: User, course: Course, address: str) -> bool:
    """Count one typed identifier; False once the account has used up its tries, or its
    client address (``hubcourse.clientip.client_ip``) or the course its misses, for now."""
    if _count(f"student:join-attempts:{course.pk}:{user.pk}", 1) > JOIN_ATTEMPTS:
        return False
    return (
        _count(_address_key(address), 0) < JOIN_MISSES_PER_ADDRESS
        and _count(_course_key(course), 0) < JOIN_MISSES_PER_COURSE
    )


def _charge_miss(course: Course, address: str | None) -> None:
    _count(_course_key(course), 1)
    if address is not None:
        _count(_address_key(address), 1)


def join_course(
    *,
    user: User,
    link: JoinLink,
    identifier: str = "",
    may_ask: bool = True,
    address: str | None = None,
) -> JoinOutcome:
    """Match the signed-in person to the course's roster (see the module's rules).

    ``may_ask`` False (opening the link, a GET) never files a request for approval: the
    person asks explicitly, with the form. A typed identifier that matches nothing is
    counted against the course and, given the client's ``address``, against that address.
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
    if outcome.missed:
        _charge_miss(course, address)
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
    # Their own email, typed before confirming it: the answer depends on the account only,
    # never on the roster.
    unverified = {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=False).values_list(
            "email", flat=True
        )
    }
    if identifier.lower() in unverified - emails:
        return JoinOutcome(
            JoinResult.VERIFY_EMAIL,
            message="You have not confirmed this email address yet: to join with it, confirm "
            "your email address (open the link in the email hubcourse sent you), then open the "
            "course link again.",
        )
    entry = (
        Enrolment.objects.select_for_update()
        .filter(course=course)
        .filter(Q(identifier__iexact=identifier) | Q(email__iexact=identifier))
        .order_by("pk")
        .first()
    )
    # Every way a typed identifier can fail gets the same words (``_no_match``): which one
    # it was is for the instructor's eyes only (the request's reason).
    if entry is None:
        why = f"gave {identifier!r}, which is not on the roster"
    elif entry.user_id is not None:
        why = f"gave {identifier!r}, whose roster entry is already linked to another account"
    elif _entry_emails(entry):
        why = f"gave {identifier!r}, whose roster entry names another email address"
    else:
        # A free entry known by its identifier only: a claim, for the instructor to confirm.
        return _request(
            user,
            link,
            identifier,
            may_ask=may_ask,
            claimed=entry,
            reason=f"typed the roster identifier {identifier!r}: confirm that this is "
            f"{entry.name or 'that student'}",
        )
    if link.policy != JoinLink.Policy.APPROVAL:
        return JoinOutcome(JoinResult.REFUSED, message=_no_match(course), missed=True)
    outcome = _request(
        user,
        link,
        identifier,
        may_ask=may_ask,
        claimed=entry if entry is not None and entry.user_id is None else None,
        reason=why,
    )
    return JoinOutcome(outcome.result, message=outcome.message, missed=True)


def _no_match(course: Course) -> str:
    # Not even the typed identifier is repeated: the words are the same, whatever the reason.
    return (
        f"That does not match a roster entry of {course.name} that you can join. "
        "Check it against what your instructor has for you. If the roster has your email "
        "address, confirm it (the link in the email hubcourse sent you) or sign in with the "
        "GitHub account that has it, then open the course link again; if it still does not "
        "work, ask your instructor."
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
    return _request(user, link, identifier, may_ask=may_ask, reason=reason)


def _request(
    user: User,
    link: JoinLink,
    identifier: str,
    *,
    may_ask: bool,
    reason: str,
    claimed: Enrolment | None = None,
) -> JoinOutcome:
    """File (or update) the person's one pending request; the same answer for every reason."""
    if not may_ask:
        return JoinOutcome(JoinResult.NEED_IDENTIFIER)
    request, created = JoinRequest.objects.get_or_create(
        course=link.course,
        user=user,
        status=JoinRequest.Status.PENDING,
        defaults={"identifier": identifier, "reason": reason[:300], "claimed": claimed},
    )
    claimed_id = claimed.pk if claimed is not None else None
    changed = (request.identifier, request.claimed_id) != (identifier, claimed_id)
    if not created and identifier and changed:
        JoinRequest.objects.filter(pk=request.pk).update(
            identifier=identifier, reason=reason[:300], claimed=claimed
        )
    return JoinOutcome(
        JoinResult.PENDING,
        message="Your request to join is waiting for your instructor. Come back to this link "
        "later: once they approve it, it takes you to your course page.",
    )


def pending_request(user: User, course: Course) -> JoinRequest | None:
    return JoinRequest.objects.filter(
        course=course, user=user, status=JoinRequest.Status.PENDING
    ).first()


@dataclass(frozen=True)
class WaitingRequest:
    """A pending request as the instructor weighs it: who asked, and for which entry."""

    request: JoinRequest
    github_login: str  # the GitHub account the person signed in with, if any
    rivals: int  # other accounts waiting for the same roster entry


def waiting_requests(requests: Sequence[JoinRequest]) -> list[WaitingRequest]:
    """``requests`` (with ``user`` and ``claimed`` selected) beside what decides them."""
    logins = github_logins(r.user_id for r in requests)
    claimed = [r.claimed_id for r in requests if r.claimed_id is not None]
    claims: dict[int, int] = {}
    for entry_id in JoinRequest.objects.filter(
        claimed_id__in=claimed, status=JoinRequest.Status.PENDING
    ).values_list("claimed_id", flat=True):
        claims[entry_id] = claims.get(entry_id, 0) + 1
    return [
        WaitingRequest(
            request=r,
            github_login=logins.get(r.user_id, ""),
            rivals=claims.get(r.claimed_id, 1) - 1 if r.claimed_id is not None else 0,
        )
        for r in requests
    ]


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
                # The wrong account's installation is not the rightful student's.
                github_access=GitHubAccess.UNKNOWN,
                github_access_note="",
                github_installation_id=None,
                github_repository_id=None,
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

    return enrolment.member_at is not None or enrolment.invite_state in (
        InviteState.PENDING,
        InviteState.ACCEPTED,
    )


def docker_id_exists(course: Course, docker_id: str) -> bool:
    """Ask Docker Hub (with the course's credentials); raises ``ExternalServiceError``."""

    return dockerhub_client_for(course).user_exists(docker_id)


DOCKER_SIGNUP_URL = "https://app.docker.com/signup"


@dataclass(frozen=True)
class LinkValues:
    docker_id: str
    github_repo: str


def link_values_check(
    enrolment: Enrolment,
    *,
    docker_id: str,
    typed_repo: str = "",
    picked_repo: str = "",
    own_repositories: Sequence[str] = (),
    docker_id_exists: Callable[[str], bool] | None = None,
) -> LinkValues:
    """The rules for what a student links to their enrolment (the link page's and the API's):
    a Docker ID in Docker Hub's spelling, no other student's on the course, that Docker Hub
    knows (asked once; ``docker_id_exists`` defaults to the course's Docker Hub); and a
    GitHub repository typed as owner/name or an address, or picked from their own.

    Once Docker Hub has invited the Docker ID (``docker_id_is_locked``) it stays as it is.
    ``hubcourse.errors.ValidationError`` names ``docker_id``, ``github_repo`` or
    ``github_repo_choice``; all broken rules are raised together.
    """
    problems: list[ValidationError] = []
    value = enrolment.docker_id if docker_id_is_locked(enrolment) else ""
    if not docker_id_is_locked(enrolment):
        try:
            value = _docker_id_check(enrolment, docker_id, docker_id_exists)
        except ValidationError as error:
            problems.append(error)
    repository = ""
    typed = typed_repo.strip()
    if typed:
        try:
            repository = identifiers.github_repo(typed).value
        except ValidationError as error:
            problems.append(error.keyed("github_repo"))
    elif picked_repo:
        if picked_repo in own_repositories:
            repository = picked_repo
        else:
            problems.append(
                ValidationError(
                    "Pick a repository from the list.", key="github_repo_choice", value=picked_repo
                )
            )
    ValidationErrors.raise_any(problems)
    return LinkValues(docker_id=value, github_repo=repository)


def _docker_id_check(
    enrolment: Enrolment, docker_id: str, exists: Callable[[str], bool] | None
) -> str:
    try:
        value = identifiers.docker_id(docker_id).value
    except ValidationError as error:
        raise ValidationError(
            f"{sentence(error)} Copy it from your Docker Hub profile.",
            field=error.field,
            value=error.value,
            rule=error.rule,
            key="docker_id",
        ) from None
    if not value:
        raise ValidationError("Give your Docker ID.", key="docker_id")
    taken = (
        Enrolment.objects.filter(course=enrolment.course, docker_id__iexact=value)
        .exclude(pk=enrolment.pk)
        .exists()
    )
    if taken:
        raise ValidationError(
            "Another student on this course already gave this Docker ID. If it is yours, "
            "tell your instructor.",
            key="docker_id",
            value=value,
        )
    if value == enrolment.docker_id and enrolment.docker_id_verified_at:
        return value  # checked before; no need to ask Docker Hub again
    try:
        found = (exists or (lambda name: docker_id_exists(enrolment.course, name)))(value)
    except ExternalServiceError as error:
        raise ValidationError(
            f"hubcourse could not check this Docker ID just now: {error}. Try again in a minute.",
            key="docker_id",
            value=value,
        ) from error
    if not found:
        raise ValidationError(
            f"Docker Hub has no Docker ID {value!r}. Step 1 of the handout is to sign up for "
            f"a free Docker ID at {DOCKER_SIGNUP_URL}; then enter it here. If you have one, "
            "check its spelling on your Docker Hub profile.",
            key="docker_id",
            value=value,
        )
    return value


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
            fields.update(docker_id=docker_id, docker_id_verified_at=now, docker_id_not_found="")
        elif entry.docker_id and entry.docker_id_verified_at is None:
            fields["docker_id_verified_at"] = now
        repo_changed = github_repo != entry.github_repo
        if repo_changed:
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
    if repo_changed:
        # Another repository: the old installation and access say nothing about it.

        repository_linked(entry)
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

    if not enrolment.docker_id or not enrolment.course.is_active:
        return
    engine.apply_plan(
        engine.plan_course(enrolment.course, enrolment=enrolment),
        actor_id=actor.pk if actor else None,
    )


# -- the student's own GitHub repositories -------------------------------------------------------

REPO_LIST_SECONDS = 300


@dataclass(frozen=True)
class OwnRepositories:
    signed_in_with_github: bool
    names: list[str]
    # Why the list is empty or missing, for the student.
    problem: str = ""


def github_login_of(user: User) -> str:
    """The GitHub login the person signed in with (allauth keeps GitHub's profile)."""
    data = (
        SocialAccount.objects.filter(user=user, provider="github")
        .order_by("-pk")
        .values_list("extra_data", flat=True)
        .first()
    )
    login = data.get("login") if isinstance(data, dict) else None
    return str(login) if login else ""


def github_logins(user_ids: Iterable[int]) -> dict[int, str]:
    """``github_login_of`` for many people at once (a page of join requests)."""
    found: dict[int, str] = {}
    for user_id, data in (
        SocialAccount.objects.filter(user_id__in=list(user_ids), provider="github")
        .order_by("pk")
        .values_list("user_id", "extra_data")
    ):
        login = data.get("login") if isinstance(data, dict) else None
        if login:
            found[user_id] = str(login)
    return found


def own_repositories(user: User, *, refresh: bool = False) -> OwnRepositories:
    """The public repositories the student's GitHub login owns, read anonymously (cached).

    No token is needed (or kept): a sign-in token without scopes cannot list private
    repositories anyway, so a private one is typed, and proven through the GitHub App's
    installation. Read on the linking form only, and kept a few minutes so reloading the
    form does not spend the server's small anonymous budget.
    """

    login = github_login_of(user)
    if not login:
        return OwnRepositories(False, [])
    key = f"student:own-repos:{user.pk}"
    cached = None if refresh else cache.get(key)
    if isinstance(cached, list):
        return OwnRepositories(True, [str(name) for name in cached])
    names = own_public_repositories(login)
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
