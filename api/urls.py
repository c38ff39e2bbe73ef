from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import audit, builds, courses, enrolments, organisation, plans, roster, views

app_name = "api"

course = "courses/<slug:slug>/"
v1 = [
    path("courses/", courses.CourseListCreateApi.as_view(), name="course-list"),
    path(course, courses.CourseDetailApi.as_view(), name="course-detail"),
    path(
        course + "enrolments/",
        enrolments.EnrolmentListCreateApi.as_view(),
        name="enrolment-list",
    ),
    path(
        course + "enrolments/actions/",
        enrolments.BulkActionApi.as_view(),
        name="enrolment-actions",
    ),
    path(
        course + "enrolments/<int:enrolment_id>/",
        enrolments.EnrolmentDetailApi.as_view(),
        name="enrolment-detail",
    ),
    path(
        course + "enrolments/<int:enrolment_id>/retry/",
        enrolments.EnrolmentRetryApi.as_view(),
        name="enrolment-retry",
    ),
    path(
        course + "roster-imports/",
        roster.RosterImportListCreateApi.as_view(),
        name="roster-import-list",
    ),
    path(
        course + "roster-imports/<int:import_id>/",
        roster.RosterImportDetailApi.as_view(),
        name="roster-import-detail",
    ),
    path(
        course + "roster-imports/<int:import_id>/rows/",
        roster.RosterRowListApi.as_view(),
        name="roster-import-rows",
    ),
    path(
        course + "roster-imports/<int:import_id>/confirm/",
        roster.RosterConfirmApi.as_view(),
        name="roster-import-confirm",
    ),
    path(
        course + "roster-imports/<int:import_id>/discard/",
        roster.RosterDiscardApi.as_view(),
        name="roster-import-discard",
    ),
    path(course + "plan/", plans.PlanApi.as_view(), name="plan"),
    path(course + "plan/apply/", plans.PlanApplyApi.as_view(), name="plan-apply"),
    path(course + "apply-runs/", plans.ApplyRunListApi.as_view(), name="apply-run-list"),
    path(
        course + "apply-runs/<int:run_id>/",
        plans.ApplyRunDetailApi.as_view(),
        name="apply-run-detail",
    ),
    path(
        course + "offboarding/preview/",
        organisation.OffboardingPreviewApi.as_view(),
        name="offboarding-preview",
    ),
    path(
        course + "offboardings/",
        organisation.OffboardingListCreateApi.as_view(),
        name="offboarding-list",
    ),
    path(
        course + "offboardings/<int:job_id>/",
        organisation.OffboardingDetailApi.as_view(),
        name="offboarding-detail",
    ),
    path(
        course + "offboardings/<int:job_id>/items/",
        organisation.OffboardingItemListApi.as_view(),
        name="offboarding-items",
    ),
    path(
        course + "offboardings/<int:job_id>/resume/",
        organisation.OffboardingResumeApi.as_view(),
        name="offboarding-resume",
    ),
    path("invite-jobs/", organisation.InviteJobListCreateApi.as_view(), name="invite-job-list"),
    path(
        "invite-jobs/<int:job_id>/",
        organisation.InviteJobDetailApi.as_view(),
        name="invite-job-detail",
    ),
    path(
        "invite-jobs/<int:job_id>/rows/",
        organisation.InviteRowListApi.as_view(),
        name="invite-job-rows",
    ),
    path(
        "invite-jobs/<int:job_id>/send/",
        organisation.InviteJobSendApi.as_view(),
        name="invite-job-send",
    ),
    path(
        "invite-jobs/<int:job_id>/resume/",
        organisation.InviteJobResumeApi.as_view(),
        name="invite-job-resume",
    ),
    path("builds/", builds.BuildListApi.as_view(), name="build-list"),
    path("builds/<int:build_id>/", builds.BuildDetailApi.as_view(), name="build-detail"),
    path("audit/", audit.AuditListApi.as_view(), name="audit-list"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("settings/tokens/", views.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
]
