"""``github-actions``: a workflow in the student's GitHub repository pushes to Docker Hub."""

from builds.backends.github_actions.backend import WORKFLOW_PATH, GitHubActions

__all__ = ["WORKFLOW_PATH", "GitHubActions"]
