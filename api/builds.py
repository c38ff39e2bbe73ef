"""Builds: staff see their courses' builds, students their own (like the pages)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from rest_framework import generics

from accounts.models import User
from accounts.selectors import courses_for_staff
from api.base import IdFilter, MomentFilter, request_user
from api.builds_out import BuildOutputSerializer
from builds.models import Build, BuildState


class BuildFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    course = django_filters.CharFilter(
        field_name="enrolment__course__slug", label="Course (its short name)"
    )
    enrolment = IdFilter(field_name="enrolment_id", label="Student (enrolment id)")
    student = django_filters.CharFilter(
        method="filter_student", label="Student: roster identifier, Docker ID or email"
    )
    state = django_filters.MultipleChoiceFilter(choices=BuildState.choices)
    since = MomentFilter(
        field_name="created_at", lookup_expr="gte", label="Started at or after (ISO 8601)"
    )
    until = MomentFilter(
        field_name="created_at", lookup_expr="lt", label="Started before (ISO 8601)"
    )
    backend = django_filters.CharFilter()
    stuck = django_filters.BooleanFilter(
        field_name="stuck_at", lookup_expr="isnull", exclude=True, label="Flagged as stuck"
    )

    class Meta:
        model = Build
        fields = ("state", "backend")

    def filter_student(self, qs: QuerySet[Build], name: str, value: str) -> QuerySet[Build]:
        value = value.strip()
        return qs.filter(
            Q(enrolment__identifier__iexact=value)
            | Q(enrolment__docker_id__iexact=value)
            | Q(enrolment__email__iexact=value)
        )


def visible_builds(request_user_obj: object) -> QuerySet[Build]:
    user = request_user_obj

    assert isinstance(user, User)
    return Build.objects.filter(
        Q(enrolment__course__in=courses_for_staff(user)) | Q(enrolment__user=user)
    )


class BuildListApi(generics.ListAPIView[Build]):
    """Builds of the courses you teach and your own, newest first."""

    queryset = Build.objects.none()
    serializer_class = BuildOutputSerializer
    filterset_class = BuildFilter
    ordering_fields = ("created_at", "started_at", "finished_at", "state", "id")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Build]:
        return visible_builds(request_user(self.request))


class BuildDetailApi(generics.RetrieveAPIView[Build]):
    """One build, with its log excerpt and a link to the full log."""

    queryset = Build.objects.none()
    serializer_class = BuildOutputSerializer
    lookup_url_kwarg = "build_id"

    def get_queryset(self) -> QuerySet[Build]:
        return visible_builds(request_user(self.request))
