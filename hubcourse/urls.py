from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from hubcourse.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("hooks/", include("builds.urls")),
    path("courses/", include("dashboard.urls")),
    path("organisation/", include("organisation.urls")),
    path("", include("api.urls")),  # /api/v1/, /api/schema/, /api/docs/, /settings/tokens/
    path("", include("accounts.urls")),
    path("", include("student.urls")),
]
