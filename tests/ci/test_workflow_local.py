"""Run a GitHub Actions workflow's steps on this machine, in job order with the matrix expanded, on the example suite.

A small stand-in for the runner, enough for our workflows and strict about the rest: jobs in `needs` order, each
matrix entry in a fresh copy of the project (a new machine per job, as on GitHub), `${{ }}` expressions over the
contexts we use (anything else fails the test, so a new expression cannot slip through unexecuted), `run:` steps
in `bash -eo pipefail` as GitHub runs them, `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY` and artifact folders under a
temp directory, and the four official actions emulated: checkout copies the project, setup-python is the test's
interpreter, upload/download-artifact copy folders with upload-artifact@v4's layout (a folder's contents at the
artifact root) and download-artifact@v4's `name`, `pattern`, `path` and `merge-multiple`, and actions/cache's
restore and save as GitHub keeps caches across runs: immutable keys (a second save of a key is refused with a
warning), restore by exact key else the newest entry whose key starts with a restore key. One `Caches` object
outlives the runs that share it, as a repository's cache does.

Attempts: `github.run_attempt` and `GITHUB_RUN_ATTEMPT`, and `rerun_failed_jobs()`, GitHub's "Re-run failed jobs":
a new attempt of the same run that re-runs only the failed jobs (for a matrix, only its failed entries) and every
job that needs a re-run one, and keeps the others' results and outputs (so `needs.plan.outputs.matrix` is the first
attempt's). Artifacts belong to the attempt that uploaded them (`Artifacts`): a second upload of a name in the same
attempt is GitHub's 409 ("an artifact with this name already exists on the workflow run"), the same name in another
attempt is allowed (GitHub's listing of a re-run run holds both: artifact names are unique per attempt, not per
run), and a job of a partial re-run sees its own attempt's artifacts and those of the attempts it re-runs, a name
resolving to the newest; a full "Re-run all jobs" (a new attempt without `rerun_failed_jobs`) sees only its own.

The Install steps are skipped: they pip-install sharder, which the interpreter running these tests already has.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sharder.ci.providers import PROVIDERS, SHARD_VARIABLE
from sharder.ci.workflow import DOWNLOAD_ARTIFACT
from sharder.reports.junit import read_report
from tests.ci.test_workflow import REPO, load_workflow

SKIPPED_STEPS = {"Install"}
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_CALL = re.compile(r"([A-Za-z]+)\((.*)\)")
_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*")


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    output: str = ""


@dataclass
class JobRun:
    job: str
    index: int
    matrix: dict[str, Any]
    attempt: int = 1  # the run attempt that ran it (a job "Re-run failed jobs" kept keeps its first attempt's)
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> bool:
        return any(step.outcome == "failure" for step in self.steps)


class Caches:
    """A repository's actions/cache entries: key -> folder, in the order they were saved."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys: list[str] = []

    def restore(self, key: str, prefixes: list[str]) -> Path | None:
        if key in self.keys:
            return self.root / str(self.keys.index(key))
        for prefix in prefixes:
            newest = [k for k in self.keys if k.startswith(prefix)]
            if newest:
                return self.root / str(self.keys.index(newest[-1]))
        return None

    def save(self, key: str, source: Path) -> bool:
        if key in self.keys:
            return False
        self.keys.append(key)
        shutil.copytree(source, self.root / str(len(self.keys) - 1))
        return True


