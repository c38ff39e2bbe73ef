"""Pages of the student: the course link, linking a Docker ID and a GitHub repository, the
live status page and the badge. Views, forms and templates only."""
