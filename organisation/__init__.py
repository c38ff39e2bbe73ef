"""Pages of the organisation's admin: bulk add, members and invites, offboarding.
Views, forms and templates only; the work is in ``accounts`` and ``onboarding``."""
