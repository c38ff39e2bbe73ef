"""A local Docker Hub and GitHub that speak their real HTTP APIs (issue 3).

Run it with ``python -m sandbox --port 8765``; tests use :func:`sandbox.testing.start_sandbox`.
"""
