"""The instructor's small controls for students joining: the course link, requests to
join, and unlinking a wrong match. The course pages (dashboard) link here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.access import get_course_for_staff, get_enrolment_for_staff
from accounts.models import Enrolment, JoinRequest, User
from onboarding import joining
from student.forms import ApproveForm, JoinLinkForm, UnlinkForm

REQUESTS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
def join_link(request: HttpRequest, slug: str) -> HttpResponse:
    """The course link, whether it works, what happens to strangers, and who is waiting."""
    access = get_course_for_staff(_user(request), slug, manage=request.method == "POST")
    course = access.course
    link = joining.join_link_for(course)
    if request.method == "POST":
        if request.POST.get("action") == "regenerate":
            joining.join_link_regenerate(course=course, actor=_user(request))
            messages.success(request, "The course link changed: the old one no longer works.")
            return redirect("student:join_link", course.slug)
        form = JoinLinkForm(request.POST)
        if form.is_valid():
            joining.join_link_update(
                course=course,
                actor=_user(request),
                enabled=form.cleaned_data["enabled"],
                policy=form.cleaned_data["policy"],
            )
            messages.success(request, "Saved.")
            return redirect("student:join_link", course.slug)
    else:
        form = JoinLinkForm(initial={"enabled": link.enabled, "policy": link.policy})
    pending = Paginator(
        JoinRequest.objects.filter(course=course, status=JoinRequest.Status.PENDING)
        .select_related("user", "claimed__user")
        .order_by("created_at", "pk"),
        REQUESTS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    free_entries = list(
        Enrolment.objects.filter(course=course, user__isnull=True).order_by("identifier")
    )
    decided = (
        JoinRequest.objects.filter(course=course)
        .exclude(status=JoinRequest.Status.PENDING)
        .select_related("user", "decided_by", "enrolment")
        .order_by("-decided_at", "-pk")[:10]
    )
    return render(
        request,
        "student/staff/join_link.html",
        {
            "course": course,
            "access": access,
            "link": link,
            "link_url": joining.public_url(reverse("student:join", args=[link.token])),
            "form": form,
            "pending": pending,
            "waiting": joining.waiting_requests(list(pending.object_list)),
            "approve_form": ApproveForm(free_entries=free_entries),
            "decided": decided,
        },
    )


@login_required
@require_POST
def join_request_decide(request: HttpRequest, slug: str, request_id: int) -> HttpResponse:
    access = get_course_for_staff(_user(request), slug, manage=True)
    course = access.course
    try:
        if request.POST.get("decision") == "approve":
            free_entries = list(Enrolment.objects.filter(course=course, user__isnull=True))
            form = ApproveForm(request.POST, free_entries=free_entries)
            if not form.is_valid():
                messages.error(
                    request, "That roster entry is gone or already linked: pick another."
                )
                return redirect("student:join_link", course.slug)
            entry = joining.join_request_approve(
                request_id=request_id,
                course=course,
                actor=_user(request),
                enrolment_id=form.cleaned_data["enrolment"],
            )
            messages.success(request, f"{entry.user} joined as {entry.identifier}.")
        else:
            refused = joining.join_request_refuse(
                request_id=request_id, course=course, actor=_user(request)
            )
            messages.success(request, f"Refused {refused.user}.")
    except joining.DecisionError as error:
        messages.error(request, str(error))
    return redirect("student:join_link", course.slug)


@login_required
def enrolment_unlink(request: HttpRequest, slug: str, enrolment_id: int) -> HttpResponse:
    """Take a roster entry back from the account that claimed it (asks to confirm first)."""
    access, enrolment = get_enrolment_for_staff(_user(request), slug, enrolment_id, manage=True)
    form = UnlinkForm(request.POST or None)
    if enrolment.user_id is None:
        messages.info(request, f"{enrolment.identifier} is not linked to any account.")
        return redirect("student:join_link", access.course.slug)
    if request.method == "POST" and form.is_valid():
        linked = enrolment.user
        joining.enrolment_unlink(
            enrolment=enrolment,
            actor=_user(request),
            forget_links=form.cleaned_data["forget_links"],
        )
        messages.success(
            request,
            f"{linked} is no longer {enrolment.identifier}. The right student can now join "
            "with the course link.",
        )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("student:join_link", args=[slug])
        return redirect(back)
    return render(
        request,
        "student/staff/unlink.html",
        {
            "access": access,
            "course": access.course,
            "enrolment": enrolment,
            "form": form,
            "next": request.GET.get("next", ""),
        },
    )
