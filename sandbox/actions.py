"""GitHub Actions in the sandbox: workflow runs triggered by pushes, for the github-actions backend.

On ``github.push``, every ``.github/workflows/*.yml`` of the pushed commit whose ``on.push``
filters match gets a run (``queued`` -> ``in_progress`` -> ``completed``) with one job per
workflow job; so does a ``workflow_dispatch`` call (:func:`dispatch`) of a workflow whose
``on`` lists it. Steps are interpreted, not executed: ``actions/checkout`` fills the workspace,
``docker/login-action`` checks the credentials against the sandbox Docker Hub (secrets are
opened with the repository's private key, ``vars`` read as stored),
``docker/build-push-action`` evaluates the build with :func:`sandbox.images.evaluate_build`
and pushes tags with ``push_tag``. ``run:`` steps
are logged and succeed. Each phase waits ``config.build_delay`` seconds.

Reference: https://docs.github.com/en/rest/actions/workflow-runs and
https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions
"""

from __future__ import annotations

import base64
import datetime as dt
import posixpath
import re
from typing import TYPE_CHECKING, Any

import yaml
from flask import Flask
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from sandbox import dockerhub, dockerhub_repos, github_json, github_state, images

if TYPE_CHECKING:
    from sandbox.dockerhub_common import Identity
    from sandbox.world import World

WORKFLOW_DIR = ".github/workflows/"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
RUNNER_LABELS = ["ubuntu-latest"]


def install(app: Flask, world: World) -> None:
    world.subscribe("github.push", on_push)


# -- workflow files ----------------------------------------------------------------------------


class WorkflowError(ValueError):
    pass


