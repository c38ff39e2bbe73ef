from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Course, CourseRole, Enrolment, JoinLink, JoinRequest, User


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
    list_display = ("name", "slug", "created_at", "archived_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [CourseRoleInline]


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
    list_display = ("course", "user", "identifier", "status", "created_at", "decided_by")
    list_filter = ("status",)
    list_select_related = ("course", "user", "decided_by")
