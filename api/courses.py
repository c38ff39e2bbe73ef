"""Courses: list, read, create and change. Credentials are write-only: a read shows only
when each was set, never the value."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import may_create_courses
from accounts.course_rules import COURSE_SETTINGS
from accounts.models import Course, CourseRole, Organisation
from accounts.organisations import organisations_for
from accounts.seats import seat_usage
from accounts.selectors import courses_for_staff
from api.base import request_user, staff_access
from builds.backends import choices as build_backend_choices
from onboarding.courses import course_create, course_update

# The settings a person may write, exactly those of the course settings page.
SETTINGS_FIELDS: tuple[str, ...] = COURSE_SETTINGS
SECRET_FIELDS = ("dockerhub_token", "github_token")


class CourseOutputSerializer(serializers.ModelSerializer[Course]):
    role = serializers.CharField(
        read_only=True, help_text="Your role on the course: instructor or ta."
    )
    students = serializers.IntegerField(read_only=True, help_text="Students on the roster.")

    class Meta:
        model = Course
        fields = (
            *SETTINGS_FIELDS,
            "created_at",
            "archived_at",
            "dockerhub_token_set_at",
            "github_token_set_at",
            "last_synced_at",
            "last_sync_error",
            "role",
            "students",
        )
        read_only_fields = fields


class CourseInputSerializer(serializers.ModelSerializer[Course]):
    """The course settings page's fields. The course rules (``accounts.course_rules``) are
    checked by the service that saves them, with the page's words."""

    # The short name's spelling is a course rule: a plain string here, checked there.
    slug = serializers.CharField(required=False, allow_blank=True)
    organisation = serializers.CharField(
        required=False,
        help_text=(
            "The name of a Docker Hub organisation registered by a site administrator and "
            "granted to you (a site administrator may use any registered one). Any other name "
            "is refused with the reason; it cannot change once the course has students."
        ),
    )

    dockerhub_token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text="Write-only. A new token replaces the stored one; empty keeps it.",
    )
    clear_dockerhub_token = serializers.BooleanField(
        write_only=True, required=False, help_text="Forget the stored token (use the site's)."
    )
    github_token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text="Write-only. A new token replaces the stored one; empty keeps it.",
    )
    clear_github_token = serializers.BooleanField(
        write_only=True, required=False, help_text="Forget the stored token (use the site's)."
    )

    class Meta:
        model = Course
        fields = (
            *SETTINGS_FIELDS,
            "dockerhub_token",
            "clear_dockerhub_token",
            "github_token",
            "clear_github_token",
        )
        extra_kwargs = {
            "slug": {"required": False, "validators": []},
            # Empty or left out: a new course's team of its own (a course rule).
            "team": {
                "required": False,
                "allow_blank": True,
                "help_text": "The students' team; empty for a new course: {short name}-students.",
            },
        }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # The registered build backends, read each time: the column itself lists none.
        fields["build_backend"] = serializers.ChoiceField(
            choices=build_backend_choices(),
            required=False,
            help_text="How images are built: the name of a registered build backend.",
        )
        return fields


class CourseFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped library
    archived = django_filters.BooleanFilter(
        field_name="archived_at", lookup_expr="isnull", exclude=True, label="Archived courses"
    )
    build_backend = django_filters.ChoiceFilter(choices=build_backend_choices)

    class Meta:
        model = Course
        fields = ("archived", "build_backend", "organisation")


def _annotated(qs: QuerySet[Course], request: Request) -> QuerySet[Course]:
    user = request_user(request)
    role: Any = Value(CourseRole.Role.INSTRUCTOR.value)
    if not user.is_site_admin:
        role = Subquery(
            CourseRole.objects.filter(course=OuterRef("pk"), user=user).values("role")[:1]
        )
    return qs.annotate(role=Coalesce(role, Value("")), students=Count("enrolments", distinct=True))


class CourseListCreateApi(generics.ListCreateAPIView[Course]):
    """The courses you teach (every course, for a site administrator), and new courses."""

    queryset = Course.objects.none()  # for the schema; get_queryset scopes to the user
    filterset_class = CourseFilter
    ordering_fields = ("name", "slug", "created_at", "students")
    ordering = ("name",)

    def get_queryset(self) -> QuerySet[Course]:
        return _annotated(courses_for_staff(request_user(self.request)), self.request)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Course]]:
        return CourseInputSerializer if self.request.method == "POST" else CourseOutputSerializer

    @extend_schema(request=CourseInputSerializer, responses={201: CourseOutputSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Make a course; you become its first instructor."""
        user = request_user(request)
        if not may_create_courses(user):
            raise PermissionDenied(
                "Only instructors and the organisation's administrators can create a course; "
                "ask an administrator to create it or to make you an instructor."
            )
        serializer = CourseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = course_create(actor=user, values=dict(serializer.validated_data))
        out = _annotated(Course.objects.filter(pk=course.pk), request).get()
        return Response(CourseOutputSerializer(out).data, status=status.HTTP_201_CREATED)


class CourseDetailApi(generics.GenericAPIView[Course]):
    """One course's settings. Anyone on the course's staff reads them; instructors change
    them."""

    serializer_class = CourseOutputSerializer
    lookup_field = "slug"

    def _course(self, slug: str, *, manage: bool = False) -> Course:
        access = staff_access(self.request, slug, manage=manage)
        return _annotated(Course.objects.filter(pk=access.course.pk), self.request).get()

    def get(self, request: Request, slug: str) -> Response:
        return Response(CourseOutputSerializer(self._course(slug)).data)

    @extend_schema(request=CourseInputSerializer, responses={200: CourseOutputSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        """Change some settings; credentials sent here are stored and never shown back."""
        course = self._course(slug, manage=True)
        serializer = CourseInputSerializer(course, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        course_update(course=course, actor=request_user(request), values=serializer.validated_data)
        return Response(CourseOutputSerializer(self._course(slug)).data)


class OrganisationSerializer(serializers.ModelSerializer[Organisation]):
    seats_in_use = serializers.SerializerMethodField(
        help_text="Members and pending invitations as last read from Docker Hub; null: not read."
    )
    seats_free = serializers.SerializerMethodField(
        help_text="Paid seats not in use; null when the seats or their use are not known."
    )

    class Meta:
        model = Organisation
        fields = ("name", "seats", "seats_in_use", "seats_free", "seats_read_at")
        read_only_fields = fields
        extra_kwargs = {"seats": {"help_text": "The paid seats a site administrator recorded."}}

    def get_seats_in_use(self, org: Organisation) -> int | None:
        return seat_usage(org.name).used

    def get_seats_free(self, org: Organisation) -> int | None:
        return seat_usage(org.name).free


class OrganisationListApi(generics.ListAPIView[Organisation]):
    """The Docker Hub organisations you may run courses on (every registered one, for a site
    administrator): a course's ``organisation`` is one of these names."""

    queryset = Organisation.objects.none()
    serializer_class = OrganisationSerializer
    filterset_fields: tuple[str, ...] = ()
    ordering_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self) -> QuerySet[Organisation]:
        names = [o.name for o in organisations_for(request_user(self.request))]
        return Organisation.objects.filter(name__in=names)
