"""A course's students: the class board as data, one student, roster changes, retries."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import get_enrolment_for_staff
from accounts.models import Course, Enrolment, InviteState, OnboardingState, PreflightState
from api.base import request_user, staff_access
from api.builds_out import BuildOutputSerializer
from api.services import enrolment_create, enrolment_delete, enrolment_update
from builds.models import BuildState
from dashboard.forms import BULK_ACTIONS
from onboarding import board, courses
from onboarding.steps import step_label


class StepSerializer(serializers.Serializer[Any]):
    # DRF's metaclass takes declared fields off the class, so Field.label is not shadowed.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="One of the handout's five steps."
    )
    done = serializers.BooleanField()


class ErrorStateSerializer(serializers.Serializer[Any]):
    step = serializers.CharField(source="error_step")
    # DRF's metaclass takes declared fields off the class, so Field.label is not shadowed.
    label = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="The failed step, as a person reads it."
    )
    message = serializers.CharField(source="error_message")
    permanent = serializers.BooleanField(
        source="error_permanent", help_text="True: stopped until someone retries."
    )
    at = serializers.DateTimeField(source="error_at", allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()

    def get_label(self, enrolment: Enrolment) -> str:
        return step_label(enrolment.error_step)


class EnrolmentOutputSerializer(serializers.Serializer[Any]):
    """A board row: the student, where onboarding stands, and their latest build."""

    id = serializers.IntegerField(source="enrolment.pk")
    identifier = serializers.CharField(source="enrolment.identifier")
    name = serializers.CharField(source="enrolment.name")
    email = serializers.CharField(source="enrolment.email")
    docker_id = serializers.CharField(source="enrolment.docker_id")
    github_repo = serializers.CharField(source="enrolment.github_repo")
    joined = serializers.SerializerMethodField()
    state = serializers.ChoiceField(
        source="enrolment.state",
        choices=OnboardingState.choices,
        help_text="Onboarding state; 'error' while a permanent error waits for a person.",
    )
    reached = serializers.ChoiceField(
        choices=OnboardingState.choices, help_text="The furthest state reached."
    )
    steps = StepSerializer(source="ticks", many=True)
    summary = serializers.CharField(help_text="Where the student stands, in one sentence.")
    error = serializers.SerializerMethodField()
    invite_state = serializers.ChoiceField(
        source="enrolment.invite_state", choices=InviteState.choices
    )
    preflight_state = serializers.ChoiceField(
        source="enrolment.preflight_state", choices=PreflightState.choices
    )
    preflight_report = serializers.ListField(
        source="enrolment.preflight_report", child=serializers.DictField()
    )
    repository = serializers.SerializerMethodField()
    latest_build = BuildOutputSerializer(allow_null=True)
    created_at = serializers.DateTimeField(source="enrolment.created_at")
    updated_at = serializers.DateTimeField(source="enrolment.updated_at")

    def get_joined(self, row: board.BoardRow) -> bool:
        """The student has signed in and is linked to this roster entry."""
        return row.enrolment.user_id is not None

    @extend_schema_field(ErrorStateSerializer(allow_null=True))
    def get_error(self, row: board.BoardRow) -> dict[str, Any] | None:
        if not row.enrolment.error_step:
            return None
        return dict(ErrorStateSerializer(row.enrolment).data)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_repository(self, row: board.BoardRow) -> str | None:
        """namespace/name of the student's Docker Hub repository, once hubcourse made it."""
        repository = getattr(row.enrolment, "repository", None)
        return repository.full_name if repository is not None else None


class EnrolmentInputSerializer(serializers.Serializer[Any]):
    identifier = serializers.CharField(
        max_length=254, help_text="The roster's name for the student: email or number."
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    docker_id = serializers.CharField(max_length=30, required=False, allow_blank=True)
    github_repo = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="owner/name or its URL."
    )


class EnrolmentUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    docker_id = serializers.CharField(
        max_length=30,
        required=False,
        allow_blank=True,
        help_text="A correction: the student's onboarding starts over for the new Docker ID.",
    )
    github_repo = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="A correction: pre-flight and the build are set up again from it.",
    )
    reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, help_text="Kept in the audit log."
    )


class EnrolmentFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    state = django_filters.ChoiceFilter(choices=OnboardingState.choices)
    build = django_filters.ChoiceFilter(
        choices=[*BuildState.choices, ("none", "No build yet")],
        method="filter_build",
        label="State of the latest build",
    )
    errors = django_filters.BooleanFilter(method="filter_errors", label="Only students with errors")
    q = django_filters.CharFilter(method="filter_q", label="Search identifier, name, email, IDs")
    invite_state = django_filters.ChoiceFilter(choices=InviteState.choices)
    preflight_state = django_filters.ChoiceFilter(choices=PreflightState.choices)
    joined = django_filters.BooleanFilter(
        field_name="user", lookup_expr="isnull", exclude=True, label="Signed in and linked"
    )

    class Meta:
        model = Enrolment
        fields = ("state", "invite_state", "preflight_state")

    def filter_build(self, qs: QuerySet[Enrolment], name: str, value: str) -> QuerySet[Enrolment]:
        if value == "none":
            # Annotations of board.board_queryset, which the type checker cannot see.
            return qs.filter(latest_build_id__isnull=True)  # type: ignore[misc]
        return qs.filter(latest_build_state=value)  # type: ignore[misc]

    def filter_errors(self, qs: QuerySet[Enrolment], name: str, value: bool) -> QuerySet[Enrolment]:
        return qs.exclude(error_step="") if value else qs.filter(error_step="")

    def filter_q(self, qs: QuerySet[Enrolment], name: str, value: str) -> QuerySet[Enrolment]:
        value = value.strip()[:100]
        return qs.filter(
            Q(identifier__icontains=value)
            | Q(name__icontains=value)
            | Q(email__icontains=value)
            | Q(docker_id__icontains=value)
            | Q(github_repo__icontains=value)
        )


def _rows(course: Course, enrolments: Any) -> list[board.BoardRow]:
    return board.board_rows(course, enrolments)


def _one(course: Course, enrolment_id: int) -> board.BoardRow:
    qs = board.board_queryset(course, board.BoardFilters()).filter(pk=enrolment_id)
    return _rows(course, qs)[0]


