"""The instructor's and TA's pages. Every view checks access on its first line through
``accounts.access``; pages read the database only and actions go through services."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import roster_parsing as roster
from accounts.access import (
    CourseAccess,
    get_course_for_staff,
    get_enrolment_for_staff,
    may_create_courses,
)
from accounts.models import Course, CourseRole, OnboardingState, User
from accounts.seats import seat_usage
from accounts.steps import StepName
from builds import moving
from builds.models import Build, BuildState
from builds.rebuild import rebuild_request
from dashboard.forms import BulkForm, CorrectionForm, CourseForm, RoleForm, RosterForm
from hubcourse import conditional
from hubcourse.csvexport import csv_response
from hubcourse.errors import ValidationError
from hubcourse.form_errors import add_domain_errors
from hubcourse.models import AuditEvent
from hubcourse.text import counted, duration
from hubcourse.uploads import upload_limits
from onboarding import board as class_board
from onboarding import courses
from onboarding.engine import plan_course
from onboarding.models import ApplyRun, ConnectionCheck, RosterImport
from onboarding.state import HANDOUT_STEPS, STAGE_OF, STAGES
from onboarding.status import badge_state, log_failed_step, log_failure_line, student_status
from onboarding.steps import handout_step_of, plan_position, step_label

EXPORT_CHUNK = 500


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


# -- courses -------------------------------------------------------------------------------------


@login_required
def course_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_create_courses(user):
        raise PermissionDenied("Only instructors and administrators can create a course.")
    form = CourseForm(request.POST or None, initial={"slug": ""}, user=user)
    if request.method == "POST" and form.is_valid():
        course = courses.course_create(actor=user, values=form.cleaned_data)
        messages.success(
            request,
            f"Course {course.name} created. Check the connection to Docker Hub and GitHub, "
            "then import the roster.",
        )
        return redirect("dashboard:settings", course.slug)
    return render(request, "dashboard/course_form.html", {"form": form, "course": None})


@login_required
def course_settings(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    course = access.course
    form = CourseForm(request.POST or None, instance=course, user=_user(request))
    if request.method == "POST" and form.is_valid():
        # The form wrote onto the instance; the service compares with the stored row.
        course.refresh_from_db()
        changed = courses.course_update(
            course=course, actor=_user(request), values=form.cleaned_data
        )
        if not changed:
            messages.success(request, "Nothing changed.")
            return redirect("dashboard:settings", course.slug)
        # A setting with an outside effect reaches the students through the plan.
        moving = {s.enrolment_id for s in plan_course(course).actionable if s.setting}
        messages.success(
            request,
            "Saved."
            + (
                f" The plan shows what this changes for {counted(len(moving), 'student')}: "
                "review it and apply it there."
                if moving
                else ""
            ),
        )
        return redirect("dashboard:settings", course.slug)
    if request.method == "POST":
        course.refresh_from_db()
    check = ConnectionCheck.objects.filter(course=course).first()
    return render(
        request,
        "dashboard/course_form.html",
        {"form": form, "course": course, "access": access, "check": check},
    )


@login_required
@require_POST
def connection_check(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    courses.connection_check_start(course=access.course, actor=_user(request))
    return redirect(reverse("dashboard:settings", args=[slug]) + "#connection")


@login_required
def connection_check_live(request: HttpRequest, slug: str, check_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    check = get_object_or_404(ConnectionCheck, course=access.course, pk=check_id)
    return render(
        request, "dashboard/partials/connection.html", {"course": access.course, "check": check}
    )


# -- the class board -----------------------------------------------------------------------------


def _board_context(request: HttpRequest, access: CourseAccess) -> dict[str, Any]:
    course = access.course
    filters = class_board.BoardFilters.from_query(request.GET)
    total, counts = class_board.state_counts(course)
    paginator = Paginator(class_board.board_queryset(course, filters), class_board.PAGE_SIZE)
    if not filters.active:
        paginator.count = total  # the whole class: already counted by state
    page = paginator.get_page(request.GET.get("page"))
    return {
        "course": course,
        "access": access,
        "filters": filters,
        "page": page,
        "rows": class_board.board_rows(course, page.object_list, recent=class_board.RECENT_BUILDS),
        "total": total,
        "counts": counts,
        "chart": class_board.board_chart(course, students=total),
        "handout_steps": [label for label, _ in HANDOUT_STEPS],
        "stages": [(s.key, s.label) for s in STAGES],
        "build_states": [*BuildState.choices, ("none", "No build yet")],
        "sorts": class_board.SORTS,
        "live_query": filters.querystring(page=page.number if page.number > 1 else ""),
    }


BOARD_PARTIAL = "dashboard/partials/board.html"
BOARD_HTML_SECONDS = 120


@lru_cache(maxsize=1)
def _board_templates_digest() -> str:
    # A deployment that changes the partial must not be served the old one's HTML.
    sources = [
        get_template(name).template.source  # type: ignore[attr-defined]
        for name in (BOARD_PARTIAL, class_board.TICKS_TEMPLATE)
    ]
    return hashlib.blake2b("\0".join(sources).encode(), digest_size=8).hexdigest()


def _board_key(context: dict[str, Any]) -> str:
    """A digest of everything the board partial shows (``class_board.board_fingerprint``):
    a change to any student, build, count or the chart, or the clock moving a "minutes ago",
    gives another. The partial shows nothing that depends on who is looking."""
    page = context["page"]
    return class_board.board_fingerprint(
        context["rows"],
        _board_templates_digest(),
        context["course"].pk,
        context["course"].slug,
        context["filters"],
        context["live_query"],
        page.number,
        page.paginator.count,
        context["total"],
        context["counts"],
        context["chart"],
    )


def _board_html(request: HttpRequest, context: dict[str, Any], digest: str | None = None) -> str:
    """The board partial, rendered once for the same data (``_board_key``).

    Staff leave the board open and it refreshes every 5 seconds; mostly nothing on the page
    has changed, and rendering 50 rows costs more than reading them.
    """
    key = "dashboard:board-html:" + (digest or _board_key(context))
    html: str | None = cache.get(key)
    if html is None:
        html = render_to_string(BOARD_PARTIAL, context, request=request)
        cache.set(key, html, BOARD_HTML_SECONDS)
    return mark_safe(html)  # noqa: S308 (our own template's output, from our own cache)


@login_required
def board(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug)
    context = _board_context(request, access)
    context["bulk_actions"] = courses.BULK_ACTIONS
    context["board_html"] = _board_html(request, context)
    return render(request, "dashboard/board.html", context)


def _board_live_etag(request: HttpRequest, access: CourseAccess) -> str:
    """The board partial's validator, without reading the board: the course's version (one
    indexed read of the change log the database's triggers keep, ``board_version``), the
    query (filters, sort, page), the templates and the minute, which moves every "3 minutes
    ago". Per user, as the other partials' are."""
    return conditional.make_etag(
        "board",
        _user(request).pk,
        class_board.board_version(access.course),
        sorted(request.GET.lists()),
        _board_templates_digest(),
        conditional.clock_bucket(),
    )


@login_required
@never_cache
@require_GET
def board_live(request: HttpRequest, slug: str) -> HttpResponse:
    """The board's live part. An unchanged refresh is a 304 that costs the access check and
    one read of the course's version, not the board's reads (see bench/README.md, B3)."""
    access = get_course_for_staff(_user(request), slug)

    def render() -> HttpResponse:
        return HttpResponse(_board_html(request, _board_context(request, access)))

    return conditional.answer(request, lambda: _board_live_etag(request, access), render)


@login_required
@require_POST
def board_bulk(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug)
    course = access.course
    filters = class_board.BoardFilters.from_query(request.POST)
    back = reverse("dashboard:board", args=[slug]) + (
        f"?{filters.querystring()}" if filters.querystring() else ""
    )
    form = BulkForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("__all__", []) or ["Choose an action."]:
            messages.error(request, str(error))
        return redirect(back)
    if form.cleaned_data["scope"] == "filtered":
        ids = list(class_board.board_queryset(course, filters).values_list("pk", flat=True))
    else:
        ids = list(
            course.enrolments.filter(pk__in=form.cleaned_data["ids"]).values_list("pk", flat=True)
        )
    action = form.cleaned_data["action"]
    if action == "rebuild":
        # The same service as the API's bulk action, asked for each student's answer.
        answers = courses.enrolments_rebuild(course=course, actor=_user(request), enrolment_ids=ids)
        started = sum(1 for a in answers if a.accepted)
        text = f"Rebuilding the latest commit of {counted(started, 'student')}."
        refused = len(answers) - started
        if refused:
            reasons = sorted({a.message for a in answers if not a.accepted})
            text += f" Not for {counted(refused, 'student')}: " + " ".join(reasons)
        (messages.success if started else messages.error)(request, text)
        return redirect(back)
    n = courses.enrolments_act(
        course=course, actor=_user(request), action=action, enrolment_ids=ids
    )
    if action == "retry":
        messages.success(
            request,
            f"Retrying {counted(n, 'student')} with a failed step."
            if n
            else "None of these students has a failed step; their remaining steps were queued.",
        )
    elif action == "invite":
        messages.success(
            request,
            f"Re-sending the invitation to {counted(n, 'student')}."
            if n
            else "None of these students is waiting for an invitation.",
        )
    else:
        messages.success(request, f"Pre-flight checks queued for {counted(n, 'student')}.")
    return redirect(back)


@login_required
def board_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    access = get_course_for_staff(_user(request), slug)
    course = access.course
    filters = class_board.BoardFilters.from_query(request.GET)
    steps = [label for label, _ in HANDOUT_STEPS]
    # The board's words, not the stored names: the stage ("On step 3: …", "Needs
    # attention", "All five steps done"), the step that failed by its label, durations "2 s".
    header = [
        "Identifier",
        "Name",
        "Email",
        "Docker ID",
        "GitHub repository",
        "Where",
        *steps,
        "Now",
        "Failed step",
        "Latest build",
        "Latest build started",
        "Latest build took",
        "Latest build commit",
    ]

    def rows() -> Iterator[list[object]]:
        queryset = class_board.board_queryset(course, filters)
        # Keyset-free chunking by position: a constant number of queries per 500 students.
        for start in range(0, queryset.count(), EXPORT_CHUNK):
            for row in class_board.board_rows(course, queryset[start : start + EXPORT_CHUNK]):
                e, build = row.enrolment, row.latest_build
                yield [
                    e.identifier,
                    e.name,
                    e.email,
                    e.docker_id,
                    e.github_repo,
                    STAGE_OF[OnboardingState(e.state)].label,
                    *("yes" if tick.done else "no" for tick in row.ticks),
                    row.summary,
                    step_label(e.error_step) if e.error_step else "",
                    row.build_label,
                    build.created_at.isoformat(timespec="seconds") if build else "",
                    duration(build.duration) if build else "",
                    build.commit_sha if build else "",
                ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(f"{course.slug}-students-{stamp}.csv", header, rows())


# -- roster import -------------------------------------------------------------------------------


@upload_limits(roster.LIMITS)
@login_required
def roster_upload(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    course = access.course
    form = RosterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        data: bytes | str
        if upload is not None:
            data, source = upload.read(roster.MAX_BYTES + 1), upload.name or "uploaded file"
        else:
            data, source = form.cleaned_data["text"], "pasted text"
        try:
            preview = courses.roster_preview(
                course=course,
                actor=_user(request),
                data=data,
                source=source,
                classroom_repo_template=form.cleaned_data["classroom_repo_template"],
            )
        except roster.RosterError as error:
            form.add_error("file" if upload is not None else "text", str(error))
        else:
            return redirect("dashboard:roster_preview", slug, preview.pk)
    recent = RosterImport.objects.filter(course=course).select_related("created_by")[:5]
    return render(
        request,
        "dashboard/roster_upload.html",
        {"course": course, "access": access, "form": form, "recent": recent},
    )


def _preview_context(preview: RosterImport, request: HttpRequest) -> dict[str, Any]:
    preview = courses.roster_settle_overdue(preview)
    rows = [roster.Row.from_dict(data) for data in preview.rows]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    shown = request.GET.get("show", "")
    visible = [row for row in rows if not shown or row.status == shown]
    page = Paginator(visible, 100).get_page(request.GET.get("page"))
    return {
        "preview": preview,
        "format_label": roster.FORMAT_LABELS.get(roster.Format(preview.format), preview.format),
        "legend": [
            (status.value, *roster.STATUS_TEXT[status], counts.get(status.value, 0))
            for status in roster.Status
            if counts.get(status.value)
        ],
        "page": page,
        "shown": shown,
        "status_text": {s.value: text for s, (text, _) in roster.STATUS_TEXT.items()},
        "action_text": {a.value: text for a, text in roster.ACTION_TEXT.items()},
        "saving": sum(1 for row in rows if row.imported),
        "changed_rows": sum(1 for row in rows if row.imported and row.changes),
        "warned_rows": sum(1 for row in rows if row.imported and row.all_warnings),
        "not_checked": sum(1 for row in rows if row.check == roster.Check.NOT_CHECKED),
        **_seats_context(
            preview.course.organisation,
            # New students with a Docker ID: each is invited when the plan is applied.
            invitations=sum(
                1
                for row in rows
                if row.imported
                and row.action == roster.Action.NEW
                and row.docker_id
                and not row.docker_id_unknown
            ),
        ),
    }


def _seats_context(organisation: str, *, invitations: int) -> dict[str, Any]:
    """The organisation's seats, and before sending, how many invitations would not fit."""
    usage = seat_usage(organisation)
    return {"seats": usage, "seats_warning": usage.warning(invitations)}


@login_required
def roster_preview(request: HttpRequest, slug: str, import_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    preview = get_object_or_404(RosterImport, course=access.course, pk=import_id)
    context = _preview_context(preview, request)
    context.update(course=access.course, access=access)
    return render(request, "dashboard/roster_preview.html", context)


@login_required
def roster_preview_live(request: HttpRequest, slug: str, import_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    preview = get_object_or_404(RosterImport, course=access.course, pk=import_id)
    context = _preview_context(preview, request)
    context.update(course=access.course, access=access)
    return render(request, "dashboard/partials/roster_preview.html", context)


@login_required
@require_POST
def roster_confirm(request: HttpRequest, slug: str, import_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    preview = get_object_or_404(RosterImport, course=access.course, pk=import_id)
    action = request.POST.get("action")
    if action == "discard":
        courses.roster_discard(preview=preview)
        messages.info(request, "The import was discarded; nothing was saved.")
        return redirect("dashboard:roster", slug)
    if action == "stop_checks":
        courses.roster_checks_finish(
            preview=preview, why=f"the checks were stopped by {_user(request).email}"
        )
        messages.info(request, "The checks were stopped; the rows not checked can be imported.")
        return redirect("dashboard:roster_preview", slug, import_id)
    # "import" saves the roster only; "confirm" (the default) saves it and applies the plan.
    apply = action != "import"
    try:
        result = courses.roster_confirm(preview=preview, actor=_user(request), apply=apply)
    except courses.ActionRefused as error:
        messages.error(request, str(error))
        return redirect("dashboard:roster_preview", slug, import_id)
    imported = (
        f"Imported: {result.created} added, {result.updated} updated, {result.skipped} skipped."
    )
    if result.apply is not None:
        messages.success(request, imported)
        return redirect(reverse("dashboard:plan", args=[slug]) + f"?run={result.apply.pk}")
    if not apply and (result.created or result.updated):
        messages.success(
            request, f"{imported} Nothing was applied yet: review the plan, then apply it."
        )
        return redirect("dashboard:plan", slug)
    messages.success(request, imported)
    return redirect("dashboard:board", slug)


# -- plan and apply ------------------------------------------------------------------------------


QUIET_SHOWN = 100


@login_required
def plan(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=request.method == "POST")
    course = access.course
    if request.method == "POST":
        move = request.POST.get("move", "")
        if move:
            return _start_move(request, course, move)
        run = courses.course_apply(course=course, actor=_user(request))
        if run.total:
            messages.success(
                request,
                f"Applying {counted(run.total, 'step')} for {counted(run.students, 'student')}.",
            )
        else:
            messages.info(request, "Nothing to apply: the course is as it should be.")
        return redirect(reverse("dashboard:plan", args=[slug]) + f"?run={run.pk}")

    run_id = request.GET.get("run", "")
    shown: ApplyRun | None = (
        ApplyRun.objects.filter(course=course).filter(pk=int(run_id)).first()
        if run_id.isdigit()
        else ApplyRun.objects.filter(course=course).filter(finished_at__isnull=True).first()
    )
    return render(request, "dashboard/plan.html", _plan_context(access, shown))


# The canary the plan page offers when a course starts moving to another build backend.
MOVE_FIRST_DEFAULT = 5


def _start_move(request: HttpRequest, course: Course, move: str) -> HttpResponse:
    """The plan page's move buttons: a few students first (``first``, with ``count``), or
    every one not moved yet (``rest``); then the plan is applied, as its own button does."""
    count: int | None = None
    if move == "first":
        raw = request.POST.get("count", "").strip()
        count = int(raw) if raw.isdigit() else 0
    try:
        run = courses.course_move(course=course, actor=_user(request), count=count)
    except ValidationError as error:
        messages.error(request, str(error))
        return redirect("dashboard:plan", course.slug)
    messages.success(
        request,
        f"Moving {'the first students' if count is not None else 'the rest'}: "
        f"applying {counted(run.total, 'step')} for {counted(run.students, 'student')}.",
    )
    return redirect(reverse("dashboard:plan", args=[course.slug]) + f"?run={run.pk}")


def _plan_context(access: CourseAccess, run: ApplyRun | None) -> dict[str, Any]:
    """The plan page's body: a fresh plan (and the run being applied, if one is shown).

    The page and its live part render the same body, so while an apply runs the list shrinks
    as steps are done and, once it is finished, what is left is the new plan: never the list
    the apply started from.
    """
    course = access.course
    current = plan_course(course)
    groups: dict[str, list[Any]] = {}
    for step in current.steps:
        groups.setdefault(step.step, []).append(step)
    grouped = []
    for name in sorted(groups, key=plan_position):
        labelled = [
            (s, current.labels.get(s.enrolment_id, "") if s.enrolment_id else "")
            for s in groups[name]
        ]
        quiet = [item for item in labelled if not item[0].actionable]
        grouped.append(
            {
                "step": name,
                "label": step_label(name),
                "count": len(labelled),
                "actionable": [item for item in labelled if item[0].actionable],
                # Long lists of "nothing to do" help nobody: the first ones, and a count.
                "quiet": quiet[:QUIET_SHOWN],
                "quiet_more": max(len(quiet) - QUIET_SHOWN, 0),
                "quiet_count": len(quiet),
            }
        )
    waiting_students: list[dict[str, Any]] = []
    stopped: list[dict[str, Any]] = []
    move = moving.move_overview(course)
    for s in current.waiting:
        label = current.labels.get(s.enrolment_id, "") if s.enrolment_id else ""
        if s.enrolment_id in move.not_started:
            continue  # the move section below offers to start them
        if s.waits_on == "student":
            number = handout_step_of(s.step)
            title = HANDOUT_STEPS[number - 1][0] if number else ""
            waiting_students.append({"step": s, "label": label, "number": number, "title": title})
        else:
            stopped.append({"step": s, "label": label, "step_label": step_label(s.step)})
    progress = courses.apply_run_progress(course, run, plan=current) if run else None
    return {
        "course": course,
        "access": access,
        "groups": grouped,
        "labels": current.labels,
        "actionable": len(current.actionable),
        "waiting_students": waiting_students[:QUIET_SHOWN],
        "waiting_students_count": len(
            {s.enrolment_id for s in current.waiting if s.waits_on == "student"}
        ),
        "waiting_more": max(len(waiting_students) - QUIET_SHOWN, 0),
        "stopped": stopped[:QUIET_SHOWN],
        "stopped_count": len(stopped),
        "move": move if move.any else None,
        "move_first": min(MOVE_FIRST_DEFAULT, len(move.not_started)) or 1,
        "move_rest": len(move.not_started) + len(move.kept),
        "move_rows": _move_rows(current, move),
        "settled": current.settled,
        "progress": progress,
        **_seats_context(
            course.organisation,
            invitations=sum(
                1 for s in current.actionable if s.step == StepName.INVITE and s.kind != "adopt"
            ),
        ),
        # While an apply runs, its work is not offered again (the list follows it live).
        "applying": progress is not None and not progress["finished"],
    }


def _move_rows(current: Any, move: moving.MoveOverview) -> list[tuple[Any, str]]:
    """Per student in the move, where it is (the plan's build row), first ones only."""
    if not move.any:
        return []
    rows = [
        (s, current.labels.get(s.enrolment_id, ""))
        for s in current.steps
        if s.step == StepName.CONFIGURE_BUILD and s.setting == "build"
    ]
    return rows[:QUIET_SHOWN]


@login_required
def plan_progress_live(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug)
    run = get_object_or_404(ApplyRun, course=access.course, pk=run_id)
    return render(request, "dashboard/partials/plan_body.html", _plan_context(access, run))


# -- one student ---------------------------------------------------------------------------------


@login_required
def student_detail(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id)
    course = access.course
    enrolment.course = course
    form = CorrectionForm(
        initial={"docker_id": enrolment.docker_id, "github_repo": enrolment.github_repo}
    )
    return _detail(request, access, enrolment, form)


@dataclass(frozen=True)
class BuildRow:
    """A build on the student's page, with a failed build's first error line to show
    before its log (the runner's boilerplate comes first in the log itself)."""

    build: Build
    failure_line: str
    failed_step: str


def _detail(
    request: HttpRequest,
    access: CourseAccess,
    enrolment: Any,
    form: CorrectionForm,
    status: int = 200,
) -> HttpResponse:
    course = access.course
    builds = Paginator(
        Build.objects.filter(enrolment=enrolment).order_by("-created_at", "-pk"),
        class_board.BUILDS_PAGE_SIZE,
    ).get_page(request.GET.get("builds"))
    events = Paginator(
        class_board.audit_events(course, enrolment=enrolment), class_board.AUDIT_PAGE_SIZE
    ).get_page(request.GET.get("events"))
    row = class_board.board_rows(
        course,
        class_board.board_queryset(course, class_board.BoardFilters()).filter(pk=enrolment.pk),
    )[0]
    # The row's copy has the repository joined: the timeline reads it without a query.
    enrolment.repository = getattr(row.enrolment, "repository", None)
    build_rows = [
        BuildRow(
            b,
            log_failure_line(b.log_excerpt) if b.state == BuildState.FAILED else "",
            log_failed_step(b.log_excerpt) if b.state == BuildState.FAILED else "",
        )
        for b in builds.object_list
    ]
    return render(
        request,
        "dashboard/student.html",
        {
            "course": course,
            "access": access,
            "enrolment": enrolment,
            "row": row,
            "timeline": class_board.timeline(enrolment),
            "builds": builds,
            "build_rows": build_rows,
            "events": events,
            "form": form,
            "step_label": step_label(enrolment.error_step),
        },
        status=status,
    )


@login_required
@require_POST
def student_correct(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id, manage=True)
    enrolment.course = access.course
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            changed = courses.enrolment_correct(
                enrolment=enrolment,
                actor=_user(request),
                docker_id=form.cleaned_data["docker_id"],
                github_repo=form.cleaned_data["github_repo"],
                reason=form.cleaned_data["reason"],
            )
        except courses.ActionRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"Corrected the {' and the '.join(changed)}; the student's steps run again."
                if changed
                else "Nothing changed.",
            )
            return redirect("dashboard:student", slug, enrolment_id)
    return _detail(request, access, enrolment, form, status=400)


@login_required
@require_POST
def student_retry(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id)
    n = courses.enrolments_retry(
        course=access.course, actor=_user(request), enrolment_ids=[enrolment.pk]
    )
    messages.success(
        request, "Retrying the failed step." if n else "Nothing had failed; remaining steps queued."
    )
    return redirect("dashboard:student", slug, enrolment_id)


@login_required
@require_POST
def student_rebuild(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    _access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id)
    answer = rebuild_request(enrolment=enrolment, actor=_user(request))
    (messages.success if answer.accepted else messages.error)(request, answer.message)
    return redirect(reverse("dashboard:student", args=[slug, enrolment_id]) + "#builds-title")


@login_required
def student_as_student(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    """The student's own status page, read-only: the same template, without its buttons."""
    access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id)
    enrolment.course = access.course
    return render(
        request,
        "student/status.html",
        {
            "enrolment": enrolment,
            "view": student_status(enrolment),
            "preview": True,
            # The badge's address is the student's to share: the preview shows no image.
            "badge_token": "",
            "badge_state": badge_state(enrolment.pk),
        },
    )


# -- roles and audit -----------------------------------------------------------------------------


@login_required
def roles(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=request.method == "POST")
    course = access.course
    form = RoleForm(request.POST or None)
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                remove = request.POST["remove"]
                if not remove.isdigit():
                    raise Http404("No such role.")
                courses.role_revoke(course=course, actor=_user(request), role_id=int(remove))
                messages.success(request, "Removed.")
                return redirect("dashboard:roles", slug)
            granted = None
            if form.is_valid():
                try:
                    granted = courses.role_grant(
                        course=course,
                        actor=_user(request),
                        email=form.cleaned_data["email"],
                        role=form.cleaned_data["role"],
                    )
                except ValidationError as error:
                    add_domain_errors(form, error)
            if isinstance(granted, CourseRole):
                messages.success(
                    request, f"{granted.user.email} is now {granted.get_role_display().lower()}."
                )
            elif granted is not None:
                messages.success(
                    request,
                    f"Invitation sent to {granted.email}. The role is theirs once they open the "
                    "link signed in with that address, verified "
                    f"(until {granted.expires_at:%Y-%m-%d}).",
                )
                return redirect("dashboard:roles", slug)
        except courses.ActionRefused as error:
            messages.error(request, str(error))
    staff = course.roles.select_related("user").order_by("role", "user__email")
    invitations = [
        i for i in course.role_invitations.filter(accepted_at__isnull=True) if i.is_pending
    ]
    return render(
        request,
        "dashboard/roles.html",
        {
            "course": course,
            "access": access,
            "staff": staff,
            "form": form,
            "invitations": invitations,
        },
    )


def _audit_filters(request: HttpRequest) -> dict[str, str]:
    outcome = request.GET.get("outcome", "")
    return {
        "service": request.GET.get("service", "")[:20],
        "outcome": outcome if outcome in AuditEvent.Outcome.values else "",
        "q": request.GET.get("q", "").strip()[:100],
    }


@login_required
def audit(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug)
    course = access.course
    filters = _audit_filters(request)
    events = Paginator(
        class_board.audit_events(
            course, service=filters["service"], outcome=filters["outcome"], q=filters["q"]
        ),
        class_board.AUDIT_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "dashboard/audit.html",
        {
            "course": course,
            "access": access,
            "events": events,
            "filters": filters,
            "services": class_board.audit_services(course),
            "outcomes": AuditEvent.Outcome.choices,
            "query": query,
        },
    )


@login_required
def audit_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    access = get_course_for_staff(_user(request), slug)
    course = access.course
    filters = _audit_filters(request)
    events = class_board.audit_events(
        course, service=filters["service"], outcome=filters["outcome"], q=filters["q"]
    )

    def rows() -> Iterator[list[object]]:
        for event in events.iterator(chunk_size=EXPORT_CHUNK):
            yield [
                event.created_at.isoformat(),
                event.actor.email if event.actor else "hubcourse",
                event.service,
                event.action,
                event.target,
                event.enrolment.identifier if event.enrolment else "",
                event.get_outcome_display(),
                event.message,
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(
        f"{course.slug}-audit-{stamp}.csv",
        ["when", "who", "service", "action", "target", "student", "outcome", "message"],
        rows(),
    )
