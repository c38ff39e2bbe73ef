from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.managed import AdoptionRefused, adopt
from accounts.models import (
    ApiToken,
    Course,
    CourseRole,
    Enrolment,
    JoinLink,
    JoinRequest,
    ManagedResource,
    Organisation,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class CourseRoleInline(admin.TabularInline[CourseRole, Course]):
    model = CourseRole
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin[Course]):
    list_display = ("name", "slug", "organisation", "created_at", "archived_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [CourseRoleInline]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Course | None = None
    ) -> list[str] | tuple[Any, ...]:
        # The organisation is chosen on the course's settings page, among the registered
        # ones, and never changes once the course has students.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "organisation") if obj is not None else fields


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin[Enrolment]):
    list_display = ("identifier", "name", "course", "docker_id", "github_repo", "user")
    list_filter = ("course",)
    search_fields = ("identifier", "name", "docker_id", "github_repo")


@admin.register(JoinLink)
class JoinLinkAdmin(admin.ModelAdmin[JoinLink]):
    list_display = ("course", "enabled", "policy", "regenerated_at")
    # The token is the link's secret: not listed, not searchable.
    exclude = ("token",)


@admin.register(JoinRequest)
class JoinRequestAdmin(admin.ModelAdmin[JoinRequest]):
    list_display = ("course", "user", "identifier", "claimed", "status", "created_at", "decided_by")
    list_filter = ("status",)
    list_select_related = ("course", "user", "claimed", "decided_by")


@admin.register(ManagedResource)
class ManagedResourceAdmin(admin.ModelAdmin[ManagedResource]):
    """Where a site admin adopts what a course found already there (the separate confirmation
    the plan's "adopt" steps wait for)."""

    list_display = ("course", "kind", "name", "origin", "created_at", "adopted_by")
    list_filter = ("origin", "kind")
    search_fields = ("name", "course__name", "course__slug")
    readonly_fields = ("course", "kind", "name", "external_id", "origin", "adopted_by")
    actions = ("adopt_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Adopt: let the course manage (and offboard) these")
    def adopt_selected(self, request: HttpRequest, queryset: QuerySet[ManagedResource]) -> None:
        user = request.user
        assert isinstance(user, User)
        try:
            rows = list(queryset.filter(origin=ManagedResource.Origin.FOUND))
            for row in rows:
                adopt(row, by=user)
        except AdoptionRefused as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return
        self.message_user(request, f"{len(rows)} adopted.")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Every API token, for a site admin to see and revoke (the token itself is never kept)."""

    list_display = (
        "user",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("user__email", "name", "prefix")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    exclude = ("digest",)
    actions = ("revoke_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens now")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token(s) revoked.")


class OrganisationAdminForm(forms.ModelForm[Organisation]):
    """Registration of an organisation. The token is write-only: never shown back."""

    token = forms.CharField(
        label="Docker Hub access token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "The organisation's access token (identifier: the organisation's name) or an "
            "Owner's personal access token (identifier: the Owner's username; automated builds "
            "need this one). Stored encrypted. Leave empty to keep the stored token; for the "
            "site's own organisation (DOCKERHUB_ORG), empty means the site-wide credentials."
        ),
    )
    clear_token = forms.BooleanField(label="Forget the stored token", required=False)

    class Meta:
        model = Organisation
        fields = ("name", "dockerhub_username", "seats", "instructors")
        labels = {
            "dockerhub_username": "Docker Hub identifier",
            "seats": "Paid seats",
            "instructors": "Instructors granted the right to run courses on it",
        }
        help_texts = {
            "name": "The organisation's name on Docker Hub.",
            "seats": (
                "The seats of the organisation's Docker plan (Docker Hub publishes no API for "
                "it): every member and every pending invitation holds one."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_at = self.instance.dockerhub_token_set_at if self.instance.pk else None
        if set_at:
            self.fields[
                "token"
            ].help_text = (
                f"A token is stored (set on {set_at:%d %b %Y}); enter a new one to replace it."
            )
        self.fields["seats"].required = True
        self.fields["seats"].min_value = 1  # type: ignore[attr-defined]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    """Where a site admin registers an organisation, with its credentials and seats, and
    grants instructors the right to run courses on it."""

    form = OrganisationAdminForm
    list_display = ("name", "seats", "dockerhub_username", "dockerhub_token_set_at", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("instructors",)
    readonly_fields = ("dockerhub_token_set_at", "created_by", "created_at")

    def save_model(
        self,
        request: HttpRequest,
        obj: Organisation,
        form: forms.ModelForm[Organisation],
        change: bool,
    ) -> None:
        token = form.cleaned_data.get("token") or ""
        if token:
            obj.dockerhub_token = token
            obj.dockerhub_token_set_at = timezone.now()
        elif form.cleaned_data.get("clear_token"):
            obj.dockerhub_token = ""
            obj.dockerhub_token_set_at = None
        if not change and isinstance(request.user, User):
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
