"""Bulk invites to the organisation: a dry run answered by Docker Hub, then the invites.

Both phases go through ``POST /v2/invites/bulk`` in requests of at most 1000 invitees (the
most Docker Hub's own page takes; ``BULK_INVITE_MAX``), paced by the client's rate-limit
governor. Each request is one chunk of the job; the rows it answered are written before the
next, so the job can stop anywhere and carry on.

Running a list again changes nothing: before each request the organisation's pending
invites are read (one call, not paginated), and an invitee with a pending invite is
reported as "already invited" and not sent again; Docker Hub itself reports members.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts import organisations
from accounts.models import BulkInvite, BulkInviteRow, Outcome, User
from accounts.roster_parsing import (
    INVITE_LIMITS,
    INVITE_MAX_BYTES,
    Entry,
    Invitees,
    RosterError,
    Status,
    parse_invitees,
)
from accounts.seats import is_seat_refusal, seat_refusal_message, seat_refusals
from accounts.sent_invites import invites_record_sent
from hubcourse import jobs
from hubcourse.audit import Outcome as AuditOutcome
from hubcourse.audit import audit_record
from hubcourse.errors import PermanentError, ValidationError
from hubcourse.models import JobStatus
from hubcourse.tasks import enqueue_on_commit
from hubcourse.text import counted
from integrations.dockerhub.client import (
    BULK_INVITE_MAX,
    SERVICE,
    DockerHubClient,
    Invite,
    InviteResult,
)

# Rows that need nothing from Docker Hub in the send phase keep their dry-run outcome.
BULK_INVITE_TASK = "accounts.bulk_invite"  # queued by name (accounts.tasks registers it)

_SETTLED_BY_CHECK = (
    Outcome.ALREADY_INVITED,
    Outcome.ALREADY_MEMBER,
    Outcome.INVALID,
    Outcome.DUPLICATE,
    # Refused by the dry run for lack of seats: not sent (the page says so before sending);
    # once seats are freed, running the list again invites them.
    Outcome.NO_SEAT,
    Outcome.OTHER,
)
# Rows the parser settles: never sent to Docker Hub.
_SETTLED_BY_PARSING = {Status.ERROR: Outcome.INVALID, Status.DUPLICATE: Outcome.DUPLICATE}
_STATUS_MESSAGES = {
    "invalid_email_or_docker_id": (
        "Docker Hub knows no Docker ID or account by this name: check the spelling."
    ),
}


def organisation_client(organisation: str | None = None) -> DockerHubClient:
    """The identity that acts in the organisation (the settings' one by default): its
    registered credentials; the site-wide ones only for the settings' organisation.
    ``OrganisationNotUsable`` for an organisation that is not registered."""
    identifier, secret = organisations.dockerhub_credentials(organisation or default_organisation())
    return DockerHubClient(str(settings.DOCKERHUB_API_URL), identifier, secret)


def default_organisation() -> str:
    return str(settings.DOCKERHUB_ORG)


# -- creating and confirming -------------------------------------------------------------------


def invitees_read(*, text: str, upload: bytes | None, upload_size: int | None = None) -> Invitees:
    """The rules for a list of people to invite (pasted, or a CSV file, not both, never
    empty or too large): its entries, or ``hubcourse.errors.ValidationError`` saying why not.
    ``upload`` is the file's first bytes (at most ``INVITE_MAX_BYTES`` + 1), ``upload_size``
    its whole size when known."""
    text = text.strip()
    if text and upload is not None:
        raise ValidationError("Paste a list or choose a file, not both.")
    if not text and upload is None:
        raise ValidationError(
            "The list is empty: paste Docker IDs or emails, or choose a CSV file."
        )
    try:
        if upload is not None:
            size = upload_size if upload_size is not None else len(upload)
            if size > INVITE_MAX_BYTES:
                raise ValidationError(
                    f"The file is {size / 1024 / 1024:.1f} MB; lists "
                    f"{INVITE_LIMITS} are accepted. Split it into smaller files.",
                    key="csv_file",
                )
            rows = parse_invitees(upload, as_csv=True)
        else:
            rows = parse_invitees(text, as_csv=False)
    except RosterError as error:
        raise ValidationError(str(error)) from error
    if not rows:
        raise ValidationError("No Docker ID or email was found in the file.")
    return rows


def bulk_invite_create(
    *,
    rows: Sequence[Entry],
    organisation: str,
    team: str = "",
    role: str = BulkInvite.Role.MEMBER,
    source: str = BulkInvite.Source.PASTE,
    filename: str = "",
    actor: User | None = None,
) -> BulkInvite:
    """A new job in its dry-run phase, with every row; invalid and repeated rows are settled
    here and never sent. The caller enqueues the job (``enqueue``)."""
    if not rows:
        raise ValueError("The list is empty: paste Docker IDs or emails, or choose a CSV file.")
    with transaction.atomic():
        job = BulkInvite.objects.create(
            organisation=organisation,
            team=team.strip(),
            role=role,
            source=source,
            filename=filename[:255],
            created_by=actor,
            total=sum(1 for row in rows if row.ok),
            lines_read=rows.lines if isinstance(rows, Invitees) else 0,
            blank_lines=list(rows.blank_lines) if isinstance(rows, Invitees) else [],
        )
        BulkInviteRow.objects.bulk_create(
            [
                BulkInviteRow(
                    job=job,
                    line=row.line,
                    position=row.position,
                    raw=row.raw[:320],
                    invitee=row.invitee,
                    dry_run=_SETTLED_BY_PARSING.get(row.status, ""),
                    # A change (a name dropped, lower-cased) is said until Docker Hub answers.
                    message=row.message[:500],
                )
                for row in rows
            ],
            batch_size=1000,
        )
        if job.total == 0:
            now = timezone.now()
            job.status, job.finished_at, job.checked_at = JobStatus.DONE, now, now
            job.save(update_fields=["status", "finished_at", "checked_at"])
        audit_record(
            service=SERVICE,
            action="invite.bulk_check",
            target=_target(job),
            outcome=AuditOutcome.OK,
            actor=actor,
            message=f"dry run of {len(rows)} row(s) requested ({job.get_source_display()})",
        )
    return job


def bulk_invite_confirm(*, job_id: int, actor: User | None = None) -> BulkInvite | None:
    """Start sending after a dry run. Rows the dry run settled keep its outcome; if nothing
    is left to send the job finishes at once (a repeated list changes nothing)."""
    with transaction.atomic():
        job = BulkInvite.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.awaiting_confirmation:
            return None
        for outcome in _SETTLED_BY_CHECK:
            job.rows.filter(dry_run=outcome).update(result=outcome)
        to_send = job.rows.filter(dry_run=Outcome.INVITE).count()
        now = timezone.now()
        job.phase = BulkInvite.Phase.SEND
        job.confirmed_at = now
        job.total, job.done, job.requests_made = to_send, 0, 0
        job.status = JobStatus.QUEUED if to_send else JobStatus.DONE
        job.started_at = now if not to_send else None
        job.finished_at = now if not to_send else None
        job.error = ""
        job.save()
        audit_record(
            service=SERVICE,
            action="invite.bulk",
            target=_target(job),
            outcome=AuditOutcome.OK if to_send else AuditOutcome.NOOP,
            actor=actor,
            message=(
                f"confirmed: {to_send} invite(s) to send"
                if to_send
                else "nothing to send: every row was already invited, a member or not valid"
            ),
        )
    return job


def enqueue(job: BulkInvite) -> None:
    if job.is_active:
        enqueue_on_commit(BULK_INVITE_TASK, job.pk)


def bulk_invite_start(
    *,
    rows: Sequence[Entry],
    organisation: str,
    team: str = "",
    role: str = BulkInvite.Role.MEMBER,
    source: str = BulkInvite.Source.PASTE,
    filename: str = "",
    actor: User | None = None,
) -> BulkInvite:
    """``bulk_invite_create`` and its dry run queued after the commit: the page's and the
    API's one way to start a list."""
    with transaction.atomic():
        job = bulk_invite_create(
            rows=rows,
            organisation=organisation,
            team=team,
            role=role,
            source=source,
            filename=filename,
            actor=actor,
        )
        enqueue(job)
    return job


def bulk_invite_send(*, job_id: int, actor: User | None = None) -> BulkInvite | None:
    """``bulk_invite_confirm``, and the sending queued after the commit when anything is
    left to send (``None``: nothing to confirm; a DONE job: nothing to send)."""
    with transaction.atomic():
        confirmed = bulk_invite_confirm(job_id=job_id, actor=actor)
        if confirmed is not None and confirmed.status != JobStatus.DONE:
            enqueue(confirmed)
    return confirmed


def bulk_invite_resume(*, job_id: int, actor: User | None = None) -> bool:
    if not jobs.mark_resumed(BulkInvite, job_id):
        return False
    job = BulkInvite.objects.get(pk=job_id)
    audit_record(
        service=SERVICE,
        action="invite.bulk_resume",
        target=_target(job),
        outcome=AuditOutcome.OK,
        actor=actor,
        message=f"{job.get_phase_display()} resumed at {job.done} of {job.total}",
    )
    enqueue(job)
    return True


# -- working through the chunks ------------------------------------------------------------------


def pending_rows(job: BulkInvite) -> list[BulkInviteRow]:
    """The next chunk: at most 1000 rows this phase has not answered yet, in order."""
    rows = job.rows.all()
    if job.phase == BulkInvite.Phase.CHECK:
        rows = rows.filter(dry_run="")
    else:
        rows = rows.filter(dry_run=Outcome.INVITE, result="")
    return list(rows.order_by("line", "position")[:BULK_INVITE_MAX])


def bulk_invite_run_chunk(*, job_id: int, client: DockerHubClient | None = None) -> bool:
    """Send the job's next request and record its rows; True while more work remains.

    Errors from Docker Hub propagate (the task decides: wait, retry, or stop); the rows of
    the failed chunk stay unanswered, so a retry sends exactly them again.
    """
    job = jobs.take_lease(BulkInvite, job_id)
    if job is None:
        return False
    try:
        rows = pending_rows(job)
        if not rows:
            _finish_phase(job)
            return False
        jobs.mark_running(BulkInvite, job)
        client = client or organisation_client(job.organisation)
        pending = client.list_invites(job.organisation)
        dry_run = job.phase == BulkInvite.Phase.CHECK
        try:
            results = client.bulk_invite(
                job.organisation,
                [row.invitee for row in rows],
                team=job.team or None,
                role=job.role,  # type: ignore[arg-type]
                dry_run=dry_run,
            )
        except PermanentError as error:
            results = seat_refusals(error, [row.invitee for row in rows])
        counts = _record(job, rows, results, pending)
        if not dry_run:
            invites_record_sent(organisation=job.organisation, results=results)
        BulkInvite.objects.filter(pk=job.pk).update(
            done=job.done + len(rows), requests_made=job.requests_made + 1
        )
        audit_record(
            service=SERVICE,
            action="invite.bulk_check" if dry_run else "invite.bulk",
            target=_target(job),
            outcome=AuditOutcome.OK if counts.get(Outcome.INVITED) else AuditOutcome.NOOP,
            actor=job.created_by,
            message=_counts_sentence(counts, dry_run=dry_run),
        )
    except BaseException:
        jobs.release(BulkInvite, job_id)
        raise
    jobs.release(BulkInvite, job_id)
    job.refresh_from_db()
    if not pending_rows(job):
        _finish_phase(job)
        return False
    return True


def _finish_phase(job: BulkInvite) -> None:
    now = timezone.now()
    fields: dict[str, object] = {
        "status": JobStatus.DONE,
        "finished_at": now,
        "error": "",
        "retry_at": None,
        "lease_until": None,
    }
    if job.phase == BulkInvite.Phase.CHECK:
        fields["checked_at"] = now
    BulkInvite.objects.filter(pk=job.pk).update(**fields)


def _record(
    job: BulkInvite,
    rows: list[BulkInviteRow],
    results: list[InviteResult],
    pending: list[Invite],
) -> dict[str, int]:
    pending_ids = {invite.id for invite in pending}
    pending_by_name = {invite.invitee.lower(): invite for invite in pending}
    by_name = {result.invitee.strip().lower(): result for result in results}
    dry_run = job.phase == BulkInvite.Phase.CHECK
    counts: dict[str, int] = {}
    changed: list[BulkInviteRow] = []
    for index, row in enumerate(rows):
        result = results[index] if index < len(results) else None
        if result is None or result.invitee.strip().lower() != row.invitee:
            # Docker Hub answers in order; if it ever does not, match by name.
            result = by_name.get(row.invitee)
        outcome, message, invite_id = _outcome(result, row, pending_ids, pending_by_name, dry_run)
        if dry_run:
            row.dry_run = outcome
        else:
            row.result = outcome
        row.message, row.invite_id = message[:500], invite_id
        counts[outcome] = counts.get(outcome, 0) + 1
        changed.append(row)
    BulkInviteRow.objects.bulk_update(changed, ["dry_run", "result", "message", "invite_id"])
    return counts


def _outcome(
    result: InviteResult | None,
    row: BulkInviteRow,
    pending_ids: set[str],
    pending_by_name: dict[str, Invite],
    dry_run: bool,
) -> tuple[str, str, str]:
    if result is None:
        return Outcome.OTHER, "Docker Hub did not answer for this row; run the list again.", ""
    if result.status == "invited":
        existing = pending_by_name.get(row.invitee)
        if existing is None and result.invite is not None and result.invite.id in pending_ids:
            existing = result.invite
        if existing is not None:
            since = f" since {existing.created_at:%d %b %Y}" if existing.created_at else ""
            return Outcome.ALREADY_INVITED, f"An invite is pending{since}.", existing.id
        if dry_run:
            return Outcome.INVITE, "", ""
        return Outcome.INVITED, "", result.invite.id if result.invite else ""
    if result.status == "existing_org_member":
        return Outcome.ALREADY_MEMBER, "", ""
    if result.status == "invalid_email_or_docker_id":
        return Outcome.INVALID, _STATUS_MESSAGES[result.status], ""
    if is_seat_refusal(result.status):
        return (
            Outcome.NO_SEAT,
            seat_refusal_message(row.invitee, row.job.organisation, dry_run=dry_run),
            "",
        )
    return Outcome.OTHER, f"Docker Hub answered {result.status!r} for this row.", ""


def _counts_sentence(counts: dict[str, int], *, dry_run: bool) -> str:
    parts = [f"{n} {Outcome(k).label.lower()}" for k, n in sorted(counts.items()) if n]
    return ("dry run: " if dry_run else "") + (", ".join(parts) or "no rows")


def _target(job: BulkInvite) -> str:
    return f"{job.organisation}/{job.team}" if job.team else job.organisation


# -- reading a job's outcome ---------------------------------------------------------------------


def outcome_counts(job: BulkInvite) -> dict[str, int]:
    """Rows per outcome for the phase shown (the dry run until sent, then the results)."""
    field = "result" if job.phase == BulkInvite.Phase.SEND else "dry_run"
    counts = {
        row[field]: row["n"]
        for row in job.rows.exclude(**{field: ""}).values(field).annotate(n=Count("id"))
    }
    return {key: counts[key] for key in Outcome.values if counts.get(key)}


def outcome_summary(job: BulkInvite) -> list[tuple[str, str, int]]:
    labels = dict(Outcome.choices)
    return [(key, str(labels[key]), n) for key, n in outcome_counts(job).items()]


LINES_NAMED = 10


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:LINES_NAMED])
    return shown + (" …" if len(numbers) > LINES_NAMED else "")