class Artifacts:
    """A workflow run's artifacts, each kept by the attempt that uploaded it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, attempt: int, name: str) -> Path:
        return self.root / f"attempt-{attempt}" / name

    def taken(self, name: str) -> bool:
        """Whether any attempt of the run uploaded `name`: GitHub answers a second upload with 409, in the same
        attempt or a later one (the reason every generated artifact name carries the attempt)."""
        return any(folder.is_dir() for folder in self.root.glob(f"attempt-*/{name}"))

    def visible(self, attempts: list[int]) -> dict[str, Path]:
        """Name -> folder over the given attempts (oldest first), a newer attempt's artifact shadowing an older's."""
        found: dict[str, Path] = {}
        for attempt in attempts:
            folder = self.root / f"attempt-{attempt}"
            if folder.is_dir():
                found.update({path.name: path for path in sorted(folder.iterdir())})
        return found


class LocalWorkflowRun:
    def __init__(self, workflow: Path, project: Path, scratch: Path, env: dict[str, str], *,
                 caches: Caches | None = None, run_id: int = 1, attempt: int = 1, ref: str = "refs/heads/main",
                 artifacts: Artifacts | None = None, previous: LocalWorkflowRun | None = None) -> None:
        self.workflow = workflow
        self.document = load_workflow(workflow)
        self.project = project
        self.scratch = scratch
        scratch.mkdir(parents=True)
        self.store = artifacts or Artifacts(scratch / "artifacts")
        self.attempt = attempt
        self.previous = previous  # the attempt a "Re-run failed jobs" re-runs, or None
        self.visible_attempts = [*(previous.visible_attempts if previous else []), attempt]
        self.base_env = env
        self.runs: dict[str, list[JobRun]] = {}
        self.caches = caches or Caches(scratch / "caches")
        self.github = {"workflow": self.document.get("name", ""), "ref": ref, "ref_name": ref.rsplit("/", 1)[-1],
                       "run_id": str(run_id), "run_attempt": str(attempt),
                       "event": {"repository": {"default_branch": "main"}}}

    # --------------------------------------------------------------------------------- expressions

    def evaluate(self, expression: str, context: dict[str, Any]) -> Any:
        expression = expression.strip()
        # Operators by GitHub's precedence, lowest first; our workflows need no parentheses, so none are parsed.
        for operator in ("||", "&&"):
            if operator in expression:
                sides = [self.evaluate(part, context) for part in expression.split(operator)]
                return any(sides) if operator == "||" else all(sides)
        for operator in ("==", "!="):
            if operator in expression:
                left, right = (self.evaluate(part, context) for part in expression.split(operator, 1))
                return (left == right) if operator == "==" else (left != right)
        if expression.startswith("!"):
            return not self.evaluate(expression[1:], context)
        call = _CALL.fullmatch(expression)
        if call:
            function, argument = call.groups()
            status = {"always": True, "success": not context["_failed"], "failure": context["_failed"],
                      "cancelled": False}
            if function in status and not argument.strip():
                return status[function]
            if function == "fromJSON":
                return json.loads(str(self.evaluate(argument, context)))
            if function == "format":
                template, *values = (self.evaluate(part, context) for part in argument.split(","))
                return str(template).format(*values)
            raise AssertionError(f"the local runner does not know {function}()")
        if len(expression) >= 2 and expression[0] == expression[-1] == "'":
            return expression[1:-1]
        if not _PATH.fullmatch(expression):
            raise AssertionError(f"the local runner cannot evaluate {expression!r}")
        value: Any = context
        for part in expression.split("."):
            if not isinstance(value, dict) or part not in value:
                raise AssertionError(f"{expression!r}: no {part!r} in this context")
            value = value[part]
        return value

    def expand(self, value: Any, context: dict[str, Any]) -> Any:
        """`${{ }}` in strings; a string that is one whole expression keeps its type (fromJSON's dict)."""
        if isinstance(value, dict):
            return {key: self.expand(item, context) for key, item in value.items()}
        if isinstance(value, list):
            return [self.expand(item, context) for item in value]
        if not isinstance(value, str):
            return value
        whole = _EXPRESSION.fullmatch(value.strip())
        if whole:
            return self.evaluate(whole.group(1), context)
        return _EXPRESSION.sub(lambda m: str(self.evaluate(m.group(1), context)), value)

    def condition(self, value: Any, context: dict[str, Any]) -> bool:
        if value is None:
            return not context["_failed"]
        text = str(value).strip()
        whole = _EXPRESSION.fullmatch(text)
        return bool(self.evaluate(whole.group(1) if whole else text, context))

    # --------------------------------------------------------------------------------- jobs

    def job_order(self) -> list[str]:
        jobs = self.document["jobs"]
        order: list[str] = []
        while len(order) < len(jobs):
            ready = [name for name, job in jobs.items() if name not in order
                     and all(need in order for need in _needs(job))]
            assert ready, f"needs form a cycle among {sorted(set(jobs) - set(order))}"
            order.append(ready[0])
        return order

    def rerun_failed_jobs(self, scratch: Path, env: dict[str, str] | None = None) -> LocalWorkflowRun:
        """GitHub's "Re-run failed jobs": the next attempt of this run, sharing its artifacts and caches."""
        return LocalWorkflowRun(self.workflow, self.project, scratch, self.base_env if env is None else env,
                                caches=self.caches, run_id=int(self.github["run_id"]), attempt=self.attempt + 1,
                                ref=self.github["ref"], artifacts=self.store, previous=self)

    def run(self) -> None:
        workflow_context = self.github
        rerun: set[str] = set()  # jobs this attempt ran again (their dependents run again too)
        for name in self.job_order():
            job = self.document["jobs"][name]
            earlier = self.previous.runs.get(name) if self.previous is not None else None
            again = {r.index for r in earlier or [] if r.failed}
            if earlier is not None and not again and not rerun & set(_needs(job)):
                self.runs[name] = earlier  # it passed (or was skipped) and nothing it needs ran again: kept
                continue
            needs = {need: self._needs_context(need) for need in _needs(job)}
            base = {"github": workflow_context, "needs": needs,
                    "_failed": any(result["result"] != "success" for result in needs.values())}
            rerun.add(name)
            if not self.condition(job.get("if"), base):
                self.runs[name] = []
                continue
            matrix = self.expand(job.get("strategy", {}).get("matrix"), base)
            entries = _expand_matrix(matrix)
            keep = {r.index: r for r in earlier or []} if earlier is not None and not rerun & set(_needs(job)) else {}
            self.runs[name] = [keep[index] if index in keep and index not in again
                               else self._run_job(name, job, index, entry, len(entries), base)
                               for index, entry in enumerate(entries)]

    def transcript(self) -> str:
        """What every job this attempt ran printed, step by step (the simulation log the lead quotes)."""
        lines = [f"===== run {self.github['run_id']} attempt {self.attempt} on {self.github['ref']} ====="]
        for runs in self.runs.values():
            for run in runs:
                if run.attempt != self.attempt:
                    lines.append(f"--- {run.job} {run.matrix or ''}: kept from attempt {run.attempt}")
                    continue
                lines.append(f"--- {run.job} {run.matrix or ''}")
                for step in run.steps:
                    lines.append(f"[{step.outcome}] {step.name}")
                    if step.output and step.outcome != "skipped":
                        lines.append(step.output.rstrip())
        return "\n".join(lines) + "\n"

    def artifact(self, name: str) -> Path:
        """The artifact this attempt's jobs see under `name` (the newest visible attempt's)."""
        found = self.store.visible(self.visible_attempts)
        assert name in found, f"no artifact {name!r} visible to attempt {self.attempt}: {sorted(found)}"
        return found[name]

    def _needs_context(self, job: str) -> dict[str, Any]:
        runs = self.runs[job]
        result = "skipped" if not runs else "failure" if any(r.failed for r in runs) else "success"
        return {"result": result, "outputs": runs[-1].outputs if runs else {}}

    def _run_job(self, name: str, job: dict[str, Any], index: int, matrix: dict[str, Any], total: int,
                 base: dict[str, Any]) -> JobRun:
        run = JobRun(name, index, matrix, self.attempt)
        home = self.scratch / "jobs" / f"{name}-{index}"
        workspace = home / "workspace"
        workspace.mkdir(parents=True)
        context: dict[str, Any] = {**base, "matrix": matrix, "steps": {}, "_failed": False,
                                   "strategy": {"job-index": index, "job-total": total}}
        for number, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or step.get("run", "")
            if step.get("name") in SKIPPED_STEPS or not self.condition(step.get("if"), context):
                run.steps.append(StepResult(label, "skipped"))
                continue
            output_file = home / f"output-{number}"
            summary_file = home / f"summary-{number}"
            output_file.touch()
            try:
                if "uses" in step:
                    text = self._use(step["uses"], self.expand(step.get("with", {}), context), workspace)
                    ok = True
                    if text.startswith("uploaded "):  # upload-artifact@v4's output: where to download it
                        url = self.store.folder(self.attempt, text.removeprefix("uploaded ")).as_uri()
                        output_file.write_text(f"artifact-url={url}\n", encoding="utf-8")
                else:
                    ok, text = self._shell(self.expand(step["run"], context), workspace, home, output_file,
                                           summary_file, self.expand(step.get("env", {}), context))
            except StepFailed as failure:
                ok, text = False, str(failure)
            run.steps.append(StepResult(label, "success" if ok else "failure", text))
            if summary_file.exists():
                run.summary += summary_file.read_text(encoding="utf-8")
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": _read_outputs(output_file),
                                                "outcome": "success" if ok else "failure"}
            context["_failed"] = context["_failed"] or not ok
        run.outputs = {key: str(self.expand(value, context)) for key, value in job.get("outputs", {}).items()}
        return run

    def _shell(self, script: str, workspace: Path, home: Path, output_file: Path, summary_file: Path,
               step_env: dict[str, str]) -> tuple[bool, str]:
        script_file = home / "step.sh"
        script_file.write_text(script + "\n", encoding="utf-8")
        env = {**self.base_env, **{k: str(v) for k, v in step_env.items()},
               "GITHUB_RUN_ID": self.github["run_id"], "GITHUB_RUN_ATTEMPT": self.github["run_attempt"],
               "GITHUB_REF_NAME": self.github["ref_name"],
               "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file),
               "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(home), "GITHUB_ACTIONS": "true", "CI": "true"}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        return proc.returncode == 0, f"$ {script}\n{proc.stdout}{proc.stderr}"

    # --------------------------------------------------------------------------------- actions

    def _use(self, uses: str, inputs: dict[str, Any], workspace: Path) -> str:
        action = uses.partition("@")[0]  # versions are checked by tests/ci/test_workflow.py
        if action == "actions/checkout":
            shutil.copytree(self.project, workspace, dirs_exist_ok=True)
            return "checked out"
        if action == "actions/setup-python":
            return f"python {sys.version.split()[0]} (the test's interpreter)"
        if action == "actions/upload-artifact":
            return self._upload(inputs, workspace)
        if action == "actions/download-artifact":
            return self._download(inputs, workspace)
        if action == "actions/cache/restore":
            found = self.caches.restore(str(inputs["key"]), str(inputs.get("restore-keys", "")).split())
            if found is None:
                return "cache not found"
            shutil.copytree(found, workspace / str(inputs["path"]), dirs_exist_ok=True)
            return f"cache restored from {found.name}"
        if action == "actions/cache/save":
            source = workspace / str(inputs["path"])
            if not source.exists():
                return "warning: path does not exist; nothing saved"
            if not self.caches.save(str(inputs["key"]), source):
                return f"warning: a cache entry {inputs['key']!r} exists already; not saved (caches are immutable)"
            return f"cache saved as {inputs['key']}"
        raise AssertionError(f"the local runner does not emulate {uses}")

    def _upload(self, inputs: dict[str, Any], workspace: Path) -> str:
        name = str(inputs["name"])
        assert re.fullmatch(r'[^"<>|*?\r\n\\/:]+', name), f"invalid artifact name {name!r}"
        source = workspace / str(inputs["path"])
        target = self.store.folder(self.attempt, name)
        if self.store.taken(name):
            raise StepFailed(f"(409) Conflict: an artifact with this name already exists on the workflow run: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not source.exists():
            if inputs.get("if-no-files-found", "warn") == "error":
                raise StepFailed(f"no files found at {inputs['path']}")
            return f"warning: no files found at {inputs['path']}; nothing uploaded"
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir()
            shutil.copy2(source, target / source.name)
        return f"uploaded {name}"

    def _download(self, inputs: dict[str, Any], workspace: Path) -> str:
        destination = workspace / str(inputs.get("path", "."))
        visible = self.store.visible(self.visible_attempts)
        if "name" in inputs:
            source = visible.get(str(inputs["name"]))
            if source is None:
                raise StepFailed(f"artifact {inputs['name']!r} not found")
            shutil.copytree(source, destination, dirs_exist_ok=True)
            return f"downloaded {inputs['name']} (uploaded by attempt {source.parent.name.rsplit('-', 1)[1]})"
        names = sorted(name for name in visible if fnmatch.fnmatchcase(name, str(inputs["pattern"])))
        for name in names:
            into = destination if inputs.get("merge-multiple") else destination / name
            shutil.copytree(visible[name], into, dirs_exist_ok=True)
        return f"downloaded {len(names)} artifacts: {', '.join(names)}"

    # --------------------------------------------------------------------------------- results

    def failures(self) -> str:
        lines = [f"{run.job}[{run.index}] {step.name}:\n{step.output}"
                 for runs in self.runs.values() for run in runs for step in run.steps if step.outcome == "failure"]
        return "\n".join(lines)

    def failed_steps(self) -> list[tuple[str, int, str]]:
        return [(run.job, run.index, step.name) for runs in self.runs.values() for run in runs
                for step in run.steps if step.outcome == "failure"]

    def summary(self) -> str:
        return "".join(run.summary for runs in self.runs.values() for run in runs)


class StepFailed(Exception):
    pass


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _expand_matrix(matrix: Any) -> list[dict[str, Any]]:
    if matrix is None:
        return [{}]
    assert isinstance(matrix, dict) and not {"include", "exclude"} & set(matrix), matrix
    keys = list(matrix)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(matrix[k] for k in keys))]


