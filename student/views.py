"""The student's pages: join with the course link, link accounts, follow every build.

Every page about an enrolment starts with ``get_enrolment_for_student``: anything that is
not the signed-in student's own answers 404. The badge is the one public URL, found only by
its unguessable token.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import get_enrolment_for_student
from accounts.models import JoinLink, User
from builds.badges import render_badge
from builds.models import Build, BuildState, StudentBadge
from builds.rebuild import rebuild_request
from hubcourse import conditional
from hubcourse.clientip import client_ip
from hubcourse.conditional import clock_bucket
from onboarding import github_access, joining
from onboarding import status as student_progress
from onboarding.joining import JoinResult
from student.forms import DOCKER_SIGNUP_URL, JoinForm, LinkForm

BUILDS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


# -- joining -------------------------------------------------------------------------------------


@never_cache
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The course link: sign in, then be matched to the roster (or refused, or wait)."""
    link = JoinLink.objects.select_related("course").filter(token=token).first()
    if link is None or not link.enabled or not link.course.is_active:
        # Same answer for a wrong, retired or switched-off link: nothing to learn from it.
        return render(request, "student/join_unavailable.html", status=404)
    course = link.course
    context: dict[str, object] = {"course": course, "link": link, "join_url": request.path}
    if not request.user.is_authenticated:
        return render(request, "student/join.html", context)
    user = _user(request)
    form = JoinForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "student/join.html", {**context, "form": form})
        address = client_ip(request)
        if form.cleaned_data["identifier"].strip() and not joining.join_attempt_allowed(
            user, course, address
        ):
            form.add_error(
                "identifier",
                "Too many tries: wait a quarter of an hour, or ask your instructor to link you.",
            )
            return render(request, "student/join.html", {**context, "form": form}, status=429)
        outcome = joining.join_course(
            user=user, link=link, identifier=form.cleaned_data["identifier"], address=address
        )
    else:
        outcome = joining.join_course(user=user, link=link, may_ask=False)
    if outcome.result in (JoinResult.LINKED, JoinResult.ALREADY) and outcome.enrolment:
        if outcome.result is JoinResult.LINKED:
            messages.success(
                request,
                f"Welcome to {course.name}. You are on the roster as "
                f"{outcome.enrolment.identifier}.",
            )
        return redirect("student:status", outcome.enrolment.pk)
    pending = joining.pending_request(user, course)
    return render(
        request,
        "student/join.html",
        {
            **context,
            "form": form if request.method == "POST" else JoinForm(),
            "outcome": outcome,
            "pending": pending,
            "refusal": None if pending else joining.last_refusal(user, course),
        },
    )


# -- the status page -----------------------------------------------------------------------------