def read_summary(job: BulkInvite) -> str:
    """What was read, so the counts add up to the list the admin pasted: "20 lines read:
    18 Docker IDs or emails (17 different: line 12 repeats an earlier one); 2 blank lines
    (4, 9)." The rows' own outcomes are counted beside it."""
    entries = job.rows.count()
    repeated = list(
        job.rows.filter(dry_run=Outcome.DUPLICATE).order_by("line").values_list("line", flat=True)
    )
    text = counted(entries, "Docker ID or email", "Docker IDs or emails")
    if repeated:
        text += (
            f" ({entries - len(repeated)} different: line{'s' if len(repeated) > 1 else ''} "
            f"{_lines(repeated)} repeat{'s' if len(repeated) == 1 else ''} an earlier one)"
        )
    if job.lines_read:
        text = f"{counted(job.lines_read, 'line')} read: {text}"
        blank = job.blank_lines
        if blank:
            text += f"; {counted(len(blank), 'blank line')} ({_lines(blank)})"
    return text + "."


def nothing_changed(job: BulkInvite) -> bool:
    """A confirmed job that sent no invite: the list had been run before (or was all bad)."""
    return (
        job.phase == BulkInvite.Phase.SEND
        and job.status == JobStatus.DONE
        and not job.rows.filter(result=Outcome.INVITED).exists()
    )
