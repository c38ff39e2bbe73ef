"""The one access policy: staff by role, students only their own, everyone else 404."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.access import get_course_for_staff, get_enrolment_for_staff, get_enrolment_for_student
from accounts.models import Enrolment

pytestmark = pytest.mark.django_db


def test_instructors_manage_and_tas_only_operate(course, instructor, ta):
    assert get_course_for_staff(instructor, course.slug, manage=True).can_manage
    access = get_course_for_staff(ta, course.slug)
    assert access.can_operate and not access.can_manage
    with pytest.raises(PermissionDenied):
        get_course_for_staff(ta, course.slug, manage=True)


@pytest.mark.parametrize("who", ["student", "outsider"])
def test_students_and_outsiders_get_404_on_staff_pages(request, course, who):
    with pytest.raises(Http404):
        get_course_for_staff(request.getfixturevalue(who), course.slug)


def test_an_unknown_course_is_404_even_for_a_site_admin(site_admin):
    with pytest.raises(Http404):
        get_course_for_staff(site_admin, "no-such-course")


def test_site_admins_act_as_instructors(course, site_admin):
    assert get_course_for_staff(site_admin, course.slug, manage=True).can_manage


def test_a_student_sees_only_their_own_enrolment(course, student, outsider, instructor):
    own = Enrolment.objects.get(user=student)
    assert get_enrolment_for_student(student, own.pk) == own
    other = Enrolment.objects.create(course=course, identifier="zoe@example.edu")
    for user in (student, outsider, instructor):
        with pytest.raises(Http404):
            get_enrolment_for_student(user, other.pk)


def test_staff_reach_enrolments_only_through_their_course(course, instructor, student):
    own = Enrolment.objects.get(user=student)
    _, found = get_enrolment_for_staff(instructor, course.slug, own.pk)
    assert found == own
    from accounts.models import Course

    elsewhere = Course.objects.create(name="Other", slug="other")
    stranger = Enrolment.objects.create(course=elsewhere, identifier="x@example.edu")
    with pytest.raises(Http404):
        get_enrolment_for_staff(instructor, course.slug, stranger.pk)