def _read_outputs(path: Path) -> dict[str, str]:
    """`name=value` lines and `name<<DELIMITER` blocks, as GitHub reads $GITHUB_OUTPUT."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    position = 0
    while position < len(lines):
        line = lines[position]
        position += 1
        heredoc = "<<" in line and ("=" not in line or line.index("<<") < line.index("="))
        if heredoc:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, position)
            outputs[name] = "\n".join(lines[position:end])
            position = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


# ------------------------------------------------------------------------------------------- tests


@pytest.fixture
def step_env(sharder_env: dict[str, str]) -> dict[str, str]:
    """The test's environment without any CI's shard variables, with this interpreter's `sharder` first on PATH."""
    ci_variables = {SHARD_VARIABLE, *(v for p in PROVIDERS for v in (p.index_variable, p.count_variable))}
    env = {key: value for key, value in sharder_env.items() if key not in ci_variables}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _collected_ids(project: Path, env: dict[str, str]) -> list[str]:
    out = project.parent / "ids.json"
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
                    f"--sharder-collect-to={out}"], cwd=project, env=env, capture_output=True, check=True)
    ids: list[str] = json.loads(out.read_text())["tests"]
    return ids


def _check_run(run: LocalWorkflowRun, project: Path, env: dict[str, str], shards: int,
               failing: tuple[str, ...] = (), rerun: tuple[str, ...] = ()) -> None:
    """Every job ran (the matrix expanded to `shards` jobs), every test is in the step summary, each shard's
    latest artifact holds its report and progress log, together they ran each test once, and durations came
    back; the merged report holds each test once, and the tests of a re-run shard (`rerun`) once per attempt."""
    assert [len(run.runs[job]) for job in ("plan", "test", "report")] == [1, shards, 1]
    assert run.runs["plan"][0].outputs["shards"] == str(shards)
    assert [r.matrix["shard"] for r in run.runs["test"]] == [f"{k}/{shards}" for k in range(1, shards + 1)]
    ids = _collected_ids(project, env)
    summary = run.summary()
    assert f"{len(ids)} of {len(ids)} planned tests reported, {len(failing)} failed, 0 missing" in summary
    assert f"### All tests ({len(ids)})" in summary
    for node_id in ids:
        assert f"`{node_id}` |" in summary, node_id
    ran: list[str] = []
    for index in range(shards):
        artifact = run.artifact(_reports_artifact(run, index))
        stem = f"shard-{index + 1}-of-{shards}"
        assert sorted(p.name for p in artifact.iterdir()) == [f"{stem}.progress.jsonl", f"{stem}.xml"]
        ran += [case.node_id for case in read_report(artifact / f"{stem}.xml").cases]
    assert sorted(ran) == sorted(ids)
    attempt = run.runs["report"][0].attempt  # the report job's artifacts are named by the attempt that ran it
    durations = json.loads((run.artifact(f"durations-{attempt}") / "durations.json").read_text())
    # a failed test teaches the store nothing: its time is not what a pass costs
    assert set(durations["tests"]) == set(ids) - set(failing)
    assert sorted(case.node_id for case in read_report(run.artifact(f"merged-report-{attempt}") / "merged.xml").cases) \
        == sorted([*ids, *rerun])


