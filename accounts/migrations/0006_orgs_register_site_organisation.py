"""Register the settings' organisation (DOCKERHUB_ORG) when existing courses run on it, and
grant it to their instructors, so a deployment keeps working once courses may run only on
registered organisations. Other organisations that courses name are left unregistered: the
site-wide credentials never act for them, and a site admin registers them with their own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations


def register_site_organisation(apps: Any, schema_editor: Any) -> None:
    Organisation = apps.get_model("accounts", "Organisation")
    Course = apps.get_model("accounts", "Course")
    CourseRole = apps.get_model("accounts", "CourseRole")
    name = str(settings.DOCKERHUB_ORG)
    courses = Course.objects.filter(organisation__iexact=name)
    if not name or not courses.exists():
        return
    organisation = Organisation.objects.filter(name__iexact=name).first()
    if organisation is None:
        organisation = Organisation.objects.create(name=name)
    instructors = CourseRole.objects.filter(course__in=courses, role="instructor").values_list(
        "user_id", flat=True
    )
    organisation.instructors.add(*set(instructors))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_orgs_organisation")]

    operations = [migrations.RunPython(register_site_organisation, migrations.RunPython.noop)]
