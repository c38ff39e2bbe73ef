"""The organisation admin's jobs: bulk invites (dry run, send, progress, results) and the
offboarding of a course at the end of term. Same services and checks as the pages."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import bulk_invites
from accounts.access import require_site_admin
from accounts.models import BulkInvite, BulkInviteRow, Course, Outcome, User
from accounts.roster_parsing import INVITE_LIMITS, INVITE_MAX_BYTES
from api.base import request_user, staff_access
from api.errors import ApiError
from api.progress import ProgressField
from onboarding import offboarding
from onboarding.models import Offboarding, OffboardingItem

# -- bulk invites ------------------------------------------------------------------------------


class InviteJobSerializer(serializers.ModelSerializer[BulkInvite]):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )
    percent = serializers.IntegerField(read_only=True)
    progress = ProgressField()
    awaiting_confirmation = serializers.BooleanField(
        read_only=True, help_text="The dry run is done: POST send/ to invite."
    )
    counts = serializers.SerializerMethodField()
    nothing_changed = serializers.SerializerMethodField()

    class Meta:
        model = BulkInvite
        fields = (
            "id",
            "organisation",
            "team",
            "role",
            "source",
            "filename",
            "phase",
            "status",
            "total",
            "done",
            "percent",
            "progress",
            "awaiting_confirmation",
            "counts",
            "nothing_changed",
            "requests_made",
            "error",
            "retry_at",
            "created_by",
            "created_at",
            "checked_at",
            "confirmed_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    def get_counts(self, job: BulkInvite) -> dict[str, int]:
        """Rows per outcome of the phase shown: the dry run until sent, then the results."""
        return bulk_invites.outcome_counts(job)

    def get_nothing_changed(self, job: BulkInvite) -> bool:
        """Sent, and no invite was needed: the list had been run before (or was all bad)."""
        return bulk_invites.nothing_changed(job)


class InviteJobInputSerializer(serializers.Serializer[Any]):
    invitees = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Docker IDs or emails, separated by commas, semicolons, spaces or lines.",
    )
    csv_file = serializers.FileField(required=False, help_text="Or a CSV file (multipart).")
    team = serializers.CharField(required=False, allow_blank=True, max_length=255)
    role = serializers.ChoiceField(choices=BulkInvite.Role.choices, required=False)


class InviteRowSerializer(serializers.ModelSerializer[BulkInviteRow]):
    dry_run = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, read_only=True, help_text="Empty until known."
    )
    result = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, read_only=True, help_text="Empty until sent."
    )

    class Meta:
        model = BulkInviteRow
        fields = ("line", "position", "raw", "invitee", "dry_run", "result", "message", "invite_id")
        read_only_fields = fields


class InviteJobFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    class Meta:
        model = BulkInvite
        fields = ("status", "phase")


class InviteJobListCreateApi(generics.ListCreateAPIView[BulkInvite]):
    """Bulk invites to the organisation (site administrators). Creating one starts its dry
    run, answered by Docker Hub in the background; follow the job, then POST ``send/``."""

    queryset = BulkInvite.objects.none()
    serializer_class = InviteJobSerializer
    parser_classes = (parsers.JSONParser, parsers.MultiPartParser)
    upload_limits = INVITE_LIMITS
    filterset_class = InviteJobFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[BulkInvite]:
        require_site_admin(request_user(self.request))
        return BulkInvite.objects.select_related("created_by")

    @extend_schema(
        request={
            "application/json": InviteJobInputSerializer,
            "multipart/form-data": InviteJobInputSerializer,
        },
        responses={201: InviteJobSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request_user(request)
        require_site_admin(user)
        serializer = InviteJobInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organisation = bulk_invites.default_organisation()
        upload = data.get("csv_file")
        # The list's rules are the domain's (``bulk_invites.invitees_read``), as on the page.
        rows = bulk_invites.invitees_read(
            text=data.get("invitees", ""),
            upload=upload.read(INVITE_MAX_BYTES + 1) if upload else None,
            upload_size=upload.size if upload else None,
        )
        job = bulk_invites.bulk_invite_start(
            rows=rows,
            organisation=organisation,
            team=data.get("team", ""),
            role=data.get("role", BulkInvite.Role.MEMBER),
            source=BulkInvite.Source.CSV if upload else BulkInvite.Source.PASTE,
            filename=upload.name if upload else "",
            actor=user,
        )
        return Response(InviteJobSerializer(job).data, status=status.HTTP_201_CREATED)


def _invite_job(request: Request, job_id: int) -> BulkInvite:
    require_site_admin(request_user(request))
    return get_object_or_404(BulkInvite, pk=job_id)


class InviteJobDetailApi(generics.GenericAPIView[BulkInvite]):
    """A bulk invite's phase and progress; poll it until ``status`` is ``done``."""

    queryset = BulkInvite.objects.none()
    serializer_class = InviteJobSerializer

    def get(self, request: Request, job_id: int) -> Response:
        return Response(InviteJobSerializer(_invite_job(request, job_id)).data)


class InviteRowFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    dry_run = django_filters.ChoiceFilter(choices=Outcome.choices)
    result = django_filters.ChoiceFilter(choices=Outcome.choices)

    class Meta:
        model = BulkInviteRow
        fields = ("dry_run", "result")


class InviteRowListApi(generics.ListAPIView[BulkInviteRow]):
    """Each row's dry-run answer and result, in the list's order."""

    queryset = BulkInviteRow.objects.none()
    serializer_class = InviteRowSerializer
    filterset_class = InviteRowFilter
    ordering_fields = ("line",)
    ordering = ("line",)

    def get_queryset(self) -> QuerySet[BulkInviteRow]:
        return _invite_job(self.request, self.kwargs["job_id"]).rows.all()


class InviteJobSendApi(generics.GenericAPIView[BulkInvite]):
    """Send the invites once the dry run is done. Rows the dry run settled are not sent;
    when nothing is left the job finishes at once and ``nothing_changed`` says so."""

    queryset = BulkInvite.objects.none()
    serializer_class = InviteJobSerializer

    @extend_schema(request=None, responses={200: InviteJobSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = _invite_job(request, job_id)
        confirmed = bulk_invites.bulk_invite_send(job_id=job.pk, actor=request_user(request))
        if confirmed is None:
            raise ApiError(
                "This list has been sent already, or its dry run has not finished: "
                "follow the job until it awaits confirmation.",
                code="refused",
                status_code=status.HTTP_409_CONFLICT,
            )
        return Response(InviteJobSerializer(confirmed).data)


class InviteJobResumeApi(generics.GenericAPIView[BulkInvite]):
    """Carry on a job stopped by an error; rows already answered are not sent again."""

    queryset = BulkInvite.objects.none()
    serializer_class = InviteJobSerializer

    @extend_schema(request=None, responses={200: InviteJobSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = _invite_job(request, job_id)
        with transaction.atomic():
            if not bulk_invites.bulk_invite_resume(job_id=job.pk, actor=request_user(request)):
                raise ApiError(
                    "Only a job stopped by an error can be resumed.",
                    code="refused",
                    status_code=status.HTTP_409_CONFLICT,
                )
        job.refresh_from_db()
        return Response(InviteJobSerializer(job).data)


# -- offboarding -------------------------------------------------------------------------------


class OffboardingPreviewRowSerializer(serializers.Serializer[Any]):
    identifier = serializers.CharField()
    name = serializers.CharField()
    docker_id = serializers.CharField()
    repository = serializers.CharField()
    build_configured = serializers.BooleanField()
    keep_in_team = serializers.CharField(help_text="Why they stay in the team; empty: removed.")
    keep_in_organisation = serializers.CharField(
        help_text="Why they stay in the organisation (an owner, the service account, another "
        "active course, not invited by this course); empty: removed."
    )
    invite_pending = serializers.BooleanField()
    keep_repository = serializers.CharField(
        help_text="Why the repository is left untouched (not created or adopted by this "
        "course); empty: archived or deleted as chosen."
    )


class OffboardingPreviewSerializer(serializers.Serializer[Any]):
    course = serializers.CharField(source="course.slug")
    backend = serializers.CharField()
    owners_known = serializers.BooleanField(
        help_text="False until the organisation's members were read once: owners cannot be "
        "told apart yet."
    )
    counts = serializers.DictField(child=serializers.IntegerField())
    rows = OffboardingPreviewRowSerializer(many=True)


class OffboardingSerializer(serializers.ModelSerializer[Offboarding]):
    course: serializers.SlugRelatedField[Course] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )
    percent = serializers.IntegerField(read_only=True)
    progress = ProgressField()
    report = serializers.SerializerMethodField()

    class Meta:
        model = Offboarding
        fields = (
            "id",
            "course",
            "repository_action",
            "step",
            "status",
            "total",
            "done",
            "percent",
            "progress",
            "report",
            "error",
            "retry_at",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    def get_report(self, job: Offboarding) -> dict[str, int]:
        """Students, snapshots kept, removed from team and organisation, kept, repositories."""
        return offboarding.offboarding_report(job)


class OffboardingInputSerializer(serializers.Serializer[Any]):
    repository_action = serializers.ChoiceField(choices=Offboarding.RepositoryAction.choices)
    confirmation = serializers.CharField(
        max_length=200, help_text="The course's name, typed exactly, to confirm."
    )


class OffboardingItemSerializer(serializers.ModelSerializer[OffboardingItem]):
    class Meta:
        model = OffboardingItem
        fields = (
            "identifier",
            "name",
            "docker_id",
            "repository",
            "keep_in_team",
            "keep_in_organisation",
            "image_tag",
            "image_digest",
            "image_pushed_at",
            "commit_sha",
            "build_state",
            "build_finished_at",
            "snapshot_at",
            "read_only_at",
            "builds_at",
            "team_at",
            "organisation_at",
            "repositories_at",
            "notes",
            "error",
        )
        read_only_fields = fields


class OffboardingPreviewApi(generics.GenericAPIView[Offboarding]):
    """Exactly what offboarding the course would do, before anything happens."""

    queryset = Offboarding.objects.none()
    serializer_class = OffboardingPreviewSerializer

    def get(self, request: Request, slug: str) -> Response:
        course = staff_access(request, slug, manage=True).course
        return Response(OffboardingPreviewSerializer(offboarding.offboarding_preview(course)).data)


class OffboardingListCreateApi(generics.ListCreateAPIView[Offboarding]):
    """The course's offboardings; starting one archives the course and runs in the
    background. It never removes an owner, hubcourse's own account, or a student of another
    active course."""

    queryset = Offboarding.objects.none()
    serializer_class = OffboardingSerializer
    filterset_fields = ("status",)
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Offboarding]:
        course = staff_access(self.request, self.kwargs["slug"], manage=True).course
        return Offboarding.objects.filter(course=course).select_related("course", "created_by")

    @extend_schema(request=OffboardingInputSerializer, responses={201: OffboardingSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        course = staff_access(request, kwargs["slug"], manage=True).course
        serializer = OffboardingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = offboarding.offboarding_start(
                course=course,
                repository_action=serializer.validated_data["repository_action"],
                confirmation=serializer.validated_data["confirmation"],
                actor=request_user(request),
            )
        except offboarding.ConfirmationError as error:
            raise ApiError(
                str(error), code="refused", status_code=status.HTTP_409_CONFLICT
            ) from None
        return Response(OffboardingSerializer(job).data, status=status.HTTP_201_CREATED)


def _offboarding(request: Request, slug: str, job_id: int) -> Offboarding:
    course = staff_access(request, slug, manage=True).course
    return get_object_or_404(Offboarding.objects.select_related("course"), course=course, pk=job_id)


class OffboardingDetailApi(generics.GenericAPIView[Offboarding]):
    """An offboarding's step, progress and report."""

    queryset = Offboarding.objects.none()
    serializer_class = OffboardingSerializer

    def get(self, request: Request, slug: str, job_id: int) -> Response:
        return Response(OffboardingSerializer(_offboarding(request, slug, job_id)).data)


class OffboardingItemListApi(generics.ListAPIView[OffboardingItem]):
    """Per student: the snapshot kept (last image digest, commit, build) and each step."""

    queryset = OffboardingItem.objects.none()
    serializer_class = OffboardingItemSerializer
    filterset_fields = ("build_state",)
    ordering_fields = ("identifier", "docker_id")
    ordering = ("identifier",)

    def get_queryset(self) -> QuerySet[OffboardingItem]:
        job = _offboarding(self.request, self.kwargs["slug"], self.kwargs["job_id"])
        return job.items.all()


class OffboardingResumeApi(generics.GenericAPIView[Offboarding]):
    """Carry on an offboarding stopped by an error; steps already done are not repeated."""

    queryset = Offboarding.objects.none()
    serializer_class = OffboardingSerializer

    @extend_schema(request=None, responses={200: OffboardingSerializer})
    def post(self, request: Request, slug: str, job_id: int) -> Response:
        job = _offboarding(request, slug, job_id)
        with transaction.atomic():
            if not offboarding.offboarding_resume(job_id=job.pk, actor=request_user(request)):
                raise ApiError(
                    "Only an offboarding stopped by an error can be resumed.",
                    code="refused",
                    status_code=status.HTTP_409_CONFLICT,
                )
        job.refresh_from_db()
        return Response(OffboardingSerializer(job).data)
