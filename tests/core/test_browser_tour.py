"""A tour of the main pages as an instructor, a student, an admin and a visitor would read
them, at a phone's width (390 px) and a laptop's (1280 px). Screenshots go to
test-artifacts/tour/<who>-<page>-<width>.png.

A page fails the tour when it scrolls sideways (a table may scroll inside its own box), when
the browser logs an error or a request fails (a missing favicon included), or when its prose
shows a key instead of words: ``snake_case`` or ``dotted.names``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import (
    Course,
    CourseRole,
    Enrolment,
    InviteState,
    OnboardingState,
    OrgInvite,
    OrgMember,
    OrgSnapshot,
    OrgTeam,
    PreflightState,
    User,
)
from builds.models import Build, BuildState
from hubcourse.audit import Outcome, audit_record
from hubcourse.models import JobStatus
from onboarding.models import ApplyRun
from repositories.models import StudentRepository
from tests.browser_fixtures import login_as, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280)
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
DOTTED = re.compile(r"\b[a-z]+\.[a-z]+(?:\.[a-z]+)*\b")
# What may rightly look like a key: email and web addresses, repository paths, template
# placeholders ("{docker_id}"), GitHub token scopes ("admin:repo_hook") and "e.g.". Text in code,
# pre, kbd and samp elements (file names, CSV columns, logs) is left out before this.
NOT_KEYS = re.compile(
    r"\S+@\S+|https?://\S+|\b[\w-]+(\.[\w-]+)+/\S*|\{\w+\}|\b\w+:\w+\b|\b(e\.g|i\.e)\."
)
PROSE = """() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('code, pre, kbd, samp, script, style, .sr-only, .visually-hidden')
        .forEach(e => e.remove());
    return copy.innerText || copy.textContent;
}"""
# The elements that stick out of the window, outside a box that scrolls on its own.
WIDE = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(e => !(e.parentElement && e.parentElement.closest('.scroll')))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${e.className}`)"""


def _cast() -> dict[str, Any]:
    """A course in full swing: students at several steps, builds good and bad, an audit."""
    now = timezone.now()
    days_ago = now - dt.timedelta(days=2)
    course = Course.objects.create(name="Docker 101", slug="docker-101", organisation="Revelare")
    instructor = User.objects.create_user("ines.instructor@example.edu", PASSWORD)
    CourseRole.objects.create(course=course, user=instructor, role=CourseRole.Role.INSTRUCTOR)
    admin = User.objects.create_superuser("ada.admin@example.edu", PASSWORD)
    student = User.objects.create_user("sam.student@example.edu", PASSWORD)
    sam = Enrolment.objects.create(
        course=course,
        identifier="sam.student@example.edu",
        name="Sam Student, whose name is rather long",
        user=student,
        docker_id="samstudent",
        github_repo="sam-student/docker-course-homework",
        state=OnboardingState.FIRST_BUILD_SUCCEEDED,
        preflight_state=PreflightState.PASSED,
        invite_state=InviteState.ACCEPTED,
        docker_id_verified_at=days_ago,
        invited_at=days_ago,
        member_at=days_ago,
        team_at=days_ago,
    )
    StudentRepository.objects.create(
        enrolment=sam,
        namespace="revelare",
        name="docker-101-samstudent",
        created_at=days_ago,
        permission_granted_at=days_ago,
        instructors_permission_at=days_ago,
        build_configured_at=days_ago,
        last_pushed_at=now - dt.timedelta(minutes=12),
    )
    history = ((300, BuildState.FAILED), (60, BuildState.SUCCESS), (10, BuildState.FAILED))
    for minutes, outcome in history:
        start = now - dt.timedelta(minutes=minutes)
        Build.objects.create(
            enrolment=sam,
            backend="dockerhub-autobuild",
            external_id=f"b{minutes}",
            state=outcome,
            commit_sha="0123456789abcdef0123456789abcdef01234567",
            branch="main",
            created_at=start,
            started_at=start,
            finished_at=start + dt.timedelta(seconds=65),
            log_excerpt="Step 1/3 : FROM alpine\nERROR: DockerfileVolume: not found",
        )
    Enrolment.objects.create(course=course, identifier="s1000", name="Student without an ID")
    Enrolment.objects.create(
        course=course,
        identifier="s1001",
        name="Invited student",
        docker_id="student1",
        state=OnboardingState.INVITED,
        invite_state=InviteState.PENDING,
        invited_at=now - dt.timedelta(hours=3),
    )
    audit_record(
        service="Docker Hub",
        action="invite.bulk",
        target="revelare/students",
        outcome=Outcome.OK,
        course=course,
        actor=instructor,
        message="Sent invitations to 3 students in one request.",
    )
    # The organisation as last read from Docker Hub, and an invitation hubcourse just sent.
    OrgSnapshot.objects.create(organisation="revelare", status=JobStatus.DONE, synced_at=now)
    OrgMember.objects.create(
        organisation="revelare", username="samstudent", role="Member", teams=["students"]
    )
    OrgTeam.objects.create(organisation="revelare", team_id=1, name="students")
    OrgInvite.objects.create(
        organisation="revelare",
        invite_id="tour-invite",
        invitee="student1",
        team="students",
        role="member",
        created_at=now,
        sent_by_hubcourse_at=now,
    )
    run = ApplyRun.objects.create(
        course=course, created_by=instructor, status=JobStatus.DONE, total=2, done=2, students=1
    )
    return {"course": course, "instructor": instructor, "admin": admin, "sam": sam, "run": run}


