"""The student installs the course's GitHub App on their repository, and comes back.

1. ``github_install`` (a button on the course page) sends them to GitHub's install page
   with a ``state`` signed for this enrolment and this account.
2. GitHub sends them back to the app's setup URL, ``github_setup``, with an
   ``installation_id`` that anyone could have typed: the view only checks the ``state`` and
   asks GitHub who the student is (an OAuth round trip with the app's client id).
3. ``github_confirm`` gets the code, turns it into the student's user token (used at once,
   never stored), and records the installation only if that token and the app both vouch
   for it (``onboarding.github_access.confirm_installation``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import get_enrolment_for_student
from accounts.models import User
from hubcourse.errors import ExternalServiceError
from onboarding import github_access, joining
from onboarding.github_access import AccessRefused


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _refused(request: HttpRequest, message: str, enrolment_id: int | None = None) -> HttpResponse:
    if enrolment_id is not None:
        messages.error(request, message)
        return redirect("student:status", enrolment_id)
    return render(request, "student/github_refused.html", {"message": message}, status=400)


def confirm_redirect_uri() -> str:
    """Where GitHub's OAuth page returns (one of the app's callback URLs)."""
    return joining.public_url(reverse("student:github_confirm"))


@login_required
@require_POST
def github_install(request: HttpRequest, enrolment_id: int) -> HttpResponse:
    user = _user(request)
    enrolment = get_enrolment_for_student(user, enrolment_id)
    if not enrolment.github_repo:
        messages.error(request, "Give your GitHub repository first, then install the app on it.")
        return redirect("student:link", enrolment.pk)
    url = github_access.install_url(enrolment, user)
    if url is None:
        messages.error(
            request,
            "The course's GitHub App is not set up yet, so it cannot be installed. Tell your "
            "instructor.",
        )
        return redirect("student:status", enrolment.pk)
    return redirect(url)


@login_required
@never_cache
@require_GET
def github_setup(request: HttpRequest) -> HttpResponse:
    """The app's setup URL: GitHub's redirect after an install or a change of repositories."""
    user = _user(request)
    try:
        state = github_access.read_install_state(request.GET.get("state", ""), user=user)
    except AccessRefused as refused:
        return _refused(request, str(refused))
    enrolment = get_enrolment_for_student(user, state.enrolment_id)
    raw = request.GET.get("installation_id", "")
    if not raw.isdigit():
        return _refused(
            request,
            "GitHub did not say which installation of the app you made. Install it again from "
            "this page.",
            enrolment.pk,
        )
    config = github_access.app_config()
    if config is None:
        return _refused(
            request,
            "The course's GitHub App is not set up yet: tell your instructor.",
            enrolment.pk,
        )
    return redirect(
        github_access.authorize_url(
            config,
            redirect_uri=confirm_redirect_uri(),
            state=github_access.confirm_state(enrolment, user, int(raw)),
        )
    )


@login_required
@never_cache
@require_GET
def github_confirm(request: HttpRequest) -> HttpResponse:
    """GitHub's OAuth answer: confirm the installation with the student's token."""
    user = _user(request)
    try:
        enrolment_id, installation_id = github_access.read_confirm_state(
            request.GET.get("state", ""), user=user
        )
    except AccessRefused as refused:
        return _refused(request, str(refused))
    enrolment = get_enrolment_for_student(user, enrolment_id)
    if request.GET.get("error"):
        return _refused(
            request,
            "You did not let hubcourse confirm your GitHub account, so it cannot link the app's "
            "installation to you. Try again from this page.",
            enrolment.pk,
        )
    config = github_access.app_config()
    if config is None:
        return _refused(
            request,
            "The course's GitHub App is not set up yet: tell your instructor.",
            enrolment.pk,
        )
    try:
        token = github_access.exchange_code(
            config, code=request.GET.get("code", ""), redirect_uri=confirm_redirect_uri()
        )
        github_access.confirm_installation(
            enrolment=enrolment, actor=user, installation_id=installation_id, user_token=token
        )
    except AccessRefused as refused:
        return _refused(request, str(refused), enrolment.pk)
    except ExternalServiceError as error:
        return _refused(
            request,
            f"hubcourse could not reach GitHub to confirm the installation: {error}. Try again "
            "in a minute.",
            enrolment.pk,
        )
    enrolment.refresh_from_db()
    messages.success(
        request,
        f"The course's GitHub App is installed on {enrolment.github_repo}: hubcourse now hears "
        "each push within seconds.",
    )
    joining.enrolment_check_again(enrolment=enrolment, actor=user)
    return redirect("student:status", enrolment.pk)
