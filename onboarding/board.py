"""What the staff pages read: the class board, its counts and chart, a student's history.

Everything reads the database only, in a fixed number of queries whatever the class size:
the board annotates each student's latest build with subqueries and loads the page's builds
in one query; counts and the chart are single grouped queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncHour
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.models import Course, Enrolment, InviteState, OnboardingState, PreflightState
from builds.backends import backend_for
from builds.models import Build, BuildState
from hubcourse.models import AuditEvent
from hubcourse.text import ago, duration
from onboarding.github_access import how_watched, public_check_minutes
from onboarding.models import BoardChange
from onboarding.state import ORDER, STAGE_OF, STAGES, compute_state
from onboarding.status import handout_steps
from onboarding.steps import step_label

PAGE_SIZE = 50
# The builds a board row shows: the latest and the few before it.
RECENT_BUILDS = 4
BUILDS_PAGE_SIZE = 20
AUDIT_PAGE_SIZE = 50
# The builds a board row shows: the latest and the few before it.
RECENT_BUILDS = 4

# Colours of the counts bar and board badges (the state's words are always shown too).
STATE_TONE = {
    OnboardingState.ERROR: "bad",
    OnboardingState.FIRST_BUILD_SUCCEEDED: "ok",
    OnboardingState.FIRST_BUILD_RUNNING: "run",
    OnboardingState.REGISTERED: "idle",
}
BUILD_TONE = {
    BuildState.SUCCESS: "ok",
    BuildState.FAILED: "bad",
    BuildState.RUNNING: "run",
    BuildState.QUEUED: "run",
    BuildState.CANCELED: "idle",
}

SORTS: dict[str, tuple[str, str]] = {
    # key -> (label, order_by field; "-" prefix in the key reverses it)
    "identifier": ("Identifier", "identifier"),
    "name": ("Name", "name"),
    "docker_id": ("Docker ID", "docker_id"),
    "state": ("Progress", "state_rank"),
    "build": ("Latest build", "latest_build_at"),
}


# -- filters -------------------------------------------------------------------------------------


STAGE_KEYS = {stage.key: stage for stage in STAGES}


@dataclass(frozen=True)
class BoardFilters:
    step: str = ""  # a Stage key: a handout step's number, "done" or "attention"
    build: str = ""  # a BuildState value, or "none"
    errors: bool = False
    q: str = ""
    sort: str = "identifier"

    @classmethod
    def from_query(cls, query: QueryDict) -> BoardFilters:
        step = query.get("step", "")
        if step in OnboardingState.values:
            # A link saved before the filter spoke the handout's words.
            step = STAGE_OF[OnboardingState(step)].key
        build = query.get("build", "")
        sort = query.get("sort", "identifier")
        return cls(
            step=step if step in STAGE_KEYS else "",
            build=build if build in (*BuildState.values, "none") else "",
            errors=query.get("errors") in ("1", "on", "true"),
            q=query.get("q", "").strip()[:100],
            sort=sort if sort.lstrip("-") in SORTS else "identifier",
        )

    @property
    def active(self) -> bool:
        return bool(self.step or self.build or self.errors or self.q)

    def params(self, **overrides: object) -> dict[str, str]:
        values: dict[str, object] = {
            "step": self.step,
            "build": self.build,
            "errors": "1" if self.errors else "",
            "q": self.q,
            "sort": "" if self.sort == "identifier" else self.sort,
        }
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None, False)}

    def querystring(self, **overrides: object) -> str:
        return urlencode(self.params(**overrides))

    @property
    def sort_links(self) -> dict[str, tuple[str, str]]:
        """Column -> (query string that sorts by it, its aria-sort value now)."""
        links = {}
        for key in SORTS:
            if self.sort == key:
                links[key] = (self.querystring(sort=f"-{key}", page=""), "ascending")
            elif self.sort == f"-{key}":
                links[key] = (self.querystring(sort=key, page=""), "descending")
            else:
                links[key] = (self.querystring(sort=key, page=""), "none")
        return links


def _latest_builds() -> QuerySet[Build]:
    return Build.objects.filter(enrolment=OuterRef("pk")).order_by("-created_at", "-pk")


def board_queryset(course: Course, filters: BoardFilters) -> QuerySet[Enrolment]:
    """The course's students, filtered and sorted, with their latest build's id and state."""
    latest = _latest_builds()
    rank_case = Case(
        *(When(state=state, then=Value(position)) for position, state in enumerate(ORDER)),
        default=Value(-1),
        output_field=IntegerField(),
    )
    qs = (
        Enrolment.objects.filter(course=course)
        .select_related("repository")
        .annotate(
            latest_build_id=Subquery(latest.values("pk")[:1]),
            last_success_id=Subquery(latest.filter(state=BuildState.SUCCESS).values("pk")[:1]),
        )
        # Only for filtering and sorting: selected, they would cost two more reads per row.
        .alias(
            latest_build_state=Subquery(latest.values("state")[:1]),
            latest_build_at=Subquery(latest.values("created_at")[:1]),
            state_rank=rank_case,
        )
    )
    if filters.step:
        qs = qs.filter(state__in=sorted(STAGE_KEYS[filters.step].states))
    if filters.errors:
        # An error on a step, a failed first build (its state is "needs attention"), or a
        # latest build that failed: a student done with onboarding can still be stuck.
        qs = qs.filter(
            ~Q(error_step="")
            | Q(state=OnboardingState.ERROR)
            | Q(latest_build_state=BuildState.FAILED)
        )
    if filters.build == "none":
        qs = qs.filter(latest_build_id__isnull=True)
    elif filters.build:
        qs = qs.filter(latest_build_state=filters.build)
    if filters.q:
        q = filters.q
        qs = qs.filter(
            Q(identifier__icontains=q)
            | Q(name__icontains=q)
            | Q(email__icontains=q)
            | Q(docker_id__icontains=q)
            | Q(github_repo__icontains=q)
        )
    key = filters.sort.lstrip("-")
    column = F(SORTS[key][1])
    # Students without a value (no build yet) sort last either way, on every database
    # (PostgreSQL would put them first when descending, SQLite last).
    if filters.sort.startswith("-"):
        qs = qs.order_by(column.desc(nulls_last=True), "identifier")
    else:
        qs = qs.order_by(column.asc(nulls_last=True), "identifier")
    return qs


# -- board rows ----------------------------------------------------------------------------------


@dataclass
class Tick:
    label: str
    done: bool


TICKS_TEMPLATE = "dashboard/partials/ticks.html"


@lru_cache(maxsize=32)
def _ticks_html(ticks: tuple[tuple[str, bool], ...]) -> str:
    # A class has a handful of tick patterns: rendering each once spares the board 50 rows x
    # 5 steps of template nodes on every refresh.
    return render_to_string(
        TICKS_TEMPLATE,
        {"ticks": [Tick(label, done) for label, done in ticks]},
    )


@dataclass
class BoardRow:
    enrolment: Enrolment
    ticks: list[Tick]
    reached: OnboardingState
    summary: str
    tone: str
    latest_build: Build | None
    # The latest builds, newest first, the latest included (board_rows(recent=...)).
    recent_builds: list[Build] = field(default_factory=list)

    # What the board's row shows, worked out here once: a template node per value and per
    # "if" costs more than the Python for 50 rows on every refresh.

    @cached_property
    def url(self) -> str:
        return reverse("dashboard:student", args=[self.enrolment.course.slug, self.enrolment.pk])

    @property
    def ticks_html(self) -> str:
        return mark_safe(_ticks_html(tuple((t.label, t.done) for t in self.ticks)))  # noqa: S308 (our template's output)

    @property
    def state_label(self) -> str:
        # Not get_state_display(): it flattens the field's choices on every call.
        return OnboardingState(self.enrolment.state).label

    @property
    def watched(self) -> str:
        """How hubcourse sees the student's pushes: "push events", "checked every N minutes"."""
        return how_watched(self.enrolment) if self.enrolment.github_repo else ""

    @property
    def hub_url(self) -> str:
        """The student's repository on Docker Hub, once it exists there."""
        repository = getattr(self.enrolment, "repository", None)
        if repository is None or repository.created_at is None:
            return ""
        return f"{_hub_web_url()}/r/{repository.namespace}/{repository.name}"

    @property
    def hub_name(self) -> str:
        repository = getattr(self.enrolment, "repository", None)
        return repository.full_name if repository is not None else ""

    @property
    def pushed_note(self) -> str:
        """ "pushed 12 minutes ago": the last push to the build branch hubcourse heard of."""
        repository = getattr(self.enrolment, "repository", None)
        pushed = repository.last_pushed_at if repository is not None else None
        return f"pushed {ago(pushed)}" if pushed is not None else ""

    @property
    def earlier_builds(self) -> list[tuple[Build, str, str]]:
        """The builds before the latest, newest first: (build, its label, its tone)."""
        return [
            (b, BuildState(b.state).label, BUILD_TONE.get(BuildState(b.state), "run"))
            for b in self.recent_builds[1:]
        ]

    @property
    def build_label(self) -> str:
        return BuildState(self.latest_build.state).label if self.latest_build else ""

    @property
    def build_tone(self) -> str:
        return (
            BUILD_TONE.get(BuildState(self.latest_build.state), "run") if self.latest_build else ""
        )

    @property
    def build_note(self) -> str:
        """ "3 minutes ago, took 1 min 5 s": when the latest build started and how long it ran,
        in the words of every other page (hubcourse.text)."""
        build = self.latest_build
        if build is None:
            return ""
        note = ago(build.created_at)
        if build.duration:
            note += f", took {duration(build.duration)}"
        return note


