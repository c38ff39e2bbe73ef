"""Domain, lowest floor: people, courses, enrolments, Docker IDs, roles, organisation membership.

Models of the course (desired state) and of each enrolment (observed state), the course's
credentials (``credentials``), invitations and teams on Docker Hub (``services``,
``bulk_invites``, ``membership``), rosters (``roster``, ``parsing``) and API tokens. It imports
only ``integrations`` and ``hubcourse``; it tells the engine about changes by signal
(``accounts.signals``), never by importing it.
"""
