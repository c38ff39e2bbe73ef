from __future__ import annotations

from django.contrib import admin

from builds.models import BuildNotice


@admin.register(BuildNotice)
class BuildNoticeAdmin(admin.ModelAdmin[BuildNotice]):
    list_display = ("enrolment", "outcome", "notified_at")
    list_select_related = ("enrolment__course",)
