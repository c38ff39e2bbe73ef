#!/usr/bin/env python3
"""Django's command-line utility for hubcourse."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubcourse.settings")
    # Imported after the settings module is named, as Django's own manage.py does.
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
