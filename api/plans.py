"""The course plan (a dry run, from the database) and applying it, with its progress."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import request_user, staff_access
from dashboard import services
from dashboard.models import ApplyRun


class PlanStepSerializer(serializers.Serializer[Any]):
    enrolment = serializers.IntegerField(
        source="enrolment_id", allow_null=True, help_text="null for course-wide steps."
    )
    student = serializers.CharField(allow_null=True, help_text="The roster identifier.")
    step = serializers.CharField()
    kind = serializers.ChoiceField(choices=["create", "change", "delete", "no-op"])
    target = serializers.CharField()
    reason = serializers.CharField()


class PlanSerializer(serializers.Serializer[Any]):
    course = serializers.CharField()
    actionable = serializers.IntegerField(help_text="Steps that applying would enqueue.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Steps per kind.")
    steps = PlanStepSerializer(many=True)


class ApplyRunSerializer(serializers.ModelSerializer[ApplyRun]):
    started_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    remaining = serializers.IntegerField(
        allow_null=True, help_text="Steps still to do, from a fresh plan (detail only)."
    )
    percent = serializers.IntegerField(allow_null=True)
    errors = serializers.IntegerField(allow_null=True, help_text="Students with an error now.")
    waiting = serializers.IntegerField(
        allow_null=True, help_text="Students who have not accepted their invitation yet."
    )

    class Meta:
        model = ApplyRun
        fields = (
            "id",
            "started_at",
            "started_by",
            "total_steps",
            "students",
            "finished_at",
            "remaining",
            "percent",
            "errors",
            "waiting",
        )
        read_only_fields = fields


def _run_body(run: ApplyRun, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = dict(ApplyRunSerializer(_Blank(run)).data)
    if progress is not None:
        run.refresh_from_db(fields=["finished_at"])
        body["finished_at"] = serializers.DateTimeField().to_representation(run.finished_at)
        body.update({k: progress[k] for k in ("remaining", "percent", "errors", "waiting")})
    return body


class _Blank:
    """An ApplyRun with its progress fields empty (lists do not re-plan every run)."""

    def __init__(self, run: ApplyRun) -> None:
        self._run = run
        self.remaining = self.percent = self.errors = self.waiting = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


class PlanApi(generics.GenericAPIView[ApplyRun]):
    """The dry run: every step that would bring the course to its desired state, from what
    hubcourse last observed (nothing is asked of Docker Hub or GitHub)."""

    queryset = ApplyRun.objects.none()
    serializer_class = PlanSerializer

    def get(self, request: Request, slug: str) -> Response:
        from repositories.reconcile import plan_course

        course = staff_access(request, slug).course
        plan = plan_course(course)
        body = {
            "course": course.slug,
            "actionable": len(plan.actionable),
            "counts": plan.counts(),
            "steps": [
                {
                    "enrolment_id": s.enrolment_id,
                    "student": plan.labels.get(s.enrolment_id) if s.enrolment_id else None,
                    "step": s.step,
                    "kind": s.kind,
                    "target": s.target,
                    "reason": s.reason,
                }
                for s in plan.steps
            ],
        }
        return Response(PlanSerializer(body).data)


class PlanApplyApi(generics.GenericAPIView[ApplyRun]):
    """Apply the plan: its steps are queued (instructors only); follow the returned run."""

    queryset = ApplyRun.objects.none()
    serializer_class = ApplyRunSerializer

    @extend_schema(request=None, responses={202: ApplyRunSerializer})
    def post(self, request: Request, slug: str) -> Response:
        course = staff_access(request, slug, manage=True).course
        run = services.course_apply(course=course, actor=request_user(request))
        return Response(_run_body(run), status=status.HTTP_202_ACCEPTED)


class ApplyRunFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    running = django_filters.BooleanFilter(
        field_name="finished_at", lookup_expr="isnull", label="Still running"
    )

    class Meta:
        model = ApplyRun
        fields: tuple[str, ...] = ()


class ApplyRunListApi(generics.ListAPIView[ApplyRun]):
    """Past and running applies of the course's plan, newest first."""

    queryset = ApplyRun.objects.none()
    serializer_class = ApplyRunSerializer
    filterset_class = ApplyRunFilter
    ordering_fields = ("started_at", "id")
    ordering = ("-started_at", "-id")

    def get_queryset(self) -> QuerySet[ApplyRun]:
        course = staff_access(self.request, self.kwargs["slug"]).course
        return ApplyRun.objects.filter(course=course).select_related("started_by")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        return self.get_paginated_response([_run_body(run) for run in page])


class ApplyRunDetailApi(generics.GenericAPIView[ApplyRun]):
    """How far an apply has come: steps still to do, students in error or waiting."""

    queryset = ApplyRun.objects.none()
    serializer_class = ApplyRunSerializer

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        from dashboard.views import _progress

        course = staff_access(request, slug).course
        run = get_object_or_404(ApplyRun, course=course, pk=run_id)
        return Response(_run_body(run, _progress(course, run)))
