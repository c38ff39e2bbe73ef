from __future__ import annotations

from django.urls import path

from organisation import github_app_views, views

app_name = "organisation"

urlpatterns = [
    path("", views.index, name="index"),
    path("bulk/", views.bulk_new, name="bulk_new"),
    path("bulk/<int:job_id>/", views.bulk_detail, name="bulk_detail"),
    path("bulk/<int:job_id>/progress/", views.bulk_progress, name="bulk_progress"),
    path("bulk/<int:job_id>/send/", views.bulk_send, name="bulk_send"),
    path("bulk/<int:job_id>/resume/", views.bulk_resume, name="bulk_resume"),
    path("bulk/<int:job_id>/results.csv", views.bulk_results_csv, name="bulk_results_csv"),
    path("members/", views.members_page, name="members"),
    path("github-app/", github_app_views.github_app_page, name="github_app"),
    path("github-app/register/", github_app_views.github_app_register, name="github_app_register"),
    path(
        "github-app/registered/",
        github_app_views.github_app_registered,
        name="github_app_registered",
    ),
    path(
        "github-app/credentials/",
        github_app_views.github_app_credentials,
        name="github_app_credentials",
    ),
    path("members/status/", views.members_status, name="members_status"),
    path("invites/", views.invites_action, name="invites_action"),
    path("courses/<slug:slug>/offboard/", views.offboard, name="offboard"),
    path(
        "courses/<slug:slug>/offboard/<int:job_id>/",
        views.offboarding_detail,
        name="offboarding_detail",
    ),
    path(
        "courses/<slug:slug>/offboard/<int:job_id>/progress/",
        views.offboarding_progress,
        name="offboarding_progress",
    ),
    path(
        "courses/<slug:slug>/offboard/<int:job_id>/resume/",
        views.offboarding_resume,
        name="offboarding_resume",
    ),
    path(
        "courses/<slug:slug>/offboard/<int:job_id>/snapshot.csv",
        views.offboarding_snapshot_csv,
        name="offboarding_snapshot_csv",
    ),
]
