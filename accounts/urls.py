from __future__ import annotations

from django.urls import path

from accounts import views
from accounts.credentials import github_app
from integrations.github.webhooks import AppWebhookView

urlpatterns = [
    path("", views.home, name="home"),
    path("welcome/", views.welcome, name="welcome"),
    path("courses/", views.course_list, name="course_list"),
    path("me/", views.my_courses, name="my_courses"),
    # The GitHub App's events, for every installation (integrations/github/webhooks.py).
    path(
        "webhooks/github/app/",
        AppWebhookView.as_view(load_config=github_app),
        name="github_app_webhook",
    ),
    path("roles/accept/<str:token>/", views.role_accept, name="role_accept"),
]
