"""Lists show each person only what the pages would show them."""

from __future__ import annotations

import pytest

from accounts.models import Course, CourseRole, Enrolment
from builds.models import Build, BuildState
from hubcourse.audit import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_courses(course, instructor, student):
    other = Course.objects.create(name="Kubernetes 201", slug="k8s-201")
    stranger = Enrolment.objects.create(course=other, identifier="x@example.edu")
    own = Enrolment.objects.get(user=student)
    builds = {
        "own": Build.objects.create(enrolment=own, backend="b", external_id="1"),
        "other": Build.objects.create(enrolment=stranger, backend="b", external_id="2"),
    }
    audit_record(service="hubcourse", action="a.here", target="t", outcome="ok", course=course)
    audit_record(service="hubcourse", action="a.there", target="t", outcome="ok", course=other)
    audit_record(service="hubcourse", action="a.nowhere", target="t", outcome="ok")
    return other, builds


def _ids(response, key="id"):
    assert response.status_code == 200, response.json()
    return [item[key] for item in response.json()["results"]]


def test_courses_list_only_the_courses_you_teach_with_your_role(
    token_client, two_courses, course, ta, site_admin, outsider
):
    body = token_client(ta).get("/api/v1/courses/").json()
    assert [(c["slug"], c["role"]) for c in body["results"]] == [(course.slug, "ta")]
    admin = _ids(token_client(site_admin).get("/api/v1/courses/?ordering=slug"), "slug")
    assert admin == ["docker-101", "k8s-201"]
    assert _ids(token_client(outsider).get("/api/v1/courses/"), "slug") == []


def test_builds_list_the_staffs_courses_and_a_students_own(
    token_client, two_courses, instructor, student, outsider
):
    _, builds = two_courses
    assert _ids(token_client(instructor).get("/api/v1/builds/")) == [builds["own"].pk]
    assert _ids(token_client(student).get("/api/v1/builds/")) == [builds["own"].pk]
    assert _ids(token_client(outsider).get("/api/v1/builds/")) == []
    assert token_client(student).get(f"/api/v1/builds/{builds['other'].pk}/").status_code == 404


def test_a_student_does_not_see_a_classmates_build(token_client, course, student):
    classmate = Enrolment.objects.create(course=course, identifier="zoe@example.edu")
    build = Build.objects.create(enrolment=classmate, backend="b", external_id="9")
    assert token_client(student).get(f"/api/v1/builds/{build.pk}/").status_code == 404
    assert _ids(token_client(student).get("/api/v1/builds/")) == []


def test_the_audit_log_shows_your_courses_and_organisation_events_to_admins(
    token_client, two_courses, instructor, site_admin, student
):
    actions = _ids(token_client(instructor).get("/api/v1/audit/"), "action")
    assert actions == ["a.here"]
    admin = set(_ids(token_client(site_admin).get("/api/v1/audit/"), "action"))
    assert {"a.here", "a.there", "a.nowhere"} <= admin
    assert _ids(token_client(student).get("/api/v1/audit/"), "action") == []


def test_a_ta_added_later_sees_the_course_at_once(token_client, two_courses, outsider):
    other, _ = two_courses
    client = token_client(outsider)
    assert client.get(f"/api/v1/courses/{other.slug}/").status_code == 404
    CourseRole.objects.create(course=other, user=outsider, role=CourseRole.Role.TA)
    assert client.get(f"/api/v1/courses/{other.slug}/").status_code == 200


def test_build_filters_by_course_student_state_and_time(token_client, course, instructor, student):
    own = Enrolment.objects.get(user=student)
    zoe = Enrolment.objects.create(course=course, identifier="zoe@example.edu", docker_id="zoezoe")
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    old = Build.objects.create(
        enrolment=own,
        backend="b",
        external_id="old",
        state=BuildState.FAILED,
        created_at=now - dt.timedelta(days=3),
    )
    new = Build.objects.create(
        enrolment=own, backend="b", external_id="new", state=BuildState.SUCCESS
    )
    zoes = Build.objects.create(
        enrolment=zoe, backend="b", external_id="z", state=BuildState.RUNNING
    )
    client = token_client(instructor)
    get = lambda query: _ids(client.get(f"/api/v1/builds/?{query}"))  # noqa: E731
    assert get(f"course={course.slug}") == [zoes.pk, new.pk, old.pk]
    assert get("student=zoezoe") == [zoes.pk]
    assert get(f"enrolment={own.pk}&ordering=created_at") == [old.pk, new.pk]
    assert get("state=failed&state=running") == [zoes.pk, old.pk]
    since = (now - dt.timedelta(days=1)).isoformat()
    assert set(get(f"since={since.replace('+', '%2B')}")) == {new.pk, zoes.pk}
    bad = client.get("/api/v1/builds/?state=exploded")
    assert bad.status_code == 400
    assert "state" in bad.json()["error"]["fields"]
