"""Courses run only on organisations a site admin registered, with that organisation's own
credentials, and only for the instructors granted it; the site's credentials never act for an
organisation nobody registered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import organisations
from accounts.credentials import dockerhub_client_for, dockerhub_credentials_for
from accounts.models import Course, CourseRole, Enrolment, Organisation, User
from accounts.tokens import token_create
from onboarding import courses, engine
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

OTHER_TOKEN = "dckr_oat_other-organisation-token-0123456789"


def _api(user: User) -> APIClient:
    _, raw = token_create(user=user, name="test script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def other_org(instructor: User) -> Organisation:
    """Another registered organisation, with its own token, granted to the first instructor."""
    org = Organisation.objects.create(name="Elsewhere", seats=10, dockerhub_username="elsewhere")
    org.dockerhub_token = OTHER_TOKEN
    org.save()
    organisations.grant(org, instructor)
    return org


@pytest.fixture
def second_instructor(db: Any) -> User:
    """Teaches a course of their own on the site's organisation; granted nothing else."""
    other = Course.objects.create(name="Docker 201", slug="docker-201")
    user = User.objects.create_user("ivo.instructor@example.edu", PASSWORD)
    CourseRole.objects.create(course=other, user=user, role=CourseRole.Role.INSTRUCTOR)
    site = organisations.registered(other.organisation)
    assert site is not None
    organisations.grant(site, user)
    return user


def test_an_instructor_without_the_grant_cannot_create_a_course_on_an_organisation(
    other_org: Organisation, second_instructor: User
) -> None:
    response = _api(second_instructor).post(
        "/api/v1/courses/", {"name": "Sneaky", "organisation": "elsewhere"}
    )
    assert response.status_code == 400
    assert (
        "may not run courses on elsewhere" in response.json()["error"]["fields"]["organisation"][0]
    )
    assert not Course.objects.filter(name="Sneaky").exists()

    client = Client()
    client.force_login(second_instructor)
    page = client.get(reverse("dashboard:course_new"))
    offered = [value for value, _ in page.context["form"].fields["organisation"].choices]
    assert offered == ["revelare"]
    posted = client.post(
        reverse("dashboard:course_new"),
        {**_form_values(page.context["form"]), "name": "Sneaky", "organisation": "Elsewhere"},
    )
    assert posted.status_code == 200
    assert "may not run courses on elsewhere" in str(posted.context["form"].errors["organisation"])
    assert not Course.objects.filter(name="Sneaky").exists()


def test_the_granted_instructor_creates_a_course_on_it(
    other_org: Organisation, instructor: User
) -> None:
    response = _api(instructor).post(
        "/api/v1/courses/", {"name": "Elsewhere 101", "organisation": "elsewhere"}
    )
    assert response.status_code == 201, response.json()
    # Stored as registered, whatever the case it was typed in.
    assert response.json()["organisation"] == "elsewhere"


def test_an_instructor_without_the_grant_cannot_switch_a_course_to_it(
    other_org: Organisation, second_instructor: User
) -> None:
    response = _api(second_instructor).patch(
        "/api/v1/courses/docker-201/", {"organisation": "Elsewhere"}
    )
    assert response.status_code == 400
    assert "may not run courses on elsewhere" in str(response.json())
    assert Course.objects.get(slug="docker-201").organisation == "revelare"


def test_an_unregistered_organisation_is_refused(course: Course, site_admin: User) -> None:
    response = _api(site_admin).patch(f"/api/v1/courses/{course.slug}/", {"organisation": "Nope"})
    assert response.status_code == 400
    assert "Nope is not a registered organisation" in str(response.json())


def test_the_organisation_cannot_change_once_the_course_has_students(
    course: Course, student: User, other_org: Organisation, instructor: User, site_admin: User
) -> None:
    for who in (instructor, site_admin):
        response = _api(who).patch(f"/api/v1/courses/{course.slug}/", {"organisation": "Elsewhere"})
        assert response.status_code == 400
        assert "cannot change: the course has 1 student" in str(response.json())
    course.refresh_from_db()
    assert course.organisation == "revelare"
    # The settings page shows it fixed, and saying the same name again is no change.
    client = Client()
    client.force_login(instructor)
    field = (
        client.get(reverse("dashboard:settings", args=[course.slug]))
        .context["form"]
        .fields["organisation"]
    )
    assert field.disabled and "Fixed" in field.help_text
    assert (
        courses.course_update(course=course, actor=instructor, values={"organisation": "revelare"})
        == []
    )


