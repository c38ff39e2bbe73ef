"""The audit log of changes hubcourse makes outside: the one way to write an AuditEvent.

Every step that writes to Docker Hub or GitHub (or decides it had nothing to write) records
one event here, so the instructor can see who asked for what, on what, when, and how it
ended. Messages are for people: an exception's text is already free of URLs and secrets
(see ``hubcourse.errors``), and this helper trims what it stores.
"""

from __future__ import annotations

from typing import Any, Protocol

from hubcourse.models import AuditEvent

Outcome = AuditEvent.Outcome


# What the log needs of a course, a student's enrolment and a person: their keys. Typed by
# shape, so the core does not import the domain above it.
class _Row(Protocol):
    @property
    def pk(self) -> Any: ...


class _Enrolment(_Row, Protocol):
    @property
    def course_id(self) -> int: ...


_TARGET_MAX = 300
_MESSAGE_MAX = 2000


def audit_record(
    *,
    service: str,
    action: str,
    target: str,
    outcome: str,
    course: _Row | None = None,
    enrolment: _Enrolment | None = None,
    actor: _Row | None = None,
    message: str | BaseException = "",
) -> AuditEvent:
    """Store one audit event and return it.

    ``service`` names the outside service ("Docker Hub", "GitHub"); ``action`` is a dotted
    verb ("repository.create"); ``outcome`` is an ``AuditEvent.Outcome``. The course is taken
    from the enrolment when only that is given. Pass an exception as ``message`` to store its
    person-readable text.
    """
    if outcome not in Outcome.values:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    course_id = course.pk if course is not None else None
    if course_id is None and enrolment is not None:
        course_id = enrolment.course_id
    return AuditEvent.objects.create(
        course_id=course_id,
        enrolment_id=enrolment.pk if enrolment is not None else None,
        actor_id=actor.pk if actor is not None else None,
        service=service,
        action=action,
        target=target[:_TARGET_MAX],
        outcome=outcome,
        message=str(message)[:_MESSAGE_MAX],
    )


# What each action asked for, as the audit log's reader says it; the result beside it says
# how it ended ("Done", "Failed"). The dotted action stays the stored key (filters, the CSV,
# the API); pages show these words instead.
ACTION_WORDS: dict[str, str] = {
    "account.revoke_access": "Take away the account's access",
    "api_token.create": "Create an API token",
    "api_token.revoke": "Revoke an API token",
    "app.enter_credentials": "Enter the GitHub App's credentials",
    "app.register": "Register the GitHub App",
    "autobuild.configure": "Set up the automated build",
    "autobuild.correct": "Correct the automated build",
    "autobuild.delete": "Remove the automated build",
    "build.trigger": "Start a build",
    "build.rebuild": "Rebuild the latest commit",
    "course.create": "Create the course",
    "course.offboard": "Offboard the course",
    "course.offboard_finish": "Finish offboarding the course",
    "course.offboard_resume": "Resume offboarding the course",
    "course.settings": "Change the course's settings",
    "enrolment.correct": "Correct the student's details",
    "enrolment.create": "Add the student",
    "enrolment.delete": "Remove the student",
    "enrolment.link": "Link the student's account",
    "enrolment.link_accounts": "Link the student's accounts",
    "enrolment.retry": "Retry the failed step",
    "enrolment.unlink": "Unlink the student's account",
    "enrolment.update": "Change the student's details",
    "invite.bulk": "Invite the class to the organisation",
    "invite.bulk_check": "Check a list of people to invite (nothing sent)",
    "invite.bulk_resume": "Resume sending invitations",
    "invite.cancel": "Cancel an invitation",
    "invite.resend": "Send an invitation again",
    "invite.send": "Send an invitation",
    "join_link.regenerate": "Give the course link a new address",
    "join_link.update": "Change the course link",
    "join_request.refuse": "Refuse a request to join",
    "member.remove": "Remove a member from the organisation",
    "organisation.sync": "Read the organisation's members and invitations",
    "permission.grant": "Grant a team permission",
    "permission.change": "Change a team permission",
    "repo.tag.push": "Push an image tag",
    "repository.create": "Create the Docker Hub repository",
    "repository.privacy": "Change the repository's privacy",
    "role.accept": "Accept a staff role",
    "role.grant": "Give a staff role",
    "role.invite": "Invite a member of staff",
    "role.revoke": "Take away a staff role",
    "roster.import": "Import the roster",
    "team.add_member": "Add the student to the team",
    "team.create": "Create a team",
    "team.adopt": "Take on an existing team",
    "token.create": "Create an access token",
    "token.delete": "Delete an access token",
    "webhook.create": "Add a webhook",
    "webhook.delete": "Remove a webhook",
}


def action_words(action: str) -> str:
    """ "Invite the class to the organisation" for "invite.bulk"; an action without words of its own
    still reads as words ("Repository adopt"), never as a dotted key."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    if action.endswith(".failed"):
        return f"{action.removesuffix('.failed').replace('_', ' ').capitalize()} step failed"
    words = action.replace(".", " ").replace("_", " ").strip()
    return words.capitalize() or "Something"