def _reports_artifact(run: LocalWorkflowRun, index: int) -> str:
    """The name shard job `index` uploaded its reports under, in the attempt that last ran it."""
    upload = next(step for step in run.document["jobs"]["test"]["steps"] if step.get("if") == "always()")
    return (str(upload["with"]["name"]).replace("${{ strategy.job-index }}", str(index))
            .replace("${{ github.run_attempt }}", str(run.runs["test"][index].attempt)))


def test_own_workflow_runs_locally_on_the_example_suite(
    example_dir: Path, tmp_path: Path, step_env: dict[str, str]
) -> None:
    # The steps this repository runs on GitHub, on the example suite (11.5 s recorded: one 5-minute shard).
    run = LocalWorkflowRun(REPO / ".github" / "workflows" / "ci.yml", example_dir, tmp_path / "run", step_env)
    run.run()
    assert run.failures() == ""
    _check_run(run, example_dir, step_env, shards=1)


def test_generated_workflow_runs_locally_and_a_failing_shard_still_reports(
    example_dir: Path, tmp_path: Path, step_env: dict[str, str], run_sharder: Any
) -> None:
    # A target the example suite (11.5 s recorded, longest test 2.5 s) meets with 3 shards, not 2.
    made = run_sharder(["init", "github", "--target", "5s", "--job-overhead", "1s"], cwd=example_dir)
    assert made.returncode == 0, made.stderr
    failing = example_dir / "tests" / "test_quick.py"
    failing.write_text(failing.read_text() + "\n\ndef test_added_and_failing():\n    assert 1 == 2\n")
    run = LocalWorkflowRun(example_dir / ".github" / "workflows" / "sharder.yml", example_dir, tmp_path / "run",
                           step_env)
    run.run()
    # The failing shard's step is red, yet its reports are uploaded; the report job runs, its verdict is red, and
    # the refreshed durations and the merged report still come back.
    shard_steps = [{s.name: s.outcome for s in r.steps} for r in run.runs["test"]]
    assert sorted(steps["Run shard"] for steps in shard_steps) == ["failure", "success", "success"]
    assert all(steps["Upload reports"] == "success" for steps in shard_steps)
    report = {step.name: step.outcome for step in run.runs["report"][0].steps}
    assert report["Merge"] == "failure"
    assert report["Rebalance"] == report["Upload durations"] == report["Upload merged report"] == "success"
    red_shard = next(r.index for r in run.runs["test"] if r.failed)
    assert run.failed_steps() == [("test", red_shard, "Run shard"), ("report", 0, "Merge")]
    _check_run(run, example_dir, step_env, shards=3, failing=("tests/test_quick.py::test_added_and_failing",))
    # the red merge's HTML report is uploaded all the same, and the job summary links to it
    assert report["Upload HTML report"] == report["Link the HTML report"] == "success"
    html = (run.artifact("html-report-1") / "report.html").read_text(encoding="utf-8")
    assert [html.count(f'"label":"shard {k}/3"') for k in (1, 2, 3)] == [1, 1, 1]
    assert f"[HTML report: the shard timeline]({run.artifact('html-report-1').as_uri()})" in run.summary()


