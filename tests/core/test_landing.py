"""Login, logout, and the landing page sending each role to its place."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Course, Enrolment
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_see_the_welcome_page_with_a_sign_in_link(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


@pytest.mark.parametrize(
    ("who", "place"),
    [
        ("instructor", "/courses/"),
        ("ta", "/courses/"),
        ("outsider", "/welcome/"),
        ("site_admin", "/organisation/"),
    ],
)
def test_the_landing_page_sends_each_role_to_its_place(client, request, who, place):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == place
    assert client.get(place).status_code == 200


def test_a_student_in_one_course_lands_on_its_page(client, student):
    enrolment = Enrolment.objects.get(user=student)
    client.force_login(student)

    response = client.get("/")

    assert response.status_code == 302
    assert response.url == reverse("student:status", args=[enrolment.pk])


def test_a_student_in_two_courses_picks_one(client, student, course):
    other = Course.objects.create(name="Docker 201", slug="docker-201", organisation="revelare")
    Enrolment.objects.create(course=other, identifier=student.email, user=student)
    client.force_login(student)

    response = client.get("/")
    page = client.get(response.url).content.decode()

    assert response.url == "/me/"
    assert "Docker 201" in page and course.name in page


def test_a_user_signs_in_with_email_and_password_and_out_again(client, instructor):
    response = client.post(
        "/accounts/login/", {"login": instructor.email, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/courses/"
    assert b"Docker 101" in response.content
    client.post("/accounts/logout/")
    assert client.get("/courses/").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, instructor):
    response = client.post("/accounts/login/", {"login": instructor.email, "password": "nope"})
    assert response.status_code == 200
    assert b"not correct" in response.content


def test_the_organisation_page_is_for_site_admins_only(client, instructor):
    client.force_login(instructor)
    assert client.get("/organisation/").status_code == 403


def test_pages_need_a_signed_in_user(client):
    for url in ("/courses/", "/me/", "/organisation/", "/welcome/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_the_github_sign_in_points_at_the_configured_server(client, settings):
    response = client.post("/accounts/github/login/")
    assert response.status_code == 302
    assert response.url.startswith(f"{settings.GITHUB_URL}/login/oauth/authorize?")


def test_the_sign_in_page_speaks_to_staff_and_students(client):
    page = client.get("/accounts/login/?next=/courses/").content.decode()

    assert "<h1>Sign in</h1>" in page
    assert "Sign in with GitHub" in page
    assert 'name="next" value="/courses/"' in page  # both forms keep where to go next
    assert page.count('name="next" value="/courses/"') == 2
    assert "third-party" not in page


def test_signing_up_with_email_keeps_where_to_go_and_says_what_is_wrong(client):
    page = client.get("/accounts/signup/?next=/join/abc/").content.decode()
    mismatch = client.post(
        "/accounts/signup/",
        {"email": "new@school.edu", "password1": "a-long-pass-1", "password2": "another-pass-2"},
    )
    created = client.post(
        "/accounts/signup/",
        {
            "email": "new@school.edu",
            "password1": "a-long-pass-1",
            "password2": "a-long-pass-1",
            "next": "/me/",
        },
    )

    assert "<h1>Create an account</h1>" in page
    assert page.count('value="/join/abc/"') == 2  # the form and "Sign in with GitHub"
    assert mismatch.status_code == 200 and b"same password" in mismatch.content
    assert created.status_code == 302


@pytest.mark.parametrize(
    ("who", "links", "hidden"),
    [
        ("instructor", ["/courses/", "/settings/tokens/"], ["/me/", "/organisation/"]),
        ("student", ["/me/"], ["/courses/", "/settings/tokens/", "/organisation/"]),
        ("site_admin", ["/organisation/", "/courses/", "/settings/tokens/"], []),
    ],
)
def test_the_navigation_offers_each_role_its_own_places(client, request, who, links, hidden):
    client.force_login(request.getfixturevalue(who))
    nav = client.get("/welcome/").content.decode()
    nav = nav[nav.index('<header class="topbar">') : nav.index("</header>")]
    for link in links:
        assert f'href="{link}"' in nav, link
    for link in hidden:
        assert f'href="{link}"' not in nav, link
