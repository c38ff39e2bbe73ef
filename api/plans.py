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
from api.progress import ProgressSerializer
from onboarding import courses
from onboarding.courses import apply_run_progress
from onboarding.engine import plan_course
from onboarding.models import ApplyRun


class PlanStepSerializer(serializers.Serializer[Any]):
    enrolment = serializers.IntegerField(
        source="enrolment_id", allow_null=True, help_text="null for course-wide steps."
    )
    student = serializers.CharField(allow_null=True, help_text="The roster identifier.")
    step = serializers.CharField()
    kind = serializers.ChoiceField(choices=["create", "change", "delete", "no-op", "adopt"])
    target = serializers.CharField()
    reason = serializers.CharField()
    waits_on = serializers.ChoiceField(
        choices=["", "student", "instructor"],
        help_text="Who must act before hubcourse can: the student (a handout step), or a "
        "person of the course (fix the cause, then retry); empty when nobody.",
    )
    setting = serializers.CharField(
        help_text='The course setting this step moves for the student ("tag"); "" for none.'
    )
    before = serializers.CharField(help_text='Its value as applied so far ("latest").')
    after = serializers.CharField(help_text='Its value as the course says now ("week1").')


class PlanSerializer(serializers.Serializer[Any]):
    course = serializers.CharField()
    actionable = serializers.IntegerField(help_text="Steps that applying would enqueue.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Steps per kind.")
    waiting = serializers.IntegerField(
        help_text="Students waited on (by themselves or by a person): the course is as it "
        "says only when this and actionable are both 0."
    )
    steps = PlanStepSerializer(many=True)


class ApplyRunSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    started_by = serializers.EmailField(allow_null=True, help_text="Who applied the plan.")
    total_steps = serializers.IntegerField(help_text="Steps the plan had when applied.")
    students = serializers.IntegerField(help_text="Students those steps were for.")
    finished_at = serializers.DateTimeField(allow_null=True)
    # Progress comes from a fresh plan of the rows: in the run's own answer, null in lists.
    remaining = serializers.IntegerField(allow_null=True, help_text="Steps still to do.")
    percent = serializers.IntegerField(allow_null=True)
    in_error = serializers.IntegerField(allow_null=True, help_text="Students with an error now.")
    waiting = serializers.IntegerField(
        allow_null=True, help_text="Students who have not accepted their invitation yet."
    )
    progress = ProgressSerializer(help_text="The job's progress, in the shape of every job.")


def _run_body(run: ApplyRun, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    if progress is not None:
        run = progress["run"]  # the progress may have just finished it
    body = {
        "id": run.pk,
        "started_at": run.started_at or run.created_at,
        "started_by": run.created_by.email if run.created_by else None,
        "total_steps": run.total,
        "students": run.students,
        "finished_at": run.finished_at,
        "remaining": progress["remaining"] if progress else None,
        "percent": progress["percent"] if progress else None,
        "in_error": progress["errors"] if progress else None,
        "waiting": progress["waiting"] if progress else None,
        "progress": run.progress(),
    }
    return dict(ApplyRunSerializer(body).data)


class PlanApi(generics.GenericAPIView[ApplyRun]):
    """The dry run: every step that would bring the course to its desired state, from what
    hubcourse last observed (nothing is asked of Docker Hub or GitHub)."""

    queryset = ApplyRun.objects.none()
    serializer_class = PlanSerializer

    def get(self, request: Request, slug: str) -> Response:

        course = staff_access(request, slug).course
        plan = plan_course(course)
        body = {
            "course": course.slug,
            "actionable": len(plan.actionable),
            "counts": plan.counts(),
            "waiting": len({s.enrolment_id for s in plan.waiting}),
            "steps": [
                {
                    "enrolment_id": s.enrolment_id,
                    "student": plan.labels.get(s.enrolment_id) if s.enrolment_id else None,
                    "step": s.step,
                    "kind": s.kind,
                    "target": s.target,
                    "reason": s.reason,
                    "waits_on": s.waits_on,
                    "setting": s.setting,
                    "before": s.before,
                    "after": s.after,
                }
                for s in plan.steps
            ],
        }
        return Response(PlanSerializer(body).data)


class PlanApplySerializer(serializers.Serializer[Any]):
    move = serializers.ChoiceField(
        choices=["", "first", "rest"],
        required=False,
        default="",
        help_text="While the course moves to another build backend: start moving `count` "
        'students first ("first"), or every one not moved yet ("rest"), then apply. Empty: '
        "apply the plan as it is.",
    )
    count = serializers.IntegerField(
        required=False, min_value=1, help_text='How many students "first" moves.'
    )


class PlanApplyApi(generics.GenericAPIView[ApplyRun]):
    """Apply the plan: its steps are queued (instructors only); follow the returned run."""

    queryset = ApplyRun.objects.none()
    serializer_class = ApplyRunSerializer

    @extend_schema(request=PlanApplySerializer, responses={202: ApplyRunSerializer})
    def post(self, request: Request, slug: str) -> Response:
        course = staff_access(request, slug, manage=True).course
        asked = PlanApplySerializer(data=request.data or {})
        asked.is_valid(raise_exception=True)
        move = asked.validated_data.get("move", "")
        if move:
            count = asked.validated_data.get("count", 5) if move == "first" else None
            run = courses.course_move(course=course, actor=request_user(request), count=count)
        else:
            run = courses.course_apply(course=course, actor=request_user(request))
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
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[ApplyRun]:
        course = staff_access(self.request, self.kwargs["slug"]).course
        return ApplyRun.objects.filter(course=course).select_related("created_by")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        return self.get_paginated_response([_run_body(run) for run in page])


class ApplyRunDetailApi(generics.GenericAPIView[ApplyRun]):
    """How far an apply has come: steps still to do, students in error or waiting."""

    queryset = ApplyRun.objects.none()
    serializer_class = ApplyRunSerializer

    def get(self, request: Request, slug: str, run_id: int) -> Response:

        course = staff_access(request, slug).course
        run = get_object_or_404(ApplyRun, course=course, pk=run_id)
        return Response(_run_body(run, apply_run_progress(course, run)))
