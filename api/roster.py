"""Roster import, with the browser's rule: a preview first, nothing saved until confirmed."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import roster_parsing as roster
from accounts.models import User
from api.base import request_user, staff_access
from api.plans import _run_body
from api.progress import ProgressSerializer, progress_body
from onboarding import courses
from onboarding.models import RosterCheck, RosterImport


class RosterImportSerializer(serializers.ModelSerializer[RosterImport]):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )
    counts = serializers.SerializerMethodField()
    saving = serializers.SerializerMethodField()
    check = serializers.SerializerMethodField(
        help_text="The Docker Hub and GitHub checks of the rows, as a job; null if none ran."
    )

    class Meta:
        model = RosterImport
        fields = (
            "id",
            "status",
            "source",
            "format",
            "encoding",
            "delimiter",
            "created_at",
            "created_by",
            "check_error",
            "notices",
            "applied_at",
            "summary",
            "counts",
            "saving",
            "check",
        )
        read_only_fields = fields

    def get_counts(self, preview: RosterImport) -> dict[str, int]:
        """Rows per status: ok, changed, warning, error, duplicate, skipped."""
        counts: dict[str, int] = {}
        for row in preview.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_check(self, preview: RosterImport) -> dict[str, Any] | None:
        return progress_body(RosterCheck.objects.filter(pk=preview.pk).first())

    def get_saving(self, preview: RosterImport) -> int:
        """Rows that confirming would save (add or change)."""
        return sum(1 for row in preview.rows if roster.Row.from_dict(row).imported)


class RosterRowSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="Line of the file where the record starts.")
    identifier = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    docker_id = serializers.CharField()
    github_repo = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in roster.Status])
    # A plain string: an enum with an empty member collides with other "action" enums in the
    # schema's names.
    action = serializers.CharField(
        help_text="For imported rows: new, update or unchanged; empty otherwise."
    )
    meaning = serializers.SerializerMethodField()
    reason = serializers.CharField(help_text="Why the row is an error, a duplicate or skipped.")
    enrolment = serializers.IntegerField(source="enrolment_id", allow_null=True)
    changes = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="What this import changed: [column, before, after, why].",
    )
    warnings = serializers.SerializerMethodField()
    updates = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For rows already on the roster: field -> [old, new].",
    )
    check = serializers.CharField(
        help_text="The outside checks: pending, done, not_checked, or empty (nothing to check)."
    )

    def get_meaning(self, row: dict[str, Any]) -> str:
        """What confirming does with this row."""
        status = row.get("status", "")
        known = {s.value: effect for s, (_, effect) in roster.STATUS_TEXT.items()}
        return known.get(status, "")

    def get_warnings(self, row: dict[str, Any]) -> list[str]:
        """What is flagged on an imported row (by the file's reading and by the checks)."""
        return [*row.get("warnings", []), *row.get("check_warnings", [])]


class RosterInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(required=False, help_text="A CSV file (multipart upload).")
    text = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Or pasted lines."
    )
    classroom_repo_template = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="For a GitHub Classroom roster, e.g. my-classroom/docker-lab-{github_username}.",
    )


class ConfirmInputSerializer(serializers.Serializer[Any]):
    apply = serializers.BooleanField(
        default=True,
        help_text=(
            "Apply the course's plan once the rows are saved (the page's “Import and apply”). "
            "False only saves them (the page's “Import”): review the plan and apply it later. "
            "Defaults to true."
        ),
    )


class ConfirmResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    apply = serializers.DictField(
        allow_null=True,
        help_text=(
            "The apply run that onboards them (see apply-runs); null when the confirm asked "
            "not to apply, or there was nothing to apply."
        ),
    )


