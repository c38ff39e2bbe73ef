from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import User
from accounts.role_invitations import (
    InvitationRefused,
    invitation_from_token,
    role_invitation_accept,
)
from accounts.selectors import courses_for_staff, enrolments_for_student, home_url_name


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "accounts/landing.html")
    name = home_url_name(_user(request))
    if name == "my_courses":
        # A student in one course (most of them) goes straight to its page.
        only = list(enrolments_for_student(_user(request)).values_list("pk", flat=True)[:2])
        if len(only) == 1:
            return redirect("student:status", only[0])
    return redirect(name)


@login_required
def welcome(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/welcome.html")


@login_required
def course_list(request: HttpRequest) -> HttpResponse:
    courses = courses_for_staff(_user(request)).order_by("archived_at", "name")
    return render(request, "accounts/course_list.html", {"courses": courses})


@login_required
def my_courses(request: HttpRequest) -> HttpResponse:
    enrolments = enrolments_for_student(_user(request)).order_by("course__name")
    return render(request, "accounts/my_courses.html", {"enrolments": enrolments})


@login_required
def role_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a role invitation: shows what it offers; accepting is a POST."""

    invitation = invitation_from_token(token)
    error = ""
    if request.method == "POST":
        try:
            role = role_invitation_accept(token=token, user=_user(request))
        except InvitationRefused as refused:
            error = str(refused)
        else:
            messages.success(
                request, f"You are now {role.get_role_display().lower()} of {role.course.name}."
            )
            return redirect("dashboard:board", role.course.slug)
    return render(
        request,
        "accounts/role_accept.html",
        {"invitation": invitation, "error": error},
        status=400 if error else 200,
    )
