from __future__ import annotations

from django.contrib import admin

from student.models import BuildNotice, JoinLink, JoinRequest


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


@admin.register(BuildNotice)
class BuildNoticeAdmin(admin.ModelAdmin[BuildNotice]):
    list_display = ("enrolment", "outcome", "notified_at")
    list_select_related = ("enrolment__course",)