def test_without_students_the_granted_instructor_may_switch(
    course: Course, other_org: Organisation, instructor: User
) -> None:
    response = _api(instructor).patch(
        f"/api/v1/courses/{course.slug}/", {"organisation": "Elsewhere"}
    )
    assert response.status_code == 200, response.json()
    course.refresh_from_db()
    assert dockerhub_credentials_for(course) == ("elsewhere", OTHER_TOKEN)


def test_an_unregistered_organisation_never_gets_the_site_credentials(sandbox: Any) -> None:
    # A course left on an organisation nobody registered (made before registration existed).
    course = Course.objects.create(name="Old", slug="old", organisation="Stranger")
    Enrolment.objects.create(course=course, identifier="a@example.edu", docker_id="ada")
    with pytest.raises(organisations.OrganisationNotUsable, match="stranger is not registered"):
        dockerhub_credentials_for(course)
    with pytest.raises(organisations.OrganisationNotUsable):
        engine.observe_course(course)
    # The connection check says so in words, instead of trying the site's token.
    check = courses.connection_check_start(course=course, actor=None)  # type: ignore[arg-type]
    done = courses.connection_check_run(check_id=check.pk)
    assert done is not None
    assert done.results[0]["ok"] is False
    assert "not registered in hubcourse" in done.results[0]["message"]


def test_a_registered_organisation_without_a_token_gets_no_site_credentials(db: Any) -> None:
    Organisation.objects.create(name="Bare", seats=5)
    course = Course.objects.create(name="Bare", slug="bare", organisation="Bare")
    with pytest.raises(organisations.OrganisationNotUsable, match="without Docker Hub credentials"):
        dockerhub_client_for(course)


def test_the_site_organisation_is_registered_on_first_use_with_the_site_credentials(
    course: Course, settings: Any
) -> None:
    settings.DOCKERHUB_USERNAME, settings.DOCKERHUB_TOKEN = "owner", "dckr_pat_site"
    assert not Organisation.objects.exists()
    assert dockerhub_credentials_for(course) == ("owner", "dckr_pat_site")
    assert Organisation.objects.get().name == settings.DOCKERHUB_ORG


def test_a_site_admin_registers_an_organisation_with_a_write_only_token(
    client: Client, site_admin: User, instructor: User
) -> None:
    client.force_login(site_admin)
    response = client.post(
        reverse("admin:accounts_organisation_add"),
        {
            "name": "Elsewhere",
            "dockerhub_username": "elsewhere",
            "seats": "25",
            "instructors": [str(instructor.pk)],
            "token": OTHER_TOKEN,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    org = Organisation.objects.get(name="Elsewhere")
    assert org.seats == 25 and org.created_by == site_admin
    assert org.dockerhub_token.reveal() == OTHER_TOKEN
    assert list(org.instructors.all()) == [instructor]
    page = client.get(reverse("admin:accounts_organisation_change", args=[org.pk]))
    assert OTHER_TOKEN not in page.content.decode()
    index = client.get(reverse("organisation:index")).content.decode()
    assert "elsewhere" in index and "25" in index and OTHER_TOKEN not in index


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                values[name] = "on"
        elif value is not None:
            values[name] = value
    return values


def test_the_api_lists_the_organisations_each_person_may_choose(
    other_org: Organisation, instructor: User, second_instructor: User, site_admin: User
) -> None:
    def names(user: User) -> list[str]:
        response = _api(user).get("/api/v1/organisations/")
        assert response.status_code == 200
        return [row["name"] for row in response.json()["results"]]

    assert names(instructor) == ["elsewhere", "revelare"]
    assert names(second_instructor) == ["revelare"]
    assert names(site_admin) == ["elsewhere", "revelare"]
    row = _api(instructor).get("/api/v1/organisations/").json()["results"][0]
    assert row["seats"] == 10 and "token" not in str(row).lower()