def load_workflow(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"Invalid workflow file: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkflowError("Invalid workflow file: the workflow is not a mapping")
    # YAML 1.1 reads the key "on" as the boolean True.
    if True in data and "on" not in data:
        data["on"] = data.pop(True)
    if "on" not in data:
        raise WorkflowError("Invalid workflow file: No event triggers defined in `on`")
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        raise WorkflowError("Invalid workflow file: No jobs defined in `jobs`")
    for job_id, job in jobs.items():
        if not isinstance(job, dict) or not isinstance(job.get("steps"), list):
            raise WorkflowError(f"Invalid workflow file: job '{job_id}' has no steps")
    return data


def _filter_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter glob: ``*`` stops at ``/``, ``**`` does not."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "."
            i += 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            # GitHub: "You can escape special characters using \\".
            out += re.escape(pattern[i + 1])
            i += 2
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(f"^{out}$")


def _matches(patterns: list[str], value: str) -> bool:
    """Positive and ``!`` negative patterns, the last matching one wins (GitHub's rule)."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _filter_regex(pattern[1:] if negated else pattern).match(value):
            result = not negated
    return result


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def triggers_on_push(workflow: dict[str, Any], branch: str, changed: list[str]) -> bool:
    on = workflow["on"]
    if isinstance(on, str):
        return on == "push"
    if isinstance(on, list):
        return "push" in on
    if not isinstance(on, dict) or "push" not in on:
        return False
    push = on["push"] or {}
    if not isinstance(push, dict):
        return True
    if "branches" in push and not _matches(_as_list(push["branches"]), branch):
        return False
    if "branches-ignore" in push and _matches(_as_list(push["branches-ignore"]), branch):
        return False
    if "tags" in push and "branches" not in push:
        return False  # a tag-only filter never runs for a branch push
    if "paths" in push and not any(_matches(_as_list(push["paths"]), path) for path in changed):
        return False
    if "paths-ignore" in push and changed:
        return not all(_matches(_as_list(push["paths-ignore"]), path) for path in changed)
    return True


def triggers_on_dispatch(workflow: dict[str, Any]) -> bool:
    """Whether ``on`` lists ``workflow_dispatch`` (as a string, in a list or as a key)."""
    on = workflow["on"]
    if isinstance(on, str):
        return on == "workflow_dispatch"
    if isinstance(on, list | dict):
        return "workflow_dispatch" in on
    return False


# -- runs ------------------------------------------------------------------------------------


def _changed_paths(world: World, repo: dict[str, Any], before: str, sha: str) -> list[str]:
    tree = repo["commits"][sha]["tree"]
    old = repo["commits"][before]["tree"] if before in repo["commits"] else {}
    paths = {path for path in tree if old.get(path) != tree[path]}
    paths |= {path for path in old if path not in tree}
    return sorted(paths)


def on_push(
    world: World,
    *,
    full_name: str,
    branch: str,
    sha: str,
    before: str,
    pusher: str,
    message: str,
    **_: Any,
) -> None:
    with world.lock:
        repo = github_state.get_repo(world, full_name)
        if repo is None:
            return
        tree = github_state.read_tree(world, full_name, sha) or {}
        changed = _changed_paths(world, repo, before, sha)
        for path in sorted(tree):
            if not path.startswith(WORKFLOW_DIR) or "/" in path[len(WORKFLOW_DIR) :]:
                continue
            if not path.endswith((".yml", ".yaml")):
                continue
            try:
                workflow = load_workflow(tree[path])
            except WorkflowError as error:
                _create_run(world, repo, path, None, branch, sha, pusher, message, str(error))
                continue
            if triggers_on_push(workflow, branch, changed):
                _create_run(world, repo, path, workflow, branch, sha, pusher, message, None)


class DispatchError(Exception):
    """A refused ``workflow_dispatch``: GitHub's status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def workflow_path(world: World, repo: dict[str, Any], workflow: str) -> str | None:
    """The path of a workflow named by id or by file name ("hubcourse.yml"), else None.

    GitHub knows a workflow by id once it has run, and by file name when the file is on the
    default branch.
    """
    for entry in repo["workflows"].values():
        if str(entry["id"]) == workflow:
            return str(entry["path"])
    if "/" in workflow:
        return None
    path = WORKFLOW_DIR + workflow
    tree = github_state.read_tree(world, github_state.full_name_of(repo), None) or {}
    return path if path in tree or path in repo["workflows"] else None


def dispatch(world: World, repo: dict[str, Any], path: str, ref: str, actor: str) -> dict[str, Any]:
    """A ``workflow_dispatch`` run of the workflow at ``path`` as it is on branch ``ref``.

    Reference: https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
    """
    with world.lock:
        full_name = github_state.full_name_of(repo)
        branch = ref.removeprefix("refs/heads/")
        sha = repo["branches"].get(branch)
        if sha is None:
            raise DispatchError(422, f"No ref found for: {ref}")
        text = (github_state.read_tree(world, full_name, sha) or {}).get(path)
        if text is None:
            raise DispatchError(404, "Not Found")
        try:
            workflow = load_workflow(text)
        except WorkflowError as error:
            raise DispatchError(422, str(error)) from error
        if not triggers_on_dispatch(workflow):
            raise DispatchError(422, "Workflow does not have 'workflow_dispatch' trigger")
        message = repo["commits"][sha]["message"]
        return _create_run(
            world, repo, path, workflow, branch, sha, actor, message, None, "workflow_dispatch"
        )


def _workflow_entry(world: World, repo: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    entry: dict[str, Any] | None = repo["workflows"].get(path)
    now = world.now()
    if entry is None:
        number = world.next_int("github.workflow", start=90000000)
        entry = {
            "id": number,
            "node_id": github_state.node_id("Workflow", number),
            "name": name,
            "path": path,
            "state": "active",
            "created_at": now,
            "updated_at": now,
            "runs": 0,
        }
        repo["workflows"][path] = entry
    entry["name"] = name
    return entry


def fail_next_run(world: World, full_name: str, reason: str) -> None:
    """Make the next workflow run of ``full_name`` fail at its image build, with ``reason``
    in the log (control API): a build that fails on GitHub Actions alone."""
    with world.lock:
        repo = github_state.get_repo(world, full_name)
        if repo is None:
            raise KeyError(full_name)
        repo["fail_next_run"] = reason
    world.save()


def _create_run(
    world: World,
    repo: dict[str, Any],
    path: str,
    workflow: dict[str, Any] | None,
    branch: str,
    sha: str,
    pusher: str,
    message: str,
    invalid: str | None,
    event: str = "push",
) -> dict[str, Any]:
    name = str(workflow.get("name") or path) if workflow else path
    entry = _workflow_entry(world, repo, path, name)
    entry["runs"] += 1
    now = world.now()
    run_id = world.next_int("github.run", start=10000000000)
    run: dict[str, Any] = {
        "id": run_id,
        "name": name,
        "path": path,
        "workflow_id": entry["id"],
        "run_number": entry["runs"],
        "run_attempt": 1,
        "event": event,
        "head_branch": branch,
        "head_sha": sha,
        "display_title": message.splitlines()[0] if message else sha[:7],
        "actor": pusher.lower(),
        "status": "queued",
        "conclusion": None,
        "created_at": now,
        "updated_at": now,
        "run_started_at": now,
        "job_ids": [],
    }
    repo["runs"][str(run_id)] = run
    world.count("github.workflow_runs")
    full_name = github_state.full_name_of(repo)
    if invalid is not None or workflow is None:
        # GitHub records a failed run without jobs for a workflow file it cannot parse.
        run.update(status="completed", conclusion="failure", invalid_reason=invalid)
        _send_run_event(world, repo, run, "completed")
        return run
    for job_key, job in workflow["jobs"].items():
        job_id = world.next_int("github.job", start=30000000000)
        repo["jobs"][str(job_id)] = {
            "id": job_id,
            "run_id": run_id,
            "key": job_key,
            "name": str(job.get("name") or job_key),
            "status": "queued",
            "conclusion": None,
            "created_at": now,
            "started_at": now,
            "completed_at": None,
            "steps": [],
            "log": [],
            "runs_on": _as_list(job.get("runs-on")) or RUNNER_LABELS,
        }
        run["job_ids"].append(job_id)
    _send_run_event(world, repo, run, "requested")
    world.schedule(world.config.build_delay, _start_run, world, full_name, run_id)
    return run


def _start_run(world: World, full_name: str, run_id: int) -> None:
    with world.lock:
        repo = github_state.get_repo(world, full_name)
        run = repo["runs"].get(str(run_id)) if repo else None
        if repo is None or run is None or run["status"] != "queued":
            return
        now = world.now()
        run.update(status="in_progress", updated_at=now, run_started_at=now)
        first = repo["jobs"][str(run["job_ids"][0])]
        first.update(status="in_progress", started_at=now)
        _send_run_event(world, repo, run, "in_progress")
    world.save()
    world.schedule(world.config.build_delay, _finish_run, world, full_name, run_id)


def _finish_run(world: World, full_name: str, run_id: int) -> None:
    with world.lock:
        repo = github_state.get_repo(world, full_name)
        run = repo["runs"].get(str(run_id)) if repo else None
        if repo is None or run is None or run["status"] != "in_progress":
            return
        conclusion = "success"
        # A failure asked for through the control API: the run's image build fails.
        forced = repo.pop("fail_next_run", None)
        for job_id in run["job_ids"]:
            job = repo["jobs"][str(job_id)]
            if conclusion != "success":
                job.update(status="completed", conclusion="skipped", completed_at=world.now())
                continue
            runner = JobRunner(world, repo, run, job)
            runner.forced_failure = str(forced) if forced else ""
            ok = runner.run()
            if not ok:
                conclusion = "failure"
        run.update(status="completed", conclusion=conclusion, updated_at=world.now())
        _send_run_event(world, repo, run, "completed")
    world.save()


# -- the job interpreter ---------------------------------------------------------------------


class StepFailed(Exception):
    pass


class JobRunner:
    """Interpret one job's steps, writing a runner-like log and the steps' states."""

    def __init__(
        self, world: World, repo: dict[str, Any], run: dict[str, Any], job: dict[str, Any]
    ):
        self.world = world
        self.repo = repo
        self.run_data = run
        self.job = job
        self.full_name = github_state.full_name_of(repo)
        self.workspace: dict[str, str] = {}
        self.checked_out = False
        self.docker_identity: Identity | None = None
        # Set by fail_next_run: docker/build-push-action fails with this line.
        self.forced_failure = ""
        tree = github_state.read_tree(world, self.full_name, run["head_sha"]) or {}
        self.tree = tree
        workflow = load_workflow(tree[run["path"]])
        self.spec: dict[str, Any] = workflow["jobs"][job["key"]]
        self.env: dict[str, str] = {
            **{str(k): str(v) for k, v in (workflow.get("env") or {}).items()},
            **{str(k): str(v) for k, v in (self.spec.get("env") or {}).items()},
        }

    def log(self, line: str) -> None:
        stamp = dt.datetime.fromtimestamp(self.world.now(), tz=dt.UTC)
        self.job["log"].append(f"{stamp.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z {line}")

    def context(self) -> dict[str, Any]:
        run = self.run_data
        return {
            "github": {
                "repository": self.full_name,
                "repository_owner": self.repo["owner"],
                "sha": run["head_sha"],
                "ref": f"refs/heads/{run['head_branch']}",
                "ref_name": run["head_branch"],
                "event_name": run["event"],
                "actor": run["actor"],
                "run_id": str(run["id"]),
                "run_number": str(run["run_number"]),
                "workflow": run["name"],
            },
            "env": self.env,
            "runner": {"os": "Linux", "arch": "X64"},
            # Repository variables (``${{ vars.NAME }}``), stored upper-case.
            "vars": {
                key: variable["value"] for key, variable in self.repo.get("variables", {}).items()
            },
        }

    def secret(self, name: str) -> str:
        """A repository secret, opened with the repository's private key ("" when unset)."""
        if name.upper() == "GITHUB_TOKEN":
            return "ghs_" + "x" * 36
        secret = self.repo["secrets"].get(name.upper())
        if secret is None:
            return ""
        private = PrivateKey(base64.b64decode(self.repo["secret_key"]["private"]))
        try:
            opened = SealedBox(private).decrypt(base64.b64decode(secret["encrypted_value"]))
            return opened.decode()
        except (CryptoError, ValueError, UnicodeDecodeError) as exc:
            raise StepFailed(
                f"Error: the secret {name.upper()} could not be decrypted: it was not sealed "
                "with this repository's public key"
            ) from exc

    def expand(self, value: Any) -> str:
        """Evaluate ``${{ ... }}`` for the contexts the sandbox knows (others are empty)."""
        text = "" if value is None else str(value)
        if isinstance(value, bool):
            text = "true" if value else "false"

        def evaluate(match: re.Match[str]) -> str:
            expression = match.group(1)
            if len(expression) >= 2 and expression[0] == expression[-1] == "'":
                return expression[1:-1].replace("''", "'")  # a string literal
            parts = expression.split(".")
            if len(parts) == 2 and parts[0] == "secrets":
                return self.secret(parts[1])
            node: Any = self.context()
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    return ""
                node = node[part]
            return str(node)

        return EXPRESSION.sub(evaluate, text)

    def run(self) -> bool:
        job = self.job
        steps: list[dict[str, Any]] = []
        job["steps"] = steps
        self.log("Current runner version: '2.321.0'")
        self.log(f"Runner name: 'GitHub Actions {job['id'] % 1000}'")
        self._step(steps, "Set up job", lambda: self.log("Sandbox runner: steps are interpreted"))
        failed = False
        for index, spec in enumerate(self.spec["steps"], start=1):
            if not isinstance(spec, dict):
                spec = {"run": str(spec)}
            name = self._step_name(spec, index)
            if failed:
                skipped = self._step_record(name, "completed", "skipped")
                skipped["number"] = len(steps) + 1
                steps.append(skipped)
                continue
            if not self._step(steps, name, lambda spec=spec: self._execute(spec)):
                failed = True
        self._step(steps, "Complete job", lambda: self.log("Cleaning up orphan processes"))
        job.update(
            status="completed",
            conclusion="failure" if failed else "success",
            completed_at=self.world.now(),
            runner_name=f"GitHub Actions {job['id'] % 1000}",
        )
        return not failed

    def _step_name(self, spec: dict[str, Any], index: int) -> str:
        if spec.get("name"):
            return self.expand(spec["name"])
        if spec.get("uses"):
            return f"Run {spec['uses']}"
        first = str(spec.get("run", "")).strip().splitlines()
        return f"Run {first[0]}" if first else f"Step {index}"

    def _step_record(self, name: str, status: str, conclusion: str | None) -> dict[str, Any]:
        now = github_json.iso(self.world.now())
        return {
            "name": name,
            "status": status,
            "conclusion": conclusion,
            "started_at": now,
            "completed_at": now if status == "completed" else None,
        }

    def _step(self, steps: list[dict[str, Any]], name: str, body: Any) -> bool:
        record = self._step_record(name, "in_progress", None)
        record["number"] = len(steps) + 1
        steps.append(record)
        self.log(f"##[group]{name}")
        ok = True
        try:
            body()
        except StepFailed as failure:
            self.log(f"##[error]{failure}")
            ok = False
        self.log("##[endgroup]")
        record.update(
            status="completed",
            conclusion="success" if ok else "failure",
            completed_at=github_json.iso(self.world.now()),
        )
        return ok

    def _execute(self, spec: dict[str, Any]) -> None:
        uses = str(spec.get("uses", ""))
        inputs = {str(k): self.expand(v) for k, v in (spec.get("with") or {}).items()}
        action = uses.split("@", 1)[0].lower()
        if not uses:
            for line in str(spec.get("run", "")).strip().splitlines():
                self.log(f"[command]{self.expand(line)}")
            self.log("sandbox: shell steps are logged, not executed")
        elif action == "actions/checkout":
            self.workspace = dict(self.tree)
            self.checked_out = True
            self.log(f"Syncing repository: {self.full_name}")
            self.log(f"Checking out the ref refs/heads/{self.run_data['head_branch']}")
            self.log(f"{self.run_data['head_sha']}")
        elif action == "docker/login-action":
            self._docker_login(inputs)
        elif action == "docker/build-push-action":
            self._build_push(inputs)
        else:
            self.log(f"sandbox: {uses} is not simulated; the step succeeds")

    def _docker_login(self, inputs: dict[str, str]) -> None:
        registry = inputs.get("registry", "").strip() or "docker.io"
        if registry not in ("docker.io", "index.docker.io", "registry-1.docker.io"):
            raise StepFailed(f"Error: the sandbox simulates Docker Hub only, not {registry}")
        username = inputs.get("username", "")
        password = inputs.get("password", "")
        self.log(f"Logging into {registry}...")
        if not username or not password:
            raise StepFailed("Error: Username and password required")
        identity = dockerhub.login(self.world, username, password)
        if identity is None:
            raise StepFailed(
                'Error: Error response from daemon: Get "https://registry-1.docker.io/v2/": '
                "unauthorized: incorrect username or password"
            )
        self.docker_identity = identity
        self.log("Login Succeeded!")

    def _build_push(self, inputs: dict[str, str]) -> None:
        context_input = inputs.get("context", "").strip()
        if context_input:
            # A path context reads the workspace, which is empty without actions/checkout.
            files = self.workspace
            context = context_input
            default_file = posixpath.join(context, "Dockerfile")
        else:
            # The default Git context fetches the pushed commit itself.
            files = self.tree
            context = "/"
            default_file = "Dockerfile"
            self.log(f"Using git context: {self.full_name}#{self.run_data['head_sha']}")
        # With a path context, ``file`` is relative to the workspace (the repository root
        # after checkout), not to the context; with the Git context both are the root.
        dockerfile = posixpath.normpath(inputs.get("file", "").strip() or default_file)
        verdict = images.evaluate_build(files, dockerfile, context, dockerfile_from_root=True)
        for line in verdict.log:
            self.log(line)
        if self.forced_failure:
            self.log(f"ERROR: {self.forced_failure}")
            raise StepFailed("buildx failed with: ERROR: " + self.forced_failure)
        if not verdict.ok:
            raise StepFailed("buildx failed with: " + (verdict.log[-1] if verdict.log else "error"))
        tags = [tag.strip() for tag in re.split(r"[,\n]", inputs.get("tags", "")) if tag.strip()]
        if inputs.get("push", "false").lower() != "true":
            self.log("sandbox: push is false; the image stays in the build cache")
            return
        if not tags:
            raise StepFailed("ERROR: tag is needed when pushing to registry")
        for tag in tags:
            self._push_tag(tag)

    def _push_tag(self, tag: str) -> None:
        try:
            ref = images.parse_image_ref(tag)
        except images.InvalidReference as exc:
            raise StepFailed(f"ERROR: invalid tag {tag!r}: {exc}") from exc
        if ref.registry != "docker.io":
            raise StepFailed(f"ERROR: the sandbox simulates Docker Hub only, not {ref.registry}")
        namespace, name = ref.repository.split("/", 1)
        denied = (
            f"ERROR: failed to push {ref.canonical}: push access denied, repository does not "
            "exist or may require authorization: server message: insufficient_scope: "
            "authorization failed"
        )
        identity = self.docker_identity
        if identity is None or not dockerhub.may_push(self.world, identity, namespace, name):
            raise StepFailed(denied)
        self.log(f"#9 pushing {ref.canonical}")
        try:
            digest = dockerhub_repos.push_tag(self.world, namespace, name, ref.tag, identity.name)
        except KeyError as exc:
            raise StepFailed(
                denied + f" (the sandbox Docker Hub has no repository {namespace}/{name})"
            ) from exc
        self.log(f"#9 pushing manifest for {ref.canonical}@{digest} done")


# -- JSON ------------------------------------------------------------------------------------


def run_json(
    world: World, urls: github_json.Urls, repo: dict[str, Any], run: dict[str, Any]
) -> dict[str, Any]:
    full_name = github_state.full_name_of(repo)
    api = f"{urls.api}/repos/{full_name}/actions/runs/{run['id']}"
    commit = repo["commits"][run["head_sha"]]
    actor = world.github["users"].get(run["actor"])
    actor_json = github_json.simple_user(urls, actor) if actor else None

    def person(data: dict[str, Any]) -> dict[str, str]:
        return {"name": data["name"], "email": data["email"]}

    minimal = github_json.minimal_repo(world, urls, repo)
    return {
        "id": run["id"],
        "name": run["name"],
        "node_id": github_state.node_id("WorkflowRun", run["id"]),
        "check_suite_id": run["id"] + 7,
        "check_suite_node_id": github_state.node_id("CheckSuite", run["id"] + 7),
        "head_branch": run["head_branch"],
        "head_sha": run["head_sha"],
        "path": run["path"],
        "display_title": run["display_title"],
        "run_number": run["run_number"],
        "run_attempt": run["run_attempt"],
        "event": run["event"],
        "status": run["status"],
        "conclusion": run["conclusion"],
        "workflow_id": run["workflow_id"],
        "url": api,
        "html_url": f"{urls.html}/{full_name}/actions/runs/{run['id']}",
        "pull_requests": [],
        "created_at": github_json.iso(run["created_at"]),
        "updated_at": github_json.iso(run["updated_at"]),
        "run_started_at": github_json.iso(run["run_started_at"]),
        "actor": actor_json,
        "triggering_actor": actor_json,
        "referenced_workflows": [],
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{urls.api}/repos/{full_name}/check-suites/{run['id'] + 7}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{urls.api}/repos/{full_name}/actions/workflows/{run['workflow_id']}",
        "head_commit": {
            "id": commit["sha"],
            "tree_id": commit["tree_sha"],
            "message": commit["message"],
            "timestamp": github_json.iso(commit["committer"]["date"]),
            "author": person(commit["author"]),
            "committer": person(commit["committer"]),
        },
        "repository": minimal,
        "head_repository": minimal,
        "head_repository_id": repo["id"],
    }


def job_json(
    urls: github_json.Urls, repo: dict[str, Any], run: dict[str, Any], job: dict[str, Any]
) -> dict[str, Any]:
    full_name = github_state.full_name_of(repo)
    api = f"{urls.api}/repos/{full_name}"
    started = job["status"] != "queued"
    return {
        "id": job["id"],
        "run_id": run["id"],
        "run_url": f"{api}/actions/runs/{run['id']}",
        "run_attempt": run["run_attempt"],
        "node_id": github_state.node_id("CheckRun", job["id"]),
        "head_sha": run["head_sha"],
        "head_branch": run["head_branch"],
        "url": f"{api}/actions/jobs/{job['id']}",
        "html_url": f"{urls.html}/{full_name}/actions/runs/{run['id']}/job/{job['id']}",
        "status": job["status"],
        "conclusion": job["conclusion"],
        "created_at": github_json.iso(job["created_at"]),
        "started_at": github_json.iso(job["started_at"]),
        "completed_at": github_json.iso(job["completed_at"]) if job["completed_at"] else None,
        "name": job["name"],
        "steps": [
            {
                key: step[key]
                for key in ("name", "status", "conclusion", "number", "started_at", "completed_at")
            }
            for step in job["steps"]
        ],
        "check_run_url": f"{api}/check-runs/{job['id']}",
        "labels": list(job["runs_on"]),
        "runner_id": (job["id"] % 1000) + 1 if started else None,
        "runner_name": job.get("runner_name") if started else None,
        "runner_group_id": 0 if started else None,
        "runner_group_name": "GitHub Actions" if started else None,
        "workflow_name": run["name"],
    }


def workflow_json(
    urls: github_json.Urls, repo: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    full_name = github_state.full_name_of(repo)
    return {
        "id": entry["id"],
        "node_id": entry["node_id"],
        "name": entry["name"],
        "path": entry["path"],
        "state": entry["state"],
        "created_at": github_json.iso(entry["created_at"]),
        "updated_at": github_json.iso(entry["updated_at"]),
        "url": f"{urls.api}/repos/{full_name}/actions/workflows/{entry['id']}",
        "html_url": f"{urls.html}/{full_name}/blob/{repo['default_branch']}/{entry['path']}",
        "badge_url": f"{urls.html}/{full_name}/workflows/{entry['name']}/badge.svg",
    }


def _send_run_event(world: World, repo: dict[str, Any], run: dict[str, Any], action: str) -> None:
    """``workflow_run`` webhooks for hooks that subscribed to them, and for GitHub Apps
    installed on the repository (``github.workflow_run``, see ``github_apps_state``)."""
    hooks = [
        hook
        for hook in repo["hooks"].values()
        if hook["active"] and ("workflow_run" in hook["events"] or "*" in hook["events"])
    ]
    urls = github_json.Urls(github_state.base_url(world), api_prefix="/api/v3")
    entry = repo["workflows"][run["path"]]
    actor = world.github["users"].get(run["actor"])
    payload = {
        "action": action,
        "workflow_run": run_json(world, urls, repo, run),
        "workflow": workflow_json(urls, repo, entry),
        "repository": github_json.webhook_repo(world, urls, repo, push=False),
        "sender": github_json.simple_user(urls, actor) if actor else None,
    }
    for hook in hooks:
        github_state.send_hook(world, repo, hook, "workflow_run", payload)
    world.emit("github.workflow_run", repo=repo, payload=payload)


def filter_runs(repo: dict[str, Any], args: dict[str, str]) -> list[dict[str, Any]]:
    """The runs ``GET .../actions/runs`` lists, newest first, with its query filters."""
    runs = sorted(repo["runs"].values(), key=lambda run: run["id"], reverse=True)
    if args.get("branch"):
        runs = [run for run in runs if run["head_branch"] == args["branch"]]
    if args.get("event"):
        runs = [run for run in runs if run["event"] == args["event"]]
    if args.get("head_sha"):
        runs = [run for run in runs if run["head_sha"] == args["head_sha"]]
    if args.get("actor"):
        runs = [run for run in runs if run["actor"] == args["actor"].lower()]
    status = args.get("status")
    if status:
        # ``status`` takes a status or a conclusion (GitHub's documented behaviour).
        runs = [run for run in runs if status in (run["status"], run["conclusion"])]
    return runs
