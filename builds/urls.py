from __future__ import annotations

from django.urls import path

from builds import webhooks

app_name = "builds"

urlpatterns = [
    path("github/<str:token>/", webhooks.github_hook, name="github-hook"),
    path("dockerhub/<str:token>/", webhooks.dockerhub_hook, name="dockerhub-hook"),
]
