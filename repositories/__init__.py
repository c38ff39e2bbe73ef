"""Domain: each student's Docker Hub repository and its team permissions (the course
team's, or the student's own team under the team-per-student policy). Imports ``accounts`` and below."""