def _hub_web_url() -> str:
    return str(settings.DOCKERHUB_WEB_URL).rstrip("/")


def recent_builds(enrolment_ids: Sequence[int], per_student: int) -> dict[int, list[Build]]:
    """Each student's ``per_student`` latest builds, newest first, in one query for them all
    (a window numbers each student's builds; the database keeps the first few)."""
    if not enrolment_ids or per_student <= 0:
        return {}
    numbered = (
        Build.objects.filter(enrolment_id__in=enrolment_ids)
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("enrolment_id")],
                order_by=[F("created_at").desc(), F("pk").desc()],
            )
        )
        .filter(position__lte=per_student)
        .order_by("enrolment_id", "position")
    )
    found: dict[int, list[Build]] = {}
    for build in numbered:
        found.setdefault(build.enrolment_id, []).append(build)
    return found


def board_rows(
    course: Course, enrolments: Iterable[Enrolment], *, recent: int = 0
) -> list[BoardRow]:
    """One row per student for a page of ``board_queryset``: one query for its builds, and
    one more for each student's ``recent`` latest builds when asked (the board's)."""
    page = list(enrolments)
    ids: set[int] = set()
    for e in page:
        ids.update(i for i in (e.latest_build_id, e.last_success_id) if i)  # type: ignore[attr-defined]
    builds = Build.objects.in_bulk(ids) if ids else {}
    latest_few = recent_builds([e.pk for e in page], recent)
    rows = []
    for e in page:
        e.course = course  # already loaded: compute_state must not fetch it per row
        latest = builds.get(e.latest_build_id)  # type: ignore[attr-defined]
        success = builds.get(e.last_success_id)  # type: ignore[attr-defined]
        known = [b for b in (latest, success) if b is not None]
        repository = getattr(e, "repository", None)
        progress = compute_state(e, repository, known)
        steps = handout_steps(e, repository, latest, succeeded=success is not None)
        rows.append(
            BoardRow(
                enrolment=e,
                # The same five steps as the student's page, from the same function.
                ticks=[Tick(step.title, step.done) for step in steps],
                reached=progress.reached,
                summary=describe(e, progress.reached, latest),
                tone="bad" if e.error_step else STATE_TONE.get(OnboardingState(e.state), ""),
                latest_build=latest,
                recent_builds=latest_few.get(e.pk, []),
            )
        )
    return rows