def _keys(prose: str) -> list[str]:
    prose = NOT_KEYS.sub(" ", prose)
    return sorted(set(SNAKE.findall(prose) + DOTTED.findall(prose)))


def _visit(page: Any, path: str, name: str, errors: list[str], problems: list[str]) -> None:
    for width in WIDTHS:
        where = f"{name} at {width} px"
        errors.clear()
        page.set_viewport_size({"width": width, "height": 900})
        response = page.goto(path)
        # Idle, so what the page still fetches is not cut short by the next visit.
        page.wait_for_load_state("networkidle")
        if response is None or response.status >= 400:
            problems.append(f"{where}: {path} answered {response and response.status}")
            continue
        save_screenshot(page, "tour", f"{name}-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{where} scrolls sideways by {overflow} px: {page.evaluate(WIDE)}")
        sign_out = page.get_by_role("button", name="Sign out")
        if sign_out.count():
            box = sign_out.bounding_box()
            if box is None or box["x"] < 0 or box["x"] + box["width"] > width:
                problems.append(f"{where}: Sign out is off screen ({box})")
        prose = page.evaluate(PROSE)
        keys = _keys(prose)
        if keys:
            problems.append(f"{where} shows keys: {keys}")
        # One spelling of the organisation: Docker Hub's (its lowercase namespace).
        if "Revelare" in prose:
            problems.append(f"{where} spells the organisation 'Revelare', not 'revelare'")
        problems.extend(f"{where}: {error}" for error in errors)


def test_every_main_page_reads_well_on_a_phone_and_a_laptop(page: Any) -> None:
    cast = _cast()
    course, sam = cast["course"], cast["sam"]
    slug, build = course.slug, sam.builds.order_by("-created_at").first()
    tours: dict[str, tuple[User | None, list[tuple[str, str]]]] = {
        "visitor": (None, [("/accounts/login/", "sign-in"), ("/api/v1/", "api-index")]),
        "instructor": (
            cast["instructor"],
            [
                ("/courses/", "courses"),
                (f"/courses/{slug}/", "board"),
                (f"/courses/{slug}/?errors=1", "board-problems"),
                (f"/courses/{slug}/students/{sam.pk}/", "student"),
                (f"/courses/{slug}/plan/", "plan"),
                (f"/courses/{slug}/plan/?run={cast['run'].pk}", "plan-applied"),
                (f"/courses/{slug}/audit/", "audit"),
                (f"/courses/{slug}/roles/", "staff"),
                (f"/courses/{slug}/roster/", "roster"),
                (f"/courses/{slug}/settings/", "settings"),
                (f"/courses/{slug}/join-link/", "course-link"),
                ("/settings/tokens/", "api-tokens"),
            ],
        ),
        "student": (
            sam.user,
            [
                (f"/my/{sam.pk}/", "status"),
                (f"/my/{sam.pk}/builds/", "builds"),
                (f"/my/{sam.pk}/builds/{build.pk}/", "build-log"),
            ],
        ),
        "admin": (
            cast["admin"],
            [
                ("/organisation/", "organisation"),
                ("/organisation/members/", "members"),
                ("/organisation/bulk/", "bulk-add"),
                (f"/organisation/courses/{slug}/offboard/", "offboard"),
                ("/organisation/github-app/", "github-app"),
                ("/api/docs/", "api-docs"),
            ],
        ),
    }
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on(
        "response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    problems: list[str] = []
    for who, (user, pages) in tours.items():
        page.context.clear_cookies()
        if user is not None:
            login_as(page, user)
        for path, name in pages:
            _visit(page, path, f"{who}-{name}", errors, problems)

    assert not problems, "\n".join(problems)

    # The members page as a person reads it (still signed in as the admin, the tour's last):
    # the course by name, the invitation just sent.
    page.goto("/organisation/members/")
    members = page.locator("#members ~ div table")
    assert members.get_by_role("link", name="Docker 101").count() == 1
    invites = page.locator("form[data-select-scope] table")
    assert "Sent by hubcourse, not read back from Docker Hub yet" in invites.inner_text()
    assert page.locator("#sync-status").get_by_text("Reading").count() == 0
    # The team field offers the teams Docker Hub listed.
    page.goto("/organisation/bulk/")
    assert page.locator("#known-teams option").evaluate_all("o => o.map(e => e.value)") == [
        "students"
    ]