class EnrolmentListCreateApi(generics.ListCreateAPIView[Enrolment]):
    """The class board as data: every student with their onboarding state, error and latest
    build (``?state=``, ``?build=failed``, ``?errors=true``, ``?q=``). Instructors add
    students one at a time here; a roster file goes through ``roster-imports``."""

    queryset = Enrolment.objects.none()  # for the schema; get_queryset scopes to the course
    serializer_class = EnrolmentOutputSerializer
    filterset_class = EnrolmentFilter
    ordering_fields = (
        "identifier",
        "name",
        "docker_id",
        "state_rank",
        "latest_build_at",
        "created_at",
        "updated_at",
    )
    ordering = ("identifier",)

    def get_queryset(self) -> QuerySet[Enrolment]:
        course = staff_access(self.request, self.kwargs["slug"]).course
        return board.board_queryset(course, board.BoardFilters())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        course = staff_access(request, kwargs["slug"]).course
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # pagination is always on
        return self.get_paginated_response(
            EnrolmentOutputSerializer(_rows(course, page), many=True).data
        )

    @extend_schema(request=EnrolmentInputSerializer, responses={201: EnrolmentOutputSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add one student to the roster; their onboarding is planned and applied at once."""
        access = staff_access(request, kwargs["slug"], manage=True)
        serializer = EnrolmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrolment = enrolment_create(
            course=access.course, actor=request_user(request), **serializer.validated_data
        )
        row = _one(access.course, enrolment.pk)
        return Response(EnrolmentOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class EnrolmentDetailApi(generics.GenericAPIView[Enrolment]):
    """One student. Staff read; instructors correct or remove (removing leaves Docker Hub as
    it is: offboarding does that, with its safeguards)."""

    queryset = Enrolment.objects.none()
    serializer_class = EnrolmentOutputSerializer

    def get(self, request: Request, slug: str, enrolment_id: int) -> Response:
        access, enrolment = get_enrolment_for_staff(request_user(request), slug, enrolment_id)
        return Response(EnrolmentOutputSerializer(_one(access.course, enrolment.pk)).data)

    @extend_schema(request=EnrolmentUpdateSerializer, responses={200: EnrolmentOutputSerializer})
    def patch(self, request: Request, slug: str, enrolment_id: int) -> Response:
        access, enrolment = get_enrolment_for_staff(
            request_user(request), slug, enrolment_id, manage=True
        )
        serializer = EnrolmentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        reason = values.pop("reason", "")
        enrolment_update(
            enrolment=enrolment, actor=request_user(request), values=values, reason=reason
        )
        return Response(EnrolmentOutputSerializer(_one(access.course, enrolment.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, enrolment_id: int) -> Response:
        _, enrolment = get_enrolment_for_staff(
            request_user(request), slug, enrolment_id, manage=True
        )
        enrolment_delete(enrolment=enrolment, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActionResultSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=list(BULK_ACTIONS.items()))
    asked = serializers.IntegerField(help_text="Students the action was asked for.")
    affected = serializers.IntegerField(help_text="Students it applied to.")
    message = serializers.CharField()


def _run_action(access_course: Course, request: Request, action: str, ids: list[int]) -> Response:
    user = request_user(request)
    if action == "retry":
        n = courses.enrolments_retry(course=access_course, actor=user, enrolment_ids=ids)
        message = (
            f"Retrying {n} student(s) with a failed step."
            if n
            else "None of these students has a failed step; their remaining steps were queued."
        )
    elif action == "invite":
        n = courses.enrolments_resend_invites(course=access_course, actor=user, enrolment_ids=ids)
        message = (
            f"Re-sending the invitation to {n} student(s)."
            if n
            else "None of these students is waiting for an invitation."
        )
    else:
        n = courses.enrolments_rerun_preflight(course=access_course, actor=user, enrolment_ids=ids)
        message = f"Pre-flight checks queued for {n} student(s)."
    body = {"action": action, "asked": len(ids), "affected": n, "message": message}
    return Response(ActionResultSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class EnrolmentRetryApi(generics.GenericAPIView[Enrolment]):
    """Retry one student's failed step (TAs may), and queue their remaining steps."""

    queryset = Enrolment.objects.none()
    serializer_class = ActionResultSerializer

    @extend_schema(request=None, responses={202: ActionResultSerializer})
    def post(self, request: Request, slug: str, enrolment_id: int) -> Response:
        access, enrolment = get_enrolment_for_staff(request_user(request), slug, enrolment_id)
        return _run_action(access.course, request, "retry", [enrolment.pk])


class BulkActionInputSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(
        choices=list(BULK_ACTIONS.items()),
        help_text="retry failed steps, re-send invitations, or re-run pre-flight checks.",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=5000,
        help_text="These students; other courses' ids are ignored.",
    )
    filter = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text='Or every student matching the list\'s filters, e.g. {"errors": "true"}.',
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(
                "Send either ids (a list of students) or filter (like the list's filters)."
            )
        if "ids" in attrs and not attrs["ids"]:
            raise serializers.ValidationError({"ids": ["Name at least one student."]})
        return attrs


class BulkActionApi(generics.GenericAPIView[Enrolment]):
    """The board's bulk actions on chosen or filtered students (TAs may)."""

    queryset = Enrolment.objects.none()
    serializer_class = BulkActionInputSerializer

    @extend_schema(request=BulkActionInputSerializer, responses={202: ActionResultSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = staff_access(request, slug)
        course = access.course
        serializer = BulkActionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "filter" in data:
            filterset = EnrolmentFilter(
                data=data["filter"],
                queryset=board.board_queryset(course, board.BoardFilters()),
            )
            if not filterset.is_valid():
                raise serializers.ValidationError({"filter": filterset.errors})
            ids = list(filterset.qs.values_list("pk", flat=True))
        else:
            ids = list(course.enrolments.filter(pk__in=data["ids"]).values_list("pk", flat=True))
        return _run_action(course, request, data["action"], ids)
