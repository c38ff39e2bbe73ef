from __future__ import annotations

from django.urls import path

from student import github_views, staff_views, views

app_name = "student"

urlpatterns = [
    path("join/<str:token>/", views.join, name="join"),
    path("my/<int:enrolment_id>/", views.status, name="status"),
    path("my/<int:enrolment_id>/live/", views.status_live, name="status_live"),
    path("my/<int:enrolment_id>/link/", views.link, name="link"),
    path("my/<int:enrolment_id>/check/", views.check_again, name="check_again"),
    path("my/<int:enrolment_id>/builds/", views.builds, name="builds"),
    path("my/<int:enrolment_id>/rebuild/", views.rebuild, name="rebuild"),
    path("my/<int:enrolment_id>/builds/<int:build_id>/", views.build_log, name="build_log"),
    path("my/<int:enrolment_id>/badge/new/", views.badge_regenerate, name="badge_regenerate"),
    path("badge/<str:token>.svg", views.badge, name="badge"),
    # The course's GitHub App: install on the student's repository, GitHub's setup URL and
    # the OAuth callback that confirms the installation.
    path(
        "my/<int:enrolment_id>/github/install/", github_views.github_install, name="github_install"
    ),
    path("github/app/setup/", github_views.github_setup, name="github_setup"),
    path("github/app/confirm/", github_views.github_confirm, name="github_confirm"),
    # The instructor's controls, linked from the course pages.
    path("courses/<slug:slug>/join-link/", staff_views.join_link, name="join_link"),
    path(
        "courses/<slug:slug>/join-requests/<int:request_id>/",
        staff_views.join_request_decide,
        name="join_request_decide",
    ),
    path(
        "courses/<slug:slug>/students/<int:enrolment_id>/unlink/",
        staff_views.enrolment_unlink,
        name="unlink",
    ),
]
