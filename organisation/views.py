"""Pages of the organisation admin: bulk add, members and invites, offboarding a course.

Every view checks access on its first line through ``accounts.access``. Pages read the
database only; actions create a job and enqueue it after the commit.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import bulk_invites, membership, organisation_selectors, organisations, seats
from accounts.access import get_course_for_staff, require_site_admin
from accounts.models import BulkInvite, OrgInvite, Outcome, User
from accounts.roster_parsing import INVITE_LIMITS
from builds import retiring
from hubcourse.csvexport import csv_response
from hubcourse.errors import ValidationError
from hubcourse.form_errors import add_domain_errors
from hubcourse.models import JobStatus
from hubcourse.text import counted
from hubcourse.uploads import upload_limits
from onboarding import offboarding
from onboarding.models import Offboarding
from organisation.forms import BulkInviteForm, InviteActionForm, OffboardingForm

ROWS_PER_PAGE = 100


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


# -- bulk add ----------------------------------------------------------------------------------


@upload_limits(INVITE_LIMITS)
@login_required
def bulk_new(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    organisation = bulk_invites.default_organisation()
    if request.method == "GET":
        # The teams offered are those of the last read: a page view asks Docker Hub
        # nothing itself, and only queues a read when the last one is old or missing.
        with transaction.atomic():
            membership.sync_if_stale(organisation=organisation, actor=_user(request))
    teams = organisation_selectors.known_teams(organisation)
    form = BulkInviteForm(request.POST or None, request.FILES or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("csv_file")
        job = bulk_invites.bulk_invite_start(
            rows=form.rows,
            organisation=organisation,
            team=form.cleaned_data["team"],
            role=form.cleaned_data["role"],
            source=BulkInvite.Source.CSV if upload else BulkInvite.Source.PASTE,
            filename=upload.name if upload else "",
            actor=_user(request),
        )
        return redirect("organisation:bulk_detail", job_id=job.pk)
    return render(
        request,
        "organisation/bulk_new.html",
        {
            "form": form,
            "organisation": organisation,
            "teams": teams,
            "snapshot": organisation_selectors.snapshot(organisation),
            "recent": organisation_selectors.recent_bulk_invites(),
            "seats": seats.seat_usage(organisation),
        },
    )


def _bulk_job(request: HttpRequest, job_id: int) -> BulkInvite:
    require_site_admin(_user(request))
    job = BulkInvite.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404("No such bulk invite.")
    return job


def _bulk_context(job: BulkInvite) -> dict[str, object]:
    counts = bulk_invites.outcome_counts(job)
    usage = seats.seat_usage(job.organisation)
    return {
        "counts": counts,
        "summary": bulk_invites.outcome_summary(job),
        "nothing_changed": bulk_invites.nothing_changed(job),
        "seats": usage,
        # Before sending: how many invitations would not fit.
        "seats_warning": _bulk_seats_warning(job, counts, usage)
        if job.awaiting_confirmation
        else "",
    }


def _bulk_seats_warning(job: BulkInvite, counts: dict[str, int], usage: seats.SeatUsage) -> str:
    """The invitations that would not fit: those Docker Hub's dry run refused for lack of
    seats, or else those beyond the free seats as last read."""
    refused = counts.get(Outcome.NO_SEAT, 0)
    if refused:
        wanted = refused + counts.get(Outcome.INVITE, 0)
        return (
            f"{counted(refused, 'invitation')} of {wanted} would not fit: Docker Hub's dry run "
            f"found no free seat in {job.organisation} for them (listed as “No free seat”). "
            "They are not sent; free seats (offboard a finished course, cancel old invitations) "
            "or add seats to the plan, then run the list again."
        )
    return usage.warning(counts.get(Outcome.INVITE, 0))


@login_required
@require_GET
def bulk_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _bulk_job(request, job_id)
    show = request.GET.get("show", "")
    rows = job.rows.order_by("line", "position")
    field = "result" if job.phase == BulkInvite.Phase.SEND else "dry_run"
    if show in Outcome.values:
        rows = rows.filter(**{field: show})
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "organisation/bulk_detail.html",
        {
            "job": job,
            "page": page,
            "show": show,
            "outcomes": Outcome.choices,
            "read": bulk_invites.read_summary(job),
            **_bulk_context(job),
        },
    )


@login_required
@require_GET
def bulk_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _bulk_job(request, job_id)
    return render(
        request,
        "organisation/partials/bulk_progress.html",
        {"job": job, **_bulk_context(job)},
    )


@login_required
@require_POST
def bulk_send(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _bulk_job(request, job_id)
    confirmed = bulk_invites.bulk_invite_send(job_id=job.pk, actor=_user(request))
    if confirmed is None:
        messages.error(request, "This list has been sent already, or its dry run has not finished.")
    elif confirmed.status == JobStatus.DONE:
        messages.info(
            request,
            "Nothing to send: every row was already invited, already a member, or not "
            "valid. Nothing was changed on Docker Hub.",
        )
    else:
        messages.success(
            request,
            f"Sending {counted(confirmed.total, 'invite')} in the background. You can leave this "
            "page; the progress is kept.",
        )
    return redirect("organisation:bulk_detail", job_id=job.pk)


@login_required
@require_POST
def bulk_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _bulk_job(request, job_id)
    with transaction.atomic():
        if bulk_invites.bulk_invite_resume(job_id=job.pk, actor=_user(request)):
            messages.success(request, "Resumed: the rows already answered are not sent again.")
        else:
            messages.error(request, "Only a job stopped by an error can be resumed.")
    return redirect("organisation:bulk_detail", job_id=job.pk)


@login_required
@require_GET
def bulk_results_csv(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    job = _bulk_job(request, job_id)
    labels = dict(Outcome.choices)
    rows = (
        [
            r.line,
            r.raw,
            r.invitee,
            labels.get(r.dry_run, ""),
            labels.get(r.result, ""),
            r.message,
            r.invite_id,
        ]
        for r in job.rows.order_by("line", "position").iterator()
    )
    return csv_response(
        f"bulk-invite-{job.pk}-{job.organisation}.csv",
        ["row", "as entered", "invitee", "dry run", "result", "message", "invite id"],
        rows,
    )


# -- members and invites -------------------------------------------------------------------------


@login_required
def members_page(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    organisation = bulk_invites.default_organisation()
    if request.method == "POST":
        with transaction.atomic():
            membership.sync_requested(organisation=organisation, actor=_user(request))
        # No message: the read's own status line says "Reading…" and ends with the read.
        return redirect("organisation:members")
    flag = request.GET.get("flag", "")
    member_rows = organisation_selectors.members_with_enrolment(
        organisation, unenrolled_only=flag == "unenrolled"
    )
    invite_rows = organisation_selectors.invites(organisation)
    members = Paginator(member_rows, ROWS_PER_PAGE).get_page(request.GET.get("mpage"))
    courses = organisation_selectors.active_courses_of(m.username for m in members)
    for member in members:
        member.courses = courses.get(member.username.lower(), [])  # type: ignore[attr-defined]
    return render(
        request,
        "organisation/members.html",
        {
            "organisation": organisation,
            "snapshot": organisation_selectors.snapshot(organisation),
            "members": members,
            "invites": Paginator(invite_rows, ROWS_PER_PAGE).get_page(request.GET.get("ipage")),
            "flag": flag,
            "seats": seats.seat_usage(organisation),
            "unenrolled": organisation_selectors.members_with_enrolment(
                organisation, unenrolled_only=True
            ).count(),
            "now": timezone.now(),
        },
    )


@login_required
@require_GET
def members_status(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    organisation = bulk_invites.default_organisation()
    return render(
        request,
        "organisation/partials/sync_status.html",
        {"snapshot": organisation_selectors.snapshot(organisation), "reload": True},
    )


@login_required
@require_POST
def invites_action(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    organisation = bulk_invites.default_organisation()
    ids = list(
        OrgInvite.objects.filter(organisation=organisation).values_list("invite_id", flat=True)
    )
    form = InviteActionForm(request.POST, invite_ids=ids)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("organisation:members")
    action = form.cleaned_data["action"]
    with transaction.atomic():
        count = membership.invites_requested(
            organisation=organisation,
            action=action,
            invite_ids=form.cleaned_data["invite"],
            actor=_user(request),
        )
    verb = "Resending" if action == membership.RESEND else "Cancelling"
    messages.success(
        request,
        f"{verb} {counted(count, 'invite')}; the list refreshes when Docker Hub has answered.",
    )
    return redirect("organisation:members")


# -- offboarding ---------------------------------------------------------------------------------


@login_required
def offboard(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    course = access.course
    current = Offboarding.objects.filter(course=course).exclude(status=JobStatus.DONE).first()
    if current is not None:
        return redirect("organisation:offboarding_detail", slug=slug, job_id=current.pk)
    form = OffboardingForm(request.POST or None, course_name=course.name)
    if request.method == "POST" and form.is_valid():
        try:
            job = offboarding.offboarding_start(
                course=course,
                repository_action=form.cleaned_data["repository_action"],
                confirmation=form.cleaned_data["confirmation"],
                actor=_user(request),
            )
        except ValidationError as error:
            add_domain_errors(form, error)
        except offboarding.ConfirmationError as error:
            form.add_error(None, str(error))
        else:
            return redirect("organisation:offboarding_detail", slug=slug, job_id=job.pk)
    return render(
        request,
        "organisation/offboard.html",
        {
            "course": course,
            "preview": offboarding.offboarding_preview(course),
            "form": form,
            "past": Offboarding.objects.filter(course=course).order_by("-created_at")[:5],
        },
    )


def _offboarding(request: HttpRequest, slug: str, job_id: int) -> Offboarding:
    access = get_course_for_staff(_user(request), slug, manage=True)
    job = (
        Offboarding.objects.filter(course=access.course, pk=job_id).select_related("course").first()
    )
    if job is None:
        raise Http404("No such offboarding.")
    return job


@login_required
@require_GET
def offboarding_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    job = _offboarding(request, slug, job_id)
    items = job.items.order_by("identifier")
    page = Paginator(items, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "organisation/offboarding_detail.html",
        {
            "job": job,
            "course": job.course,
            "page": page,
            "report": offboarding.offboarding_report(job),
        },
    )


@login_required
@require_GET
def offboarding_progress(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    job = _offboarding(request, slug, job_id)
    return render(
        request,
        "organisation/partials/offboarding_progress.html",
        {"job": job, "course": job.course, "report": offboarding.offboarding_report(job)},
    )


@login_required
@require_POST
def offboarding_resume(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    job = _offboarding(request, slug, job_id)
    with transaction.atomic():
        if offboarding.offboarding_resume(job_id=job.pk, actor=_user(request)):
            messages.success(request, "Resumed: steps already done are not repeated.")
        else:
            messages.error(request, "Only an offboarding stopped by an error can be resumed.")
    return redirect("organisation:offboarding_detail", slug=slug, job_id=job.pk)


@login_required
@require_GET
def offboarding_snapshot_csv(request: HttpRequest, slug: str, job_id: int) -> StreamingHttpResponse:
    job = _offboarding(request, slug, job_id)
    rows = (
        [
            i.identifier,
            i.name,
            i.docker_id,
            i.repository,
            i.image_tag,
            i.image_digest,
            i.image_pushed_at.isoformat() if i.image_pushed_at else "",
            i.commit_sha,
            i.build_state,
            i.build_finished_at.isoformat() if i.build_finished_at else "",
            "kept: " + i.keep_in_organisation
            if i.keep_in_organisation
            else ("removed" if i.organisation_at else "not yet"),
            "; ".join(i.notes),
        ]
        for i in offboarding.snapshot_rows(job)
    )
    return csv_response(
        f"offboarding-{job.course.slug}-{job.pk}.csv",
        [
            "identifier",
            "name",
            "docker id",
            "repository",
            "tag",
            "image digest",
            "image pushed at",
            "commit",
            "build state",
            "build finished at",
            "organisation",
            "notes",
        ],
        rows,
    )


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    organisation = bulk_invites.default_organisation()
    return render(
        request,
        "organisation/index.html",
        {
            "organisation": organisation,
            "snapshot": organisation_selectors.snapshot(organisation),
            "recent": organisation_selectors.recent_bulk_invites(5),
            "courses": organisation_selectors.courses_for_offboarding(),
            "shared_teams": organisation_selectors.shared_course_teams(),
            "retiring": retiring.courses_to_move(),
            "registered": [
                (seats.seat_usage(org.name), org.instructors.count())
                for org in organisations.organisations_for(_user(request))
            ],
        },
    )
