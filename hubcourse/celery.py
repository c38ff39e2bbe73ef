"""The Celery application. Settings live in Django settings under the CELERY_ prefix."""

from __future__ import annotations

import os
import warnings

from celery import Celery
from celery.exceptions import SecurityWarning

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubcourse.settings")

if os.environ.get("HUBCOURSE_ENV", "development") == "development":
    # `make run` as root (a container, a throw-away VM) would print Celery's warning about a
    # root worker at every start. The risk it names is unpickling messages as root; our
    # workers accept JSON only. Production keeps the warning (the image runs as a user).
    warnings.filterwarnings(
        "ignore", message="You're running the worker with superuser", category=SecurityWarning
    )

app = Celery("hubcourse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