def test_a_failed_plan_skips_the_shards_and_the_report(
    example_dir: Path, tmp_path: Path, step_env: dict[str, str], run_sharder: Any
) -> None:
    """With nothing planned there is nothing to merge: the report job stays out of the way (on GitHub its artifact
    download would fail and hide the plan's own error), so the one red step is the plan's."""
    made = run_sharder(["init", "github", "--shards", "2"], cwd=example_dir)
    assert made.returncode == 0, made.stderr
    (example_dir / "durations.json").write_text("{not json")
    run = LocalWorkflowRun(example_dir / ".github" / "workflows" / "sharder.yml", example_dir, tmp_path / "run",
                           step_env)
    run.run()
    assert run.failed_steps() == [("plan", 0, "Plan")]
    assert run.runs["test"] == [] and run.runs["report"] == []


def _step_output(run: LocalWorkflowRun, job: str, name: str) -> str:
    return next(step.output for step in run.runs[job][0].steps if step.name == name)


FLAKY_TEST = "tests/test_flaky_once.py::test_fails_on_its_first_execution_only"
# A test that fails on its first execution only, once the harness hands it a marker path: a file outside every job's
# workspace (each job is a fresh machine), as a flaky external resource would be.
FLAKY_ONCE = """\
import os
import pathlib


def test_fails_on_its_first_execution_only():
    marker = os.environ.get("SHARDER_TEST_FLAKY_MARKER")
    if marker and not pathlib.Path(marker).exists():
        pathlib.Path(marker).write_text("failed once")
        raise AssertionError("fails on its first execution only")
"""


