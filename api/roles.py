"""A course's staff: everyone on it sees who teaches it; instructors add and remove people."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import CourseRole, RoleInvitation
from api.base import request_user, staff_access
from onboarding import courses


class RoleSerializer(serializers.ModelSerializer[CourseRole]):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = CourseRole
        fields = ("id", "email", "name", "role")
        read_only_fields = fields


class RoleInputSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(
        help_text="They sign in with GitHub or reset a password with this address."
    )
    role = serializers.ChoiceField(choices=CourseRole.Role.choices)


class RoleInvitationSerializer(serializers.ModelSerializer[RoleInvitation]):
    """A role offered by email: it attaches once they accept, signed in with that address."""

    class Meta:
        model = RoleInvitation
        fields = ("id", "email", "role", "created_at", "expires_at")
        read_only_fields = fields


class RoleListCreateApi(generics.ListCreateAPIView[CourseRole]):
    """Instructors and TAs of the course. POST invites someone to a role (or changes theirs)."""

    queryset = CourseRole.objects.none()
    serializer_class = RoleSerializer
    filterset_fields = ("role",)
    ordering_fields = ("role", "user__email")
    ordering = ("role", "user__email")

    def get_queryset(self) -> QuerySet[CourseRole]:
        course = staff_access(self.request, self.kwargs["slug"]).course
        return course.roles.select_related("user")

    @extend_schema(
        request=RoleInputSerializer,
        responses={201: RoleInvitationSerializer, 200: RoleSerializer},
        description="Sends a signed invitation to the address (201); changes the role of "
        "someone who already has one on the course at once (200).",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        course = staff_access(request, kwargs["slug"], manage=True).course
        serializer = RoleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        granted = courses.role_grant(
            course=course,
            actor=request_user(request),
            email=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
        )
        if isinstance(granted, CourseRole):
            return Response(RoleSerializer(granted).data, status=status.HTTP_200_OK)
        return Response(RoleInvitationSerializer(granted).data, status=status.HTTP_201_CREATED)


class RoleDetailApi(generics.GenericAPIView[CourseRole]):
    """Remove someone's role; a course keeps at least one instructor."""

    queryset = CourseRole.objects.none()
    serializer_class = RoleSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, role_id: int) -> Response:
        course = staff_access(request, slug, manage=True).course
        if not course.roles.filter(pk=role_id).exists():
            raise NotFound("No such role on this course.")
        courses.role_revoke(course=course, actor=request_user(request), role_id=role_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
