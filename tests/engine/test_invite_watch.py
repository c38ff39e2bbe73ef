"""Students who accept their invite are noticed within a minute, not at the next full pass."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import Course, Enrolment, InviteState
from accounts.services import course_ensure_teams, course_invite_students
from integrations.dockerhub.client import DockerHubClient
from onboarding.engine import observe_course
from onboarding.tasks.course import watch_pending_invites
from tests.engine.support import accept_all_invites, make_class, requests_to

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_course(sandbox: Any, course: Course) -> Course:
    course.organisation = sandbox.seeded["dockerhub"]["org"]
    course.save()
    return course


def test_an_accepted_invite_is_seen_by_the_next_watch(sandbox: Any, hub_course: Course) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    make_class(sandbox, hub_course, 3, checked=True)
    course_invite_students(course_id=hub_course.pk)
    accept_all_invites(sandbox, hub_course.organisation)

    cache.clear()
    watch_pending_invites()

    states = set(Enrolment.objects.values_list("invite_state", flat=True))
    assert states == {InviteState.ACCEPTED}
    assert all(Enrolment.objects.values_list("member_at", flat=True))


def test_it_looks_once_per_interval_and_only_at_courses_with_pending_invites(
    sandbox: Any, hub_course: Course
) -> None:
    quiet = Course.objects.create(name="Quiet", slug="quiet", organisation=hub_course.organisation)
    Enrolment.objects.create(course=quiet, identifier="q@example.edu")
    course_ensure_teams(course_id=hub_course.pk)
    make_class(sandbox, hub_course, 2, checked=True)
    course_invite_students(course_id=hub_course.pk)
    cache.clear()

    org_members = "/v2/orgs/<org_name>/members"  # the route rule; team members are elsewhere
    before = requests_to(sandbox, "GET", org_members)
    watch_pending_invites()
    watch_pending_invites()  # within the same interval: no second pass
    assert requests_to(sandbox, "GET", org_members) - before == 1


def test_a_student_who_accepts_between_the_two_reads_is_a_member_not_a_cancelled_invite(
    sandbox: Any, hub_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    course_ensure_teams(course_id=hub_course.pk)
    (ada,) = make_class(sandbox, hub_course, 1, checked=True)
    course_invite_students(course_id=hub_course.pk)
    # Ada accepts right after the pass's first look at the organisation (its members or its
    # invitations, whichever it reads first), before the second.
    first_look: list[str] = []

    def accepting_after(name: str) -> Any:
        read = getattr(DockerHubClient, name)

        def look(self: DockerHubClient, *args: Any, **kwargs: Any) -> Any:
            found = read(self, *args, **kwargs)
            if not first_look:
                first_look.append(name)
                accept_all_invites(sandbox, hub_course.organisation)
            return found

        return look

    for name in ("list_members", "list_invites"):
        monkeypatch.setattr(DockerHubClient, name, accepting_after(name))
    cache.clear()

    observe_course(hub_course)

    ada.refresh_from_db()
    assert first_look
    assert ada.invite_state == InviteState.ACCEPTED
    assert ada.member_at is not None