@login_required
@never_cache
def status(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    view = student_progress.student_status(enrolment)
    badge = joining.badge_for(enrolment)
    badge_url = joining.public_url(reverse("student:badge", args=[badge.token]))
    # The badge links to the image on Docker Hub (public to the class), never to this page.
    target = student_progress.planned_image_url(enrolment, view.repository)
    snippet = (
        f"[![Docker build]({badge_url})]({target})" if target else f"![Docker build]({badge_url})"
    )
    return render(
        request,
        "student/status.html",
        {
            "enrolment": enrolment,
            "view": view,
            "badge_markdown": snippet,
            "badge_token": badge.token,
            "badge_state": student_progress.badge_state(enrolment.pk),
            "github": github_access.access_panel(enrolment),
        },
    )


@login_required
@never_cache
@require_GET
def status_live(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    """The live part of the status page, polled every few seconds: a refresh where nothing
    changed is a 304 from the access check and one digest query (hubcourse.conditional)."""
    user = _user(request)
    enrolment = get_enrolment_for_student(user, enrolment_id)

    def etag() -> str | None:
        rows = student_progress.status_fingerprint(enrolment)
        if rows is None:
            return None
        return conditional.make_etag(
            "status",
            user.pk,
            enrolment.pk,
            rows,
            _status_template_digest(),
            clock_bucket(),
            # The forms' CSRF token comes from this secret: a new one must reach the page.
            request.META.get("CSRF_COOKIE", ""),
        )

    def full() -> HttpResponse:
        return render(
            request,
            STATUS_PARTIAL,
            {
                "enrolment": enrolment,
                "view": student_progress.student_status(enrolment),
                "badge_token": joining.badge_for(enrolment).token,
                "badge_state": student_progress.badge_state(enrolment.pk),
                "github": github_access.access_panel(enrolment),
            },
        )

    return conditional.answer(request, etag, full)


STATUS_PARTIAL = "student/partials/status_live.html"
STATUS_INCLUDES = ("student/partials/github_access.html", "student/partials/build_table.html")


@lru_cache(maxsize=1)
def _status_template_digest() -> str:
    # A deployment that changes the partial must not answer 304 to the old one's HTML.
    sources = [
        get_template(name).template.source  # type: ignore[attr-defined]
        for name in (STATUS_PARTIAL, *STATUS_INCLUDES)
    ]
    return hashlib.blake2b("\0".join(sources).encode(), digest_size=8).hexdigest()


@login_required
@require_POST
def check_again(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    joining.enrolment_check_again(enrolment=enrolment, actor=_user(request))
    messages.info(request, "Checking your Docker ID and repository again: results appear below.")
    return redirect("student:status", enrolment.pk)


@login_required
@require_POST
def rebuild(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    answer = rebuild_request(enrolment=enrolment, actor=_user(request))
    (messages.success if answer.accepted else messages.error)(request, answer.message)
    return redirect(reverse("student:status", args=[enrolment.pk]) + "#builds-title")


# -- linking -------------------------------------------------------------------------------------


@login_required
@never_cache
def link(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    user = _user(request)
    enrolment = get_enrolment_for_student(user, enrolment_id)
    course = enrolment.course
    own = joining.own_repositories(user, refresh=bool(request.GET.get("refresh")))
    initial_repo = enrolment.github_repo
    form = LinkForm(
        request.POST or None,
        enrolment=enrolment,
        own_repositories=own.names,
        docker_id_exists=lambda docker_id: joining.docker_id_exists(course, docker_id),
        docker_id_locked=joining.docker_id_is_locked(enrolment),
        initial={
            "docker_id": enrolment.docker_id,
            "github_repo_choice": initial_repo if initial_repo in own.names else "",
            "github_repo": "" if initial_repo in own.names else initial_repo,
        },
    )
    if request.method == "POST" and form.is_valid():
        joining.enrolment_link(
            enrolment=enrolment,
            actor=user,
            docker_id=form.cleaned_data["docker_id"],
            github_repo=form.cleaned_data["repository"],
        )
        messages.success(
            request,
            "Saved. hubcourse is checking your Docker ID and repository now; the results "
            "appear on this page.",
        )
        return redirect("student:status", enrolment.pk)
    return render(
        request,
        "student/link.html",
        {
            "enrolment": enrolment,
            "course": course,
            "form": form,
            "own": own,
            "signup_url": DOCKER_SIGNUP_URL,
        },
    )


# -- builds --------------------------------------------------------------------------------------


@login_required
@require_GET
def builds(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    page = Paginator(
        Build.objects.filter(enrolment=enrolment).order_by("-created_at", "-pk"), BUILDS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "student/builds.html", {"enrolment": enrolment, "page": page})


@login_required
@require_GET
def build_log(request: HttpRequest, enrolment_id: int, build_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    build = Build.objects.filter(pk=build_id, enrolment=enrolment).first()
    if build is None:
        raise Http404("No such build.")
    return render(
        request,
        "student/build_log.html",
        {
            "enrolment": enrolment,
            "build": build,
            "commit_url": student_progress.commit_url(enrolment, build.commit_sha),
            "failure_line": (
                student_progress.log_failure_line(build.log_excerpt)
                if build.state == BuildState.FAILED
                else ""
            ),
            "failed_step": (
                student_progress.log_failed_step(build.log_excerpt)
                if build.state == BuildState.FAILED
                else ""
            ),
        },
    )


# -- badge ---------------------------------------------------------------------------------------


@require_GET
def badge(request: HttpRequest, token: str) -> HttpResponse:
    """Public: whoever has the token (a README) sees the build state, and nothing more."""
    enrolment_id = (
        StudentBadge.objects.filter(token=token).values_list("enrolment_id", flat=True).first()
    )
    if enrolment_id is None:
        raise Http404("No such badge.")
    response = HttpResponse(
        render_badge(student_progress.badge_state(enrolment_id)), content_type="image/svg+xml"
    )
    # README images are proxied and cached (GitHub's camo): ask for a fresh copy every time.
    response["Cache-Control"] = "no-cache, no-store, must-revalidate, max-age=0"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@login_required
@require_POST
def badge_regenerate(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    enrolment = get_enrolment_for_student(_user(request), enrolment_id)
    joining.badge_regenerate(enrolment=enrolment)
    messages.success(request, "Your badge has a new address: replace the snippet in your README.")
    return redirect(reverse("student:status", args=[enrolment.pk]) + "#badge")
