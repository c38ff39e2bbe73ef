from __future__ import annotations

from csp.decorators import csp_update
from django.urls import include, path, register_converter
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from api import (
    audit,
    builds,
    courses,
    enrolments,
    me,
    organisation,
    plans,
    roles,
    roster,
    views,
)
from api.index import ApiIndex
from api.permissions import DocsReader

app_name = "api"
# Added to the site's style-src 'self' for the API's Swagger UI page (see urlpatterns).
DOCS_STYLES = csp_update({"style-src": ["'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"]})


class IdConverter:
    """A row id: digits that fit the database's 64-bit integers (longer ones match nothing)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

course = "courses/<slug:slug>/"
v1 = [
    path("", ApiIndex.as_view(), name="index"),
    path("courses/", courses.CourseListCreateApi.as_view(), name="course-list"),
    path("organisations/", courses.OrganisationListApi.as_view(), name="organisation-list"),
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
        course + "enrolments/<id:enrolment_id>/",
        enrolments.EnrolmentDetailApi.as_view(),
        name="enrolment-detail",
    ),
    path(
        course + "enrolments/<id:enrolment_id>/retry/",
        enrolments.EnrolmentRetryApi.as_view(),
        name="enrolment-retry",
    ),
    path(
        course + "roster-imports/",
        roster.RosterImportListCreateApi.as_view(),
        name="roster-import-list",
    ),
    path(
        course + "roster-imports/<id:import_id>/",
        roster.RosterImportDetailApi.as_view(),
        name="roster-import-detail",
    ),
    path(
        course + "roster-imports/<id:import_id>/rows/",
        roster.RosterRowListApi.as_view(),
        name="roster-import-rows",
    ),
    path(
        course + "roster-imports/<id:import_id>/confirm/",
        roster.RosterConfirmApi.as_view(),
        name="roster-import-confirm",
    ),
    path(
        course + "roster-imports/<id:import_id>/discard/",
        roster.RosterDiscardApi.as_view(),
        name="roster-import-discard",
    ),
    path(course + "roles/", roles.RoleListCreateApi.as_view(), name="role-list"),
    path(course + "roles/<id:role_id>/", roles.RoleDetailApi.as_view(), name="role-detail"),
    path(course + "plan/", plans.PlanApi.as_view(), name="plan"),
    path(course + "plan/apply/", plans.PlanApplyApi.as_view(), name="plan-apply"),
    path(course + "apply-runs/", plans.ApplyRunListApi.as_view(), name="apply-run-list"),
    path(
        course + "apply-runs/<id:run_id>/",
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
        course + "offboardings/<id:job_id>/",
        organisation.OffboardingDetailApi.as_view(),
        name="offboarding-detail",
    ),
    path(
        course + "offboardings/<id:job_id>/items/",
        organisation.OffboardingItemListApi.as_view(),
        name="offboarding-items",
    ),
    path(
        course + "offboardings/<id:job_id>/resume/",
        organisation.OffboardingResumeApi.as_view(),
        name="offboarding-resume",
    ),
    path("invite-jobs/", organisation.InviteJobListCreateApi.as_view(), name="invite-job-list"),
    path(
        "invite-jobs/<id:job_id>/",
        organisation.InviteJobDetailApi.as_view(),
        name="invite-job-detail",
    ),
    path(
        "invite-jobs/<id:job_id>/rows/",
        organisation.InviteRowListApi.as_view(),
        name="invite-job-rows",
    ),
    path(
        "invite-jobs/<id:job_id>/send/",
        organisation.InviteJobSendApi.as_view(),
        name="invite-job-send",
    ),
    path(
        "invite-jobs/<id:job_id>/resume/",
        organisation.InviteJobResumeApi.as_view(),
        name="invite-job-resume",
    ),
    path("builds/", builds.BuildListApi.as_view(), name="build-list"),
    path("builds/<id:build_id>/", builds.BuildDetailApi.as_view(), name="build-detail"),
    path("audit/", audit.AuditListApi.as_view(), name="audit-list"),
    path("me/enrolments/", me.MyEnrolmentListApi.as_view(), name="my-enrolment-list"),
    path(
        "me/enrolments/<id:enrolment_id>/",
        me.MyEnrolmentDetailApi.as_view(),
        name="my-enrolment-detail",
    ),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[DocsReader]), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    # Swagger UI adds one <style> element as it draws, which style-src 'self' blocked (an
    # error logged on every visit): that one style, by its hash (the tour in
    # tests/core/test_browser_tour.py notices when a new Swagger UI changes it).
    path(
        "api/docs/",
        DOCS_STYLES(
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", permission_classes=[DocsReader]
            )
        ),
        name="docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", permission_classes=[DocsReader]),
        name="redoc",
    ),
    path("settings/tokens/", views.token_list, name="tokens"),
    path("settings/tokens/<id:token_id>/revoke/", views.token_revoke_view, name="token-revoke"),
]
