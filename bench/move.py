"""Benchmark "move": a class on automated builds moved to GitHub Actions (issue 15).

N students are onboarded on automated builds through the real engine (as the onboarding
benchmark does: Celery worker(s), beat with its 30 s reconcile, gunicorn receiving the
sandbox's webhooks) until every first build has succeeded; that part is not measured. Then
the course's backend becomes github-actions and every student's move is started at once
("Move the rest"); the clock runs until each student is moved or kept on automated builds.

Meanwhile a thread reads the sandbox every second and counts the moments a student had no
working build: neither an automated-build rule that builds on push nor hubcourse's workflow
on the branch with a green run. The move keeps the rule until the workflow's first run is
green, so the target is 0.
"""

from __future__ import annotations

import threading
import time

from bench.context import Context, Sandbox, make_class
from bench.harness import Figure, Result, wait_until
from bench.onboarding import (
    GITHUB_WRITE_SPACING,
    RECONCILE_INTERVAL,
    Students,
    _course,
    _github_calls,
    _states,
)

WORKFLOW_PATH = ".github/workflows/hubcourse.yml"
SAMPLE_EVERY = 1.0


class Builders(threading.Thread):
    """Samples, every ``SAMPLE_EVERY`` s, which students a push would build for."""

    def __init__(self, sandbox: Sandbox, images: dict[str, str]) -> None:
        super().__init__(name="builders", daemon=True)
        self.sandbox, self.images = sandbox, images  # GitHub repository -> image
        self.samples = 0
        self.without: set[str] = set()
        self.moments = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        rules: dict[str, int] = self.sandbox.control("GET", "/dockerhub/build-rules")
        repos = {r["full_name"]: r for r in self.sandbox.control("GET", "/github/repos")}
        self.samples += 1
        for github_repo, image in self.images.items():
            if rules.get(image, 0) > 0:
                continue
            repo = repos.get(github_repo, {})
            green = any(r["conclusion"] == "success" for r in repo.get("runs", []))
            if WORKFLOW_PATH in repo.get("files", []) and green:
                continue
            self.moments += 1
            self.without.add(github_repo)

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_EVERY):
            try:
                self.sample()
            except OSError:
                continue

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        self.sample()  # and once more at the end


def run(
    ctx: Context,
    *,
    students: int,
    rate_limit: int,
    latency_ms: int,
    build_delay: float,
    workers: int,
    concurrency: int,
    timeout: float,
    github_rate_limit: int = 5000,
) -> Result:
    from accounts.models import OnboardingState
    from builds import moving
    from builds.backends import data
    from onboarding.courses import course_move
    from onboarding.tasks.course import reconcile_course_task
    from repositories.models import StudentRepository

    result = Result(
        "move",
        "Moving a class from automated builds to GitHub Actions",
        {
            "students": students,
            "rate_limit_per_min": rate_limit,
            "latency_ms": latency_ms,
            "build_phase_s": build_delay,
            "workers": f"{workers}x{concurrency}",
            "reconcile_s": RECONCILE_INTERVAL,
            "github_per_hour": github_rate_limit,
        },
    )
    ctx.reset_state()
    sandbox = ctx.start_sandbox(
        rate_limit=rate_limit, latency_ms=latency_ms, build_delay=build_delay
    )
    sandbox.configure(github_anonymous_rate_limit=5000, github_rate_limit=github_rate_limit)
    ctx.hub_env(sandbox)
    org = sandbox.seeded["dockerhub"]["org"]
    course = _course(ctx, sandbox, make_class(sandbox, students))
    ctx.processes.env["RECONCILE_INTERVAL"] = str(RECONCILE_INTERVAL)
    ctx.start_hubcourse(workers=workers, concurrency=concurrency, warm=4)
    accepting = Students(sandbox, org, courses=[course.pk] if ctx.quick else ())
    accepting.start()
    reconcile_course_task.delay(course.pk)
    onboarded = wait_until(
        lambda: _states(course).get(OnboardingState.FIRST_BUILD_SUCCEEDED, 0) == students,
        timeout=timeout,
        interval=0.5,
        alive=ctx.processes.check_alive,
    )
    accepting.stop()
    if not onboarded:
        result.notes.append(f"the class did not onboard in {timeout:.0f} s: {_states(course)}")
        return result

    repositories = list(
        StudentRepository.objects.filter(enrolment__course=course).select_related("enrolment")
    )
    images = {r.enrolment.github_repo: r.full_name for r in repositories}
    builders = Builders(sandbox, images)
    builders.sample()
    hub_before = sandbox.dockerhub_requests()
    github_before, writes_before = _github_calls(sandbox)
    type(course).objects.filter(pk=course.pk).update(build_backend="github-actions")
    course.refresh_from_db()
    builders.start()
    started = time.monotonic()
    course_move(course=course, actor=None, count=None)

    def stages() -> dict[str, int]:
        counted: dict[str, int] = {}
        for repository in StudentRepository.objects.filter(enrolment__course=course):
            stage = data.read(repository, moving.Move).stage or "not started"
            counted[stage] = counted.get(stage, 0) + 1
        return counted

    def finished() -> bool:
        now = stages()
        return now.get(moving.MOVED, 0) + now.get(moving.KEPT, 0) == students

    done = wait_until(finished, timeout=timeout, interval=0.5, alive=ctx.processes.check_alive)
    seconds = time.monotonic() - started
    builders.stop()
    final = stages()
    hub_calls = sandbox.dockerhub_requests() - hub_before
    github_after, writes_after = _github_calls(sandbox)
    github_calls, github_writes = github_after - github_before, writes_after - writes_before
    # The floor the move's own calls set: Docker Hub's at the rate limit, GitHub's writes one
    # a second per token (its secondary limit, as the governor paces them). GitHub's hourly
    # budget is shown beside it, not in it: a window with budget left lets calls run ahead
    # of the even pace, so calls / limit is a floor only once a window's budget is spent
    # (a class of 200 on one 5000 token: onboarding and the move need more than an hour's).
    hub_floor = hub_calls / rate_limit * 60
    github_floor = github_writes * GITHUB_WRITE_SPACING
    github_hourly = github_calls / github_rate_limit * 3600
    floor = max(hub_floor, github_floor, 1e-9)
    if not done:
        result.notes.append(f"not every move ended in {timeout:.0f} s: {final}")
    moved = final.get(moving.MOVED, 0)
    result.add(
        Figure("students moved", moved, "", str(students), moved == students),
        Figure("students kept on automated builds", final.get(moving.KEPT, 0)),
        Figure("wall time, move started to all moved", round(seconds, 1), "s"),
        Figure(
            "floor: the move's calls at each service's pace",
            round(floor, 1),
            "s",
            note=f"Docker Hub {hub_floor:.1f} s at {rate_limit}/min, "
            f"GitHub {github_floor:.1f} s for {github_writes} writes a second apart; "
            f"GitHub's {github_calls} calls at the even pace of {github_rate_limit}/h: "
            f"{github_hourly:.0f} s",
        ),
        Figure("wall time / floor", round(seconds / floor, 2)),
        Figure("Docker Hub calls per student", round(hub_calls / students, 2)),
        Figure(
            "GitHub calls per student",
            round(github_calls / students, 2),
            note=f"writes {github_writes / students:.2f}",
        ),
        Figure(
            "student-moments with no working build",
            builders.moments,
            "",
            "0",
            builders.moments == 0,
            note=f"{builders.samples} samples, one a second; "
            f"{len(builders.without)} student(s) ever without",
        ),
    )
    result.details["stages"] = final
    return result
