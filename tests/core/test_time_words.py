"""Pages say "just now" rather than "0 minutes ago"."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template
from django.utils import timezone

from hubcourse.templatetags.time_words import ago

NOW = timezone.now()


def test_under_a_minute_is_just_now() -> None:
    assert ago(NOW - dt.timedelta(seconds=59), NOW) == "just now"


def test_a_longer_while_is_said_in_minutes_and_hours() -> None:
    # Django keeps a number and its unit together with a no-break space.
    assert ago(NOW - dt.timedelta(minutes=3), NOW) == "3\xa0minutes ago"
    assert ago(NOW - dt.timedelta(hours=2, minutes=5), NOW) == "2\xa0hours, 5\xa0minutes ago"


def test_nothing_is_said_of_no_moment() -> None:
    assert ago(None, NOW) == ""


def test_templates_load_it() -> None:
    # A moment of now, not of the module's import: the suite may take minutes to get here.
    at = timezone.now()

    html = Template("{% load time_words %}asked {{ at|ago }}").render(Context({"at": at}))

    assert html == "asked just now"


def test_a_length_of_time_is_said_one_way_everywhere() -> None:
    from hubcourse.text import duration

    assert duration(dt.timedelta(seconds=2)) == "2 s"
    assert duration(dt.timedelta(seconds=65)) == "1 min 5 s"
    assert duration(dt.timedelta(hours=1, minutes=3, seconds=9)) == "1 h 3 min"
    assert duration(7200) == "2 h"
    assert duration(None) == duration(dt.timedelta(seconds=-3)) == ""


def test_a_moment_ahead_of_the_clock_is_said_as_in_so_long() -> None:
    assert ago(NOW + dt.timedelta(minutes=5, seconds=10), NOW) == "in 5\xa0minutes"
    assert ago(NOW + dt.timedelta(seconds=10), NOW) == "in a moment"


def test_the_duration_filter_is_loaded_with_ago() -> None:
    html = Template("{% load time_words %}took {{ length|duration }}").render(
        Context({"length": dt.timedelta(seconds=125)})
    )

    assert html == "took 2 min 5 s"
