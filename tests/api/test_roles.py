"""Course staff through the API, with the roles page's rules."""

from __future__ import annotations

import pytest

from accounts.models import CourseRole

pytestmark = pytest.mark.django_db


def test_an_instructor_invites_a_ta_and_the_staff_list_waits_for_acceptance(
    token_client, course, instructor
):
    client = token_client(instructor)
    response = client.post(
        f"/api/v1/courses/{course.slug}/roles/", {"email": "Nina.TA@example.edu", "role": "ta"}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["email"] == "nina.ta@example.edu"
    assert response.json()["role"] == "ta" and response.json()["expires_at"]
    staff = client.get(f"/api/v1/courses/{course.slug}/roles/").json()["results"]
    assert [(r["email"], r["role"]) for r in staff] == [
        ("ines.instructor@example.edu", "instructor"),
    ]


def test_changing_the_role_of_current_staff_takes_effect_at_once(
    token_client, course, instructor, ta
):
    response = token_client(instructor).post(
        f"/api/v1/courses/{course.slug}/roles/", {"email": ta.email, "role": "instructor"}
    )
    assert response.status_code == 200, response.json()
    assert CourseRole.objects.get(course=course, user=ta).role == "instructor"


def test_the_last_instructor_cannot_be_removed(token_client, course, instructor):
    own = CourseRole.objects.get(course=course, user=instructor)
    response = token_client(instructor).delete(f"/api/v1/courses/{course.slug}/roles/{own.pk}/")
    assert response.status_code == 409
    assert "at least one instructor" in response.json()["error"]["message"]
    assert CourseRole.objects.filter(pk=own.pk).exists()


def test_a_student_of_the_course_cannot_also_be_staff(token_client, course, instructor, student):
    response = token_client(instructor).post(
        f"/api/v1/courses/{course.slug}/roles/", {"email": student.email, "role": "ta"}
    )
    assert response.status_code == 409
    assert "student on this course" in response.json()["error"]["message"]
