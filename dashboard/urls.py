from __future__ import annotations

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("new/", views.course_new, name="course_new"),
    path("<slug:slug>/", views.board, name="board"),
    path("<slug:slug>/live/", views.board_live, name="board_live"),
    path("<slug:slug>/bulk/", views.board_bulk, name="bulk"),
    path("<slug:slug>/students.csv", views.board_export, name="export"),
    path("<slug:slug>/settings/", views.course_settings, name="settings"),
    path("<slug:slug>/settings/check/", views.connection_check, name="check"),
    path(
        "<slug:slug>/settings/check/<int:check_id>/",
        views.connection_check_live,
        name="check_live",
    ),
    path("<slug:slug>/roster/", views.roster_upload, name="roster"),
    path("<slug:slug>/roster/<int:import_id>/", views.roster_preview, name="roster_preview"),
    path(
        "<slug:slug>/roster/<int:import_id>/live/",
        views.roster_preview_live,
        name="roster_preview_live",
    ),
    path(
        "<slug:slug>/roster/<int:import_id>/confirm/", views.roster_confirm, name="roster_confirm"
    ),
    path("<slug:slug>/plan/", views.plan, name="plan"),
    path("<slug:slug>/plan/runs/<int:run_id>/", views.plan_progress_live, name="plan_progress"),
    path("<slug:slug>/students/<int:enrolment_id>/", views.student_detail, name="student"),
    path(
        "<slug:slug>/students/<int:enrolment_id>/correct/",
        views.student_correct,
        name="student_correct",
    ),
    path(
        "<slug:slug>/students/<int:enrolment_id>/retry/", views.student_retry, name="student_retry"
    ),
    path(
        "<slug:slug>/students/<int:enrolment_id>/rebuild/",
        views.student_rebuild,
        name="student_rebuild",
    ),
    path(
        "<slug:slug>/students/<int:enrolment_id>/as-student/",
        views.student_as_student,
        name="as_student",
    ),
    path("<slug:slug>/roles/", views.roles, name="roles"),
    path("<slug:slug>/audit/", views.audit, name="audit"),
    path("<slug:slug>/audit.csv", views.audit_export, name="audit_export"),
]