class RosterImportListCreateApi(generics.ListCreateAPIView[RosterImport]):
    """Upload a roster (multipart ``file``, or JSON ``text``) to get a preview that
    classifies every row; nothing is saved until the preview is confirmed. Docker IDs and
    repositories are checked in the background: wait for ``status`` ``ready``."""

    queryset = RosterImport.objects.none()
    serializer_class = RosterImportSerializer
    parser_classes = (parsers.JSONParser, parsers.MultiPartParser)
    upload_limits = roster.LIMITS
    filterset_fields = ("status",)
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[RosterImport]:
        course = staff_access(self.request, self.kwargs["slug"], manage=True).course
        return RosterImport.objects.filter(course=course).select_related("created_by")

    @extend_schema(
        request={
            "application/json": RosterInputSerializer,
            "multipart/form-data": RosterInputSerializer,
        },
        responses={201: RosterImportSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        course = staff_access(request, kwargs["slug"], manage=True).course
        serializer = RosterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data.get("file")
        # The roster's rules are the domain's, as on the page.
        template = courses.roster_input_check(
            text=serializer.validated_data.get("text", ""),
            upload_size=upload.size if upload is not None else None,
            classroom_repo_template=serializer.validated_data.get("classroom_repo_template", ""),
        )
        content: bytes | str
        if upload is not None:
            content, source = upload.read(roster.MAX_BYTES + 1), upload.name or "uploaded file"
        else:
            content, source = serializer.validated_data.get("text", ""), "pasted text"
        try:
            preview = courses.roster_preview(
                course=course,
                actor=request_user(request),
                data=content,
                source=source,
                classroom_repo_template=template,
            )
        except roster.RosterError as error:
            raise serializers.ValidationError(
                {"file" if upload is not None else "text": [str(error)]}
            ) from None
        return Response(RosterImportSerializer(preview).data, status=status.HTTP_201_CREATED)


def _preview(request: Request, slug: str, import_id: int) -> RosterImport:
    course = staff_access(request, slug, manage=True).course
    return get_object_or_404(RosterImport, course=course, pk=import_id)


class RosterImportDetailApi(generics.GenericAPIView[RosterImport]):
    """One preview: its status and how many rows of each kind; rows are listed at ``rows/``."""

    queryset = RosterImport.objects.none()
    serializer_class = RosterImportSerializer

    def get(self, request: Request, slug: str, import_id: int) -> Response:
        preview = courses.roster_settle_overdue(_preview(request, slug, import_id))
        return Response(RosterImportSerializer(preview).data)


class RosterRowListApi(generics.GenericAPIView[RosterImport]):
    """The preview's rows, in file order, with what confirming does with each."""

    queryset = RosterImport.objects.none()
    serializer_class = RosterRowSerializer
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=[s.value for s in roster.Status],
                description="Only rows of this kind.",
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: RosterRowSerializer(many=True)},
    )
    def get(self, request: Request, slug: str, import_id: int) -> Response:
        preview = _preview(request, slug, import_id)
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in {s.value for s in roster.Status}:
            valid = ", ".join(s.value for s in roster.Status)
            raise serializers.ValidationError({"status": [f"Choose one of: {valid}."]})
        # Through the domain's row, so every stored row has every field the schema names.
        every = [roster.Row.from_dict(data).as_dict() for data in preview.rows]
        rows = [row for row in every if not wanted or row["status"] == wanted]
        page = self.paginate_queryset(rows)
        assert page is not None
        return self.get_paginated_response(RosterRowSerializer(page, many=True).data)


class RosterConfirmApi(generics.GenericAPIView[RosterImport]):
    """Save the previewed roster in one transaction and apply the course's plan (unless
    ``apply`` is false: then only save, as the page's "Import" does). No body applies."""

    queryset = RosterImport.objects.none()
    serializer_class = ConfirmResultSerializer

    @extend_schema(request=ConfirmInputSerializer, responses={200: ConfirmResultSerializer})
    def post(self, request: Request, slug: str, import_id: int) -> Response:
        preview = _preview(request, slug, import_id)
        choice = ConfirmInputSerializer(data=request.data)
        choice.is_valid(raise_exception=True)
        result = courses.roster_confirm(
            preview=preview,
            actor=request_user(request),
            apply=choice.validated_data["apply"],
        )
        body = {
            "created": result.created,
            "updated": result.updated,
            "skipped": result.skipped,
            "apply": _run_body(result.apply) if result.apply is not None else None,
        }
        return Response(ConfirmResultSerializer(body).data)


class RosterDiscardApi(generics.GenericAPIView[RosterImport]):
    """Drop a preview; nothing is saved."""

    queryset = RosterImport.objects.none()
    serializer_class = RosterImportSerializer

    @extend_schema(request=None, responses={200: RosterImportSerializer})
    def post(self, request: Request, slug: str, import_id: int) -> Response:
        preview = _preview(request, slug, import_id)
        courses.roster_discard(preview=preview)
        preview.refresh_from_db()
        return Response(RosterImportSerializer(preview).data)
