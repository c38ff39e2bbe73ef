"""The audit log: every change hubcourse made (or tried) outside, and its own settings."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from rest_framework import generics, serializers

from accounts.models import Course
from accounts.selectors import courses_for_staff
from api.base import IdFilter, MomentFilter, request_user
from hubcourse.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    course: serializers.SlugRelatedField[Course] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    actor = serializers.SerializerMethodField()
    student = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "created_at",
            "course",
            "enrolment",
            "student",
            "actor",
            "service",
            "action",
            "target",
            "outcome",
            "message",
        )
        read_only_fields = fields

    def get_actor(self, event: AuditEvent) -> str | None:
        """Who asked (their email), or null for hubcourse's own work."""
        return event.actor.email if event.actor is not None else None

    def get_student(self, event: AuditEvent) -> str | None:
        """The student's roster identifier, when the event is about one."""
        return event.enrolment.identifier if event.enrolment is not None else None


class AuditFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    course = django_filters.CharFilter(field_name="course__slug", label="Course (short name)")
    enrolment = IdFilter(field_name="enrolment_id", label="Student (enrolment id)")
    service = django_filters.CharFilter()
    action = django_filters.CharFilter(lookup_expr="startswith")
    outcome = django_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices)
    since = MomentFilter(field_name="created_at", lookup_expr="gte")
    until = MomentFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_q", label="Search action, target, message")

    class Meta:
        model = AuditEvent
        fields = ("service", "outcome")

    def filter_q(self, qs: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        return qs.filter(
            Q(action__icontains=value)
            | Q(target__icontains=value)
            | Q(message__icontains=value)
            | Q(enrolment__identifier__icontains=value)
            | Q(actor__email__icontains=value)
        )


class AuditListApi(generics.ListAPIView[AuditEvent]):
    """Events of the courses you are staff on; site administrators also see the events that
    belong to no course (organisation work, API tokens)."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[AuditEvent]:
        user = request_user(self.request)
        events = AuditEvent.objects.select_related("course", "actor", "enrolment")
        if user.is_site_admin:
            return events.all()
        visible: Any = Q(course__in=courses_for_staff(user))
        return events.filter(visible)
