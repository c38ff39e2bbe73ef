"""Docker Hub: the typed client of its documented v2 API (and the few undocumented routes
the notes record), on the shared HTTP helper and rate-limit governor. The automated-build routes
live with the backend that owns them, in ``builds.backends``."""