def _record(run: LocalWorkflowRun) -> None:
    """What the simulated run printed: on stdout (`-s`), and appended to $SHARDER_SIMULATION_LOG when it is set."""
    text = run.transcript()
    print(text)
    target = os.environ.get("SHARDER_SIMULATION_LOG")
    if target:
        with open(target, "a", encoding="utf-8") as log:
            log.write(text)


def _shard_tests(report: Path) -> list[str]:
    return sorted(case.node_id for case in read_report(report).cases)


def test_the_store_lives_in_the_cache_across_runs_and_a_rerun_of_a_failed_shard_keeps_its_tests(
    example_dir: Path, tmp_path: Path, step_env: dict[str, str], run_sharder: Any
) -> None:
    """Run 101 on main counts tests (no timings anywhere) and saves the store; a branch's run 102 reads it and saves
    nothing; run 103 on main plans from it, one shard fails on a flaky test, and "Re-run failed jobs" runs that
    shard alone again as attempt 2 with the same plan: the report job of attempt 2 merges both attempts, green, the
    test flaky, the shard judged by attempt 2, and the store learns every test of run 103 once."""
    # A fixed count: with --target, the example suite's scaled timings fit one shard, and a re-run of one shard of
    # one would show nothing of which shards GitHub runs again.
    made = run_sharder(["init", "github", "--shards", "3"], cwd=example_dir)
    assert made.returncode == 0, made.stderr
    (example_dir / "durations.json").unlink()  # a project that never committed its timings
    (example_dir / "tests" / "test_flaky_once.py").write_text(FLAKY_ONCE, encoding="utf-8")
    caches = Caches(tmp_path / "caches")
    workflow = example_dir / ".github" / "workflows" / "sharder.yml"

    first = LocalWorkflowRun(workflow, example_dir, tmp_path / "run1", step_env, caches=caches, run_id=101)
    first.run()
    _record(first)
    assert first.failures() == ""
    assert "no recorded timings" in _step_output(first, "plan", "Plan")
    assert caches.keys == ["sharder-durations-101-1"]
    assert "Planned with no recorded timings" in first.summary()

    branch = LocalWorkflowRun(workflow, example_dir, tmp_path / "run2", step_env, caches=caches, run_id=102,
                              ref="refs/heads/feature")
    branch.run()
    _record(branch)
    assert branch.failures() == ""
    assert "written by github run 101 on main" in _step_output(branch, "plan", "Plan")
    assert caches.keys == ["sharder-durations-101-1"]  # a branch reads the store and never saves it

    flaky_env = {**step_env, "SHARDER_TEST_FLAKY_MARKER": str(tmp_path / "flaky-marker")}
    second = LocalWorkflowRun(workflow, example_dir, tmp_path / "run3", flaky_env, caches=caches, run_id=103)
    second.run()
    _record(second)
    assert "timings from the CI cache .sharder/durations.json, written by github run 101 on main" in \
        _step_output(second, "plan", "Plan")
    assert "36 of 36 planned tests have a recorded time" in _step_output(second, "plan", "Plan")
    red = [r.index for r in second.runs["test"] if r.failed]
    assert len(red) == 1 and second.failed_steps() == [("test", red[0], "Run shard"), ("report", 0, "Merge")]
    assert caches.keys == ["sharder-durations-101-1", "sharder-durations-103-1"]
    assert "1 failed" in second.summary() and FLAKY_TEST in second.summary()

    again = second.rerun_failed_jobs(tmp_path / "run3-attempt2")
    again.run()
    _record(again)
    assert again.failures() == ""
    # only the red shard and the report ran again; the plan job and its outputs (the matrix) are attempt 1's
    assert [r.attempt for r in again.runs["plan"]] == [1]
    assert [r.attempt for r in again.runs["test"]] == [2 if i == red[0] else 1 for i in range(3)]
    assert [r.attempt for r in again.runs["report"]] == [2]
    rerun_job = tmp_path / "run3-attempt2" / "jobs" / f"test-{red[0]}" / "workspace"
    assert "(uploaded by attempt 1)" in next(s.output for s in again.runs["test"][red[0]].steps
                                             if s.name == DOWNLOAD_ARTIFACT)
    assert (rerun_job / "plan.json").read_bytes() == (second.artifact("sharder-plan-1") / "plan.json").read_bytes()
    # the same membership: attempt 2 ran exactly the tests attempt 1 ran for that shard, the plan's bin
    stem = f"shard-{red[0] + 1}-of-3"
    attempt_1 = _shard_tests(again.artifact(f"sharder-reports-{red[0]}-1") / f"{stem}.xml")
    attempt_2 = _shard_tests(again.artifact(f"sharder-reports-{red[0]}-2") / f"{stem}.xml")
    plan = json.loads((rerun_job / "plan.json").read_text())
    assert attempt_1 == attempt_2 == sorted(plan["bins"][red[0]]["tests"]) and FLAKY_TEST in attempt_2
    # the report job of attempt 2 merged every attempt's reports: green, the test flaky, the shard's verdict attempt 2
    report_job = tmp_path / "run3-attempt2" / "jobs" / "report-0" / "workspace"
    merged = subprocess.run([sys.executable, "-m", "sharder", "merge", "reports", "--plan", "plan.json", "--json"],
                            cwd=report_job, env=step_env, capture_output=True, text=True, check=False)
    verdict = json.loads(merged.stdout)
    assert merged.returncode == 0 and (verdict["failed"], verdict["flaky"], verdict["missing"]) == (0, 1, 0)
    assert [t["nodeid"] for t in verdict["flaky_tests"]] == [FLAKY_TEST]
    assert [h[0] for h in verdict["flaky_tests"][0]["history"]] == ["failed", "passed"]
    shards = {s["shard"]: s for s in verdict["shards"]}
    assert shards[f"{red[0] + 1}/3"]["attempt"] == "attempt 2"
    assert shards[f"{red[0] + 1}/3"]["earlier_attempts"] == [{"attempt": "attempt 1", "status": "failed"}]
    assert all(s["status"] == "ok" for s in verdict["shards"])
    summary = again.summary()
    assert "36 of 36 planned tests reported, 0 failed, 0 missing, 1 flaky" in summary and "### Flaky (1)" in summary
    _check_run(again, example_dir, step_env, shards=3, rerun=tuple(attempt_1))
    # the store: saved again under attempt 2's key, every test of run 101 and run 103 learned once (the shard's
    # attempt 1 was absorbed by attempt 1's report job; attempt 2's teaches only what attempt 1 could not)
    assert caches.keys == ["sharder-durations-101-1", "sharder-durations-103-1", "sharder-durations-103-2"]
    durations = json.loads((again.artifact("durations-2") / "durations.json").read_text())
    assert {entry["runs"] for entry in durations["tests"].values()} == {2} and len(durations["tests"]) == 36
