from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from hubcourse.health import healthz


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask /favicon.ico of pages that name no icon (JSON answers, the API's
    documentation): our own SVG, rather than a 404 in every log."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("hooks/", include("builds.urls")),
    path("courses/", include("dashboard.urls")),
    path("organisation/", include("organisation.urls")),
    path("", include("api.urls")),  # /api/v1/, /api/schema/, /api/docs/, /settings/tokens/
    path("", include("accounts.urls")),
    path("", include("student.urls")),
]
