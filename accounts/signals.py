"""Signals the domain sends upward: the engine listens, the domain never imports it.

``enrolment_observed`` says that something hubcourse observed about a student changed (an
error recorded or cleared, a build recorded, an invite answered). The onboarding engine
derives the student's state from every observed row and stores it (``onboarding.state``);
the domain apps cannot, since the state reads rows of apps above ``accounts``.
"""

from __future__ import annotations

from django.dispatch import Signal

enrolment_observed = Signal()  # sent with enrolment_id=


def note_observed(enrolment_id: int) -> None:
    """Tell the engine to derive the student's state again (synchronously, in this transaction)."""
    enrolment_observed.send(sender=None, enrolment_id=enrolment_id)
