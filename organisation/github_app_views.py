"""The "GitHub App" admin page: the app's status, registering it from a manifest, or entering
an existing app's credentials. Site administrators only; no secret is ever shown."""

from __future__ import annotations

import hmac

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import github_app
from accounts.access import require_site_admin
from accounts.models import GitHubAppRegistration, User
from hubcourse.errors import ExternalServiceError, ValidationError
from organisation.forms import GitHubAppCredentialsForm, GitHubAppRegisterForm

_STATE_KEY = "github_app_manifest_state"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _page(
    request: HttpRequest,
    register_form: GitHubAppRegisterForm | None = None,
    credentials_form: GitHubAppCredentialsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "organisation/github_app.html",
        {
            "status": github_app.app_status(live=True),
            "registrations": GitHubAppRegistration.objects.select_related("created_by")[:5],
            "register_form": register_form or GitHubAppRegisterForm(),
            "credentials_form": credentials_form or GitHubAppCredentialsForm(),
        },
        status=status,
    )


@login_required
@require_GET
def github_app_page(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    return _page(request)


@login_required
@require_POST
def github_app_register(request: HttpRequest) -> HttpResponse:
    """Step 1 of the manifest flow: a page whose form posts the manifest to GitHub."""
    require_site_admin(_user(request))
    form = GitHubAppRegisterForm(request.POST)
    if not form.is_valid():
        return _page(request, register_form=form, status=400)
    state = github_app.new_state()
    request.session[_STATE_KEY] = state
    return render(
        request,
        "organisation/github_app_continue.html",
        {
            "action": github_app.manifest_action(form.cleaned_data["organisation"]),
            "manifest": github_app.manifest_json(form.cleaned_data["name"]),
            "manifest_data": github_app.manifest(form.cleaned_data["name"]),
            "state": state,
            "organisation": form.cleaned_data["organisation"],
        },
    )


@login_required
@require_GET
def github_app_registered(request: HttpRequest) -> HttpResponse:
    """Step 2: GitHub sends the admin back with a code; convert it and store the app."""
    require_site_admin(_user(request))
    expected = request.session.pop(_STATE_KEY, "")
    state = request.GET.get("state", "")
    code = request.GET.get("code", "")
    if not (expected and state and hmac.compare_digest(str(expected), state)):
        messages.error(
            request,
            "This return from GitHub does not match a registration started here (or it was "
            "already used). Start again from this page.",
        )
        return redirect("organisation:github_app")
    if not code:
        messages.error(request, "GitHub sent no code back: the app was not registered.")
        return redirect("organisation:github_app")
    try:
        registration = github_app.register_from_code(code, _user(request))
    except ExternalServiceError as error:
        messages.error(request, f"The app could not be registered: {error}")
        return redirect("organisation:github_app")
    messages.success(
        request,
        f"The GitHub App {registration.slug} is registered; its key and secrets are stored "
        "encrypted. Students can install it now.",
    )
    return redirect("organisation:github_app")


@login_required
@require_POST
def github_app_credentials(request: HttpRequest) -> HttpResponse:
    require_site_admin(_user(request))
    form = GitHubAppCredentialsForm(request.POST)
    if not form.is_valid():
        return _page(request, credentials_form=form, status=400)
    data = form.cleaned_data
    try:
        registration = github_app.store_pasted(
            github_app.PastedApp(
                app_id=data["app_id"],
                slug=data["slug"],
                client_id=data["client_id"].strip(),
                client_secret=data["client_secret"].strip(),
                private_key=data["private_key"].strip() + "\n",
                webhook_secret=data["webhook_secret"].strip(),
            ),
            _user(request),
        )
    except ValidationError as error:
        form.add_error(None, str(error.message))
        return _page(request, credentials_form=form, status=400)
    messages.success(request, f"The GitHub App {registration.slug} is in use.")
    return redirect("organisation:github_app")
