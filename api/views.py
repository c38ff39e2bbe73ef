"""The settings page where people make and revoke their personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import ApiToken, User
from accounts.tokens import token_create, token_revoke
from api.forms import TokenForm


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    new_token = ""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, new_token = token_create(user=user, name=form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=user)
    return render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": tokens, "new_token": new_token},
    )


@require_POST
@login_required
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = token_revoke(user=_user(request), token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    messages.success(
        request, f"The token “{token.name}” is revoked: requests that use it are refused from now."
    )
    return redirect("api:tokens")
