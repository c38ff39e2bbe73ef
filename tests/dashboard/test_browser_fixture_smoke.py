from __future__ import annotations

import pytest

from tests.browser_fixtures import browser, login_as, page, save_screenshot  # noqa: F401


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_signed_in_instructor_sees_their_course_list(page, instructor, course):  # noqa: F811
    login_as(page, instructor)
    page.goto("/")
    assert course.name in page.content()
    assert save_screenshot(page, "dashboard", "smoke-course-list").exists()