def _values(row: models.Model | None) -> tuple[object, ...] | None:
    if row is None:
        return None
    return tuple(getattr(row, f.attname) for f in row._meta.concrete_fields)


def board_fingerprint(rows: Sequence[BoardRow], *context: object) -> str:
    """A digest of everything a page of the board shows: two requests with the same digest
    render the same HTML. Each row gives every column of its student, repository and latest
    build (whatever the template reads of them) and the sentences worked out from them,
    whose "3 minutes ago" moves with the clock; ``context`` is the rest of the page."""
    data = [
        (
            _values(row.enrolment),
            _values(getattr(row.enrolment, "repository", None)),
            _values(row.latest_build),
            [_values(b) for b in row.recent_builds],
            row.pushed_note,
            [t.done for t in row.ticks],
            row.reached,
            row.summary,
            row.tone,
            row.build_note,
        )
        for row in rows
    ]
    payload = pickle.dumps((data, context), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


# How many of a course's newest change-log entries the board's version digests: a write
# whose transaction commits late (its entry numbered before others already seen) still
# lands among them, unless this many writes of the course commit while it is open.
BOARD_VERSION_WINDOW = 128


def board_version(course: Course) -> str:
    """What the board of ``course`` is rendered from, in one indexed read whatever the class
    size: its newest entries in the change log that the database's triggers write on every
    change to its students, their repositories and builds (``BoardChange``), with the course
    row (already read by the access check) and the settings its rows show. The board's
    relative times ("3 minutes ago") are not in it: the caller adds the clock."""
    sql = (
        "SELECT count(*), sum(id), max(id) FROM ("  # noqa: S608 (our table, values as parameters)
        f"SELECT id FROM {BoardChange._meta.db_table} WHERE course_id = %s"
        " ORDER BY id DESC LIMIT %s) newest"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [course.pk, BOARD_VERSION_WINDOW])
        changes = cursor.fetchone()
    return repr(
        (
            changes,
            _values(course),
            _hub_web_url(),
            public_check_minutes(),
            settings.TIME_ZONE,
        )
    )


def _when(moment: dt.datetime | None) -> str:
    return ago(moment)


def describe(enrolment: Enrolment, reached: OnboardingState, latest: Build | None) -> str:
    """Where the student stands, or what went wrong, in one sentence for the instructor."""
    if enrolment.error_step:
        step = step_label(enrolment.error_step)
        message = enrolment.error_message.strip()
        text = f"{step} failed: {message}" + ("" if message.endswith((".", "!", "?", ")")) else ".")
        if enrolment.error_permanent:
            return text + " Fix the cause, then retry."
        if enrolment.next_retry_at:
            return text + f" Trying again {_when(enrolment.next_retry_at)}."
        return text + " It is tried again at the next reconcile."
    state = OnboardingState(enrolment.state)
    if state == OnboardingState.ERROR and reached == OnboardingState.FIRST_BUILD_RUNNING:
        return "The first build failed: read its log; the next push builds again."
    if state == OnboardingState.REGISTERED:
        if not enrolment.docker_id:
            return "Waiting for the student's Docker ID."
        if enrolment.preflight_state == PreflightState.NOT_RUN:
            return "Not checked yet: apply the plan to run the pre-flight checks."
        if enrolment.preflight_state == PreflightState.FAILED:
            return "Pre-flight checks failed: see the student's page."
        return "Checked; waiting for the invitation."
    if state == OnboardingState.DOCKER_ID_VERIFIED:
        if enrolment.invite_state == InviteState.EXPIRED:
            return "The invitation expired after 14 days: re-send it."
        return "Docker ID checked; the invitation goes out with the next bulk invite."
    if state == OnboardingState.INVITED:
        return f"Invited {_when(enrolment.invited_at)}; waiting for the student to accept."
    if state == OnboardingState.MEMBER:
        return "In the organisation; joining the team."
    if state == OnboardingState.IN_TEAM:
        return "In the team; the Docker Hub repository is being created."
    if state == OnboardingState.REPOSITORY_CREATED:
        return "Repository created; granting the team access."
    if state == OnboardingState.PERMISSION_GRANTED:
        return "Repository ready; linking it to the GitHub repository."
    if state == OnboardingState.BUILD_CONFIGURED:
        return "Build set up; waiting for the first build."
    if state == OnboardingState.FIRST_BUILD_RUNNING:
        if latest is not None and latest.state == BuildState.FAILED:
            return "The first build failed: read its log."
        return "The first build is running."
    if latest is not None and latest.state == BuildState.FAILED:
        return "Done, but the latest build failed: read its log."
    return "Done: every push to main builds the image."


# -- counts and chart ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int
    percent: float
    tone: str


STAGE_TONE = {"attention": "bad", "done": "ok", "5": "run", "1": "idle"}


def state_counts(course: Course) -> tuple[int, list[StateCount]]:
    """(total, one entry per stage that has students): needs attention first, then the
    handout's steps in order. ``state`` is the stage's key, the board filter's value."""
    by_state = (
        Enrolment.objects.filter(course=course)
        .order_by()  # the model's ordering would join the course table for nothing
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    counts: dict[str, int] = {}
    for state, n in by_state:
        key = STAGE_OF[OnboardingState(state)].key
        counts[key] = counts.get(key, 0) + n
    total = sum(counts.values())
    return total, [
        StateCount(
            stage.key,
            stage.label,
            counts[stage.key],
            round(100 * counts[stage.key] / total, 2),
            STAGE_TONE.get(stage.key, "mid"),
        )
        for stage in STAGES
        if counts.get(stage.key)
    ]


CHART_STATES = (BuildState.SUCCESS, BuildState.FAILED, BuildState.RUNNING, BuildState.CANCELED)
CHART_WIDTH = 640
CHART_HEIGHT = 140
CHART_DAYS = 14


@dataclass
class Bar:
    label: str
    x: float
    width: float
    total: int
    # (state, label, y, height, count) from the bottom up
    parts: list[tuple[str, str, float, float, int]] = field(default_factory=list)


@dataclass
class Chart:
    unit: str  # "hour" or "day"
    bars: list[Bar]
    peak: int
    total: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    @property
    def summary(self) -> str:
        if not self.total:
            return "No builds yet."
        return f"{self.total} builds in the last {len(self.bars)} {self.unit}s, at most {self.peak} in one {self.unit}."


def build_chart(course: Course, *, now: dt.datetime | None = None) -> Chart:
    """Builds per hour (a young class) or per day (up to 14 days), stacked by state.

    One grouped query by hour over the 14 days (at most 336 x 5 rows, whatever the class
    size): its earliest build picks hours or days, and days are summed from hours here.
    """
    now = timezone.localtime(now or timezone.now())
    since = now - dt.timedelta(days=CHART_DAYS)
    grouped = list(
        Build.objects.filter(enrolment__course=course, created_at__gte=since)
        .annotate(bucket=TruncHour("created_at"))
        .values_list("bucket", "state")
        .annotate(n=Count("pk"), first=Min("created_at"))
        .values_list("bucket", "state", "n", "first")
    )
    first = min((row[3] for row in grouped), default=None)
    hourly = first is None or now - first <= dt.timedelta(hours=36)
    if hourly:
        step = dt.timedelta(hours=1)
        start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=23)
        buckets = 24
    else:
        step = dt.timedelta(days=1)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(
            days=CHART_DAYS - 1
        )
        buckets = CHART_DAYS
    table: dict[tuple[dt.datetime, str], int] = {}
    for bucket, state, n, _first in grouped:
        key_state = BuildState.RUNNING.value if state == BuildState.QUEUED else state
        moment = timezone.localtime(bucket).replace(tzinfo=None)
        if not hourly:
            moment = moment.replace(hour=0)
        key = (moment, key_state)
        table[key] = table.get(key, 0) + n
    starts = [(start + step * i).replace(tzinfo=None) for i in range(buckets)]
    totals = [sum(table.get((s, st.value), 0) for st in CHART_STATES) for s in starts]
    peak = max(totals, default=0)
    slot = CHART_WIDTH / buckets
    plot = CHART_HEIGHT - 20  # room for the axis labels
    bars = []
    for i, (moment, total) in enumerate(zip(starts, totals, strict=True)):
        label = moment.strftime("%H:00") if hourly else moment.strftime("%d %b")
        bar = Bar(label=label, x=round(i * slot + 2, 1), width=round(slot - 4, 1), total=total)
        y = float(plot)
        for state in CHART_STATES:
            n = table.get((moment, state.value), 0)
            if n and peak:
                height = round(plot * n / peak, 1)
                y -= height
                bar.parts.append((state.value, state.label, round(y, 1), height, n))
        bars.append(bar)
    return Chart(unit="hour" if hourly else "day", bars=bars, peak=peak, total=sum(totals))


# The chart reads every build of the last 14 days (20 000 for 1000 students): it is cached
# per course under a version that changes whenever a build row is saved (see
# dashboard/signals.py), so a new or finished build shows at once. The timeout only bounds
# what no save announces (a removed student's builds; the switch from hours to days).
CHART_CACHE_SECONDS = 60


def _builds_version_key(course_id: int) -> str:
    return f"dashboard:builds-version:{course_id}"


def note_builds_changed(course_id: int) -> None:
    """A build of the course was saved: the next board computes its chart afresh."""
    cache.set(_builds_version_key(course_id), time.time_ns(), None)


def board_chart(course: Course, *, students: int) -> Chart:
    """``build_chart`` from the cache while no build of the course has changed."""
    version = cache.get_or_set(_builds_version_key(course.pk), time.time_ns, None)
    now = timezone.localtime()
    # created_at tells apart two courses that had the same pk (a test database reuses them);
    # the hour and the time zone place the bars; the class size changes when students go.
    key = (
        f"dashboard:chart:{course.pk}:{course.created_at.timestamp()}:{version}:{students}:"
        f"{now.tzname()}:{now:%Y%m%d%H}"
    )
    chart: Chart | None = cache.get(key)
    if chart is None:
        chart = build_chart(course, now=now)
        cache.set(key, chart, CHART_CACHE_SECONDS)
    return chart


# -- one student ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    label: str
    at: dt.datetime | None
    done: bool
    detail: str = ""


def timeline(enrolment: Enrolment) -> list[Milestone]:
    """Every step of the student's onboarding, with when it happened (from the rows)."""
    repository = getattr(enrolment, "repository", None)
    builds = Build.objects.filter(enrolment=enrolment).order_by("created_at", "pk")
    # The first build and the first success, in one query.
    pair = list(
        Build.objects.filter(
            Q(pk=Subquery(builds.values("pk")[:1]))
            | Q(pk=Subquery(builds.filter(state=BuildState.SUCCESS).values("pk")[:1]))
        ).order_by("created_at", "pk")
    )
    first = pair[0] if pair else None
    first_success = next((b for b in pair if b.state == BuildState.SUCCESS), None)
    pre = PreflightState(enrolment.preflight_state)
    return [
        Milestone(
            "Docker ID given",
            None,
            bool(enrolment.docker_id),
            enrolment.docker_id or "not given yet",
        ),
        Milestone(
            "Pre-flight checks",
            enrolment.preflight_at,
            pre in (PreflightState.PASSED, PreflightState.WARNING),
            pre.label,
        ),
        Milestone(
            "Docker ID verified",
            enrolment.docker_id_verified_at,
            bool(enrolment.docker_id_verified_at),
        ),
        Milestone(
            "Invited to the organisation",
            enrolment.invited_at,
            enrolment.invite_state in (InviteState.PENDING, InviteState.ACCEPTED),
            InviteState(enrolment.invite_state).label,
        ),
        Milestone("Member of the organisation", enrolment.member_at, bool(enrolment.member_at)),
        Milestone("In the team", enrolment.team_at, bool(enrolment.team_at)),
        Milestone(
            "Docker Hub repository created",
            repository.created_at if repository else None,
            bool(repository and repository.created_at),
            repository.full_name if repository else "",
        ),
        Milestone(
            "Team permission granted",
            repository.permission_granted_at if repository else None,
            bool(repository and repository.permission_granted_at),
        ),
        Milestone(
            "Build configured",
            repository.build_configured_at if repository else None,
            bool(repository and repository.build_configured_at),
            backend_for(enrolment.course).label,
        ),
        Milestone(
            "First build",
            first.created_at if first else None,
            first is not None,
            first.get_state_display() if first else "",
        ),
        Milestone(
            "First successful build",
            (first_success.finished_at or first_success.created_at) if first_success else None,
            first_success is not None,
        ),
    ]


def audit_events(
    course: Course,
    *,
    enrolment: Enrolment | None = None,
    service: str = "",
    outcome: str = "",
    q: str = "",
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(course=course).select_related("actor", "enrolment")
    if enrolment is not None:
        events = events.filter(enrolment=enrolment)
    if service:
        events = events.filter(service=service)
    if outcome:
        events = events.filter(outcome=outcome)
    if q:
        events = events.filter(
            Q(action__icontains=q)
            | Q(target__icontains=q)
            | Q(message__icontains=q)
            | Q(enrolment__identifier__icontains=q)
            | Q(actor__email__icontains=q)
        )
    return events.order_by("-created_at", "-pk")


def audit_services(course: Course) -> Sequence[str]:
    return list(
        AuditEvent.objects.filter(course=course)
        .order_by("service")
        .values_list("service", flat=True)
        .distinct()
    )
