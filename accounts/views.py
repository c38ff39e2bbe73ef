from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import User
from accounts.selectors import courses_for_staff, enrolments_for_student, home_url_name


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "accounts/landing.html")
    return redirect(home_url_name(_user(request)))


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
