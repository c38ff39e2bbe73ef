"""A student's own enrolments: the five steps, what to do now, and linking the Docker ID
and GitHub repository. Anyone else's enrolment is 404, as on the student's pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import get_enrolment_for_student
from accounts.models import Enrolment, OnboardingState
from accounts.selectors import enrolments_for_student
from api.base import form_errors, request_user
from api.builds_out import BuildOutputSerializer
from onboarding import joining
from onboarding.status import StatusView, StepStatus, student_status
from student.forms import LinkForm


class StudentStepSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField(help_text="1 to 5, as in the course handout.")
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in StepStatus])
    detail = serializers.CharField(help_text="What is happening, or what to do.")
    part = serializers.CharField(
        help_text="The part of the step that failed, as the class board names it; empty if none."
    )


class MyEnrolmentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="enrolment.pk")
    course = serializers.CharField(source="enrolment.course.slug")
    course_name = serializers.CharField(source="enrolment.course.name")
    identifier = serializers.CharField(source="enrolment.identifier")
    docker_id = serializers.CharField(source="enrolment.docker_id")
    github_repo = serializers.CharField(source="enrolment.github_repo")
    state = serializers.ChoiceField(source="enrolment.state", choices=OnboardingState.choices)
    steps = StudentStepSerializer(many=True)
    now = serializers.SerializerMethodField()
    all_done = serializers.BooleanField()
    image_url = serializers.CharField(help_text="The image on Docker Hub; empty until pushed.")
    preflight_problems = serializers.ListField(child=serializers.DictField())
    other_error = serializers.CharField()
    latest_build = BuildOutputSerializer(source="latest", allow_null=True)

    def get_now(self, view: StatusView) -> int | None:
        """The number of the step waiting for you, if any."""
        return view.now.number if view.now is not None else None


class LinkInputSerializer(serializers.Serializer[Any]):
    docker_id = serializers.CharField(max_length=30, help_text="Your Docker Hub username.")
    github_repo = serializers.CharField(
        max_length=200, help_text="owner/name, or the repository's address on GitHub."
    )


class MyEnrolmentListApi(generics.ListAPIView[Enrolment]):
    """The courses you are a student on, each with where you stand."""

    queryset = Enrolment.objects.none()
    serializer_class = MyEnrolmentSerializer
    filterset_fields: tuple[str, ...] = ()
    ordering_fields = ("created_at", "id")
    ordering = ("created_at", "id")

    def get_queryset(self) -> QuerySet[Enrolment]:
        return enrolments_for_student(request_user(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        views = [student_status(enrolment, recent_builds=1) for enrolment in page]
        return self.get_paginated_response(MyEnrolmentSerializer(views, many=True).data)


class MyEnrolmentDetailApi(generics.GenericAPIView[Enrolment]):
    """Where you stand on one course; PATCH gives your Docker ID and GitHub repository
    (the Docker ID is checked on Docker Hub; pre-flight checks start at once)."""

    queryset = Enrolment.objects.none()
    serializer_class = MyEnrolmentSerializer
    calls_outside = True  # checking a new Docker ID asks Docker Hub

    def get(self, request: Request, enrolment_id: int) -> Response:
        enrolment = get_enrolment_for_student(request_user(request), enrolment_id)
        return Response(MyEnrolmentSerializer(student_status(enrolment, recent_builds=1)).data)

    @extend_schema(request=LinkInputSerializer, responses={200: MyEnrolmentSerializer})
    def patch(self, request: Request, enrolment_id: int) -> Response:
        user = request_user(request)
        enrolment = get_enrolment_for_student(user, enrolment_id)
        LinkInputSerializer(data=request.data).is_valid(raise_exception=True)
        course = enrolment.course
        form = LinkForm(
            {
                "docker_id": request.data.get("docker_id", ""),
                "github_repo": request.data.get("github_repo", ""),
            },
            enrolment=enrolment,
            own_repositories=[],  # a script types its repository; the list is the page's help
            docker_id_exists=lambda docker_id: joining.docker_id_exists(course, docker_id),
            docker_id_locked=joining.docker_id_is_locked(enrolment),
        )
        if not form.is_valid():
            raise form_errors(form)
        joining.enrolment_link(
            enrolment=enrolment,
            actor=user,
            docker_id=form.cleaned_data["docker_id"],
            github_repo=form.cleaned_data["repository"],
        )
        enrolment.refresh_from_db()
        return Response(MyEnrolmentSerializer(student_status(enrolment, recent_builds=1)).data)
