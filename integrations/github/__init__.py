"""GitHub: the typed client of the REST routes hubcourse uses, on the shared HTTP helper and
rate-limit governor, and the verification of GitHub's signed webhooks."""
