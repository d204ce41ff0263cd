"""A GitHub Actions workflow that runs a project's pytest suite sharded by sharder (`sharder init github`).

Three jobs, the shape of sharder's own `.github/workflows/ci.yml`:
- `plan`: `sharder matrix` picks N (or takes the given N) and `sharder plan` writes plan.json, uploaded once so
  every shard runs the same plan;
- `test`: one job per shard from `fromJSON(needs.plan.outputs.matrix)`, `fail-fast: false` so one red shard does
  not cancel the others' evidence, reports and progress logs uploaded even when tests fail;
- `report`: runs even when a shard failed or died, but not after a cancel or a failed plan (`!cancelled() &&
  needs.plan.result == 'success'`), merges every report into the step summary, uploads the HTML report (the
  shard timeline, linked from the summary) and a refreshed durations.json to commit for the next plans.

Re-runs: GitHub's "Re-run failed jobs" starts the run's next attempt with only the failed shard jobs and the
report job; the plan job is kept with its outputs, so a re-run shard gets the same `matrix.shard`, and its
download of `needs.plan.outputs.plan_artifact` (`sharder-plan-1`) finds attempt 1's plan.json (a partial re-run sees
the artifacts of the attempts it re-runs): the same tests, never a new plan. Every artifact's name carries the
attempt that uploaded it, since GitHub refuses a name twice in one run (409); reports are `sharder-reports-INDEX-ATTEMPT`,
and the report job downloads every attempt's into its own folder, for `sharder merge` to judge each shard by its
latest attempt. "Re-run all jobs" runs the plan job again, and its jobs see only their own attempt's artifacts.
The downloads stay on the default artifact service (no `github-token`/`run-id`): the REST path is run-wide and
would hand a "Re-run all jobs" merge the first attempt's reports of another plan.

Every job has a `timeout-minutes`, setup-python caches pip keyed on the project's dependency files, and the
project's install line and Python version come from its own files (`detect_setup`), printed by `sharder init`.

Built as data and written with PyYAML: every `run:` is one line a user would type, and the document is checked
by actionlint and executed step by step in sharder's own tests.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharder.ci.providers import SHARD_VARIABLE
from sharder.ci.yaml_text import render_yaml
from sharder.core.durationtext import format_duration
from sharder.stores.pyproject import read_pyproject

# Actions pinned by commit: a tag can be moved to other code after the fact, a commit cannot (GitHub's hardening
# guide; zizmor's unpinned-uses). The release each commit is tagged with is written beside it as a comment, the form
# Dependabot's and Renovate's github-actions updaters read and keep current. The commits are those the tags name in
# the actions' own repositories (`git rev-parse v4.4.0^{commit}`), the newest release of the major version in use.
ACTION_PINS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11d5960a326750d5838078e36cf38b85af677262", "v4.4.0"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "actions/cache/restore": ("0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0"),
    "actions/cache/save": ("0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0"),
}


def pinned(action: str) -> str:
    """`owner/name@<commit>` for one of ACTION_PINS (`render_workflow` adds the release as a comment)."""
    return f"{action}@{ACTION_PINS[action][0]}"


CHECKOUT = pinned("actions/checkout")
SETUP_PYTHON = pinned("actions/setup-python")
UPLOAD_ARTIFACT = pinned("actions/upload-artifact")
DOWNLOAD_ARTIFACT = pinned("actions/download-artifact")
CACHE_RESTORE = pinned("actions/cache/restore")
CACHE_SAVE = pinned("actions/cache/save")
# The durations store between runs: GitHub caches are immutable, so each run saves under its own key and the next
# restores the newest by prefix. Saved from the default branch only: a branch's runs read it and never teach it.
STORE_DIR = ".sharder"
STORE_KEY_PREFIX = "sharder-durations-"
STORE_KEY = STORE_KEY_PREFIX + "${{ github.run_id }}-${{ github.run_attempt }}"
ON_DEFAULT_BRANCH = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
DEFAULT_OUTPUT = Path(".github/workflows/sharder.yml")
DEFAULT_PYTHON = "3.12"
DEFAULT_TARGET_SECONDS = 600.0
DEFAULT_OVERHEAD_SECONDS = 60.0
PLAN_ARTIFACT = "sharder-plan"
# Every artifact a job uploads carries the run attempt: a re-run job uploads again, and a name already taken in the
# run is GitHub's 409 ("an artifact with this name already exists on the workflow run").
ATTEMPT_SUFFIX = "-${{ github.run_attempt }}"
PLAN_ARTIFACT_OF_RUN = "${{ needs.plan.outputs.plan_artifact }}"
REPORTS_ARTIFACT_PREFIX = "sharder-reports-"

HEADER = """\
# Written by `sharder init github`: a sharded pytest run.
#   plan:   chooses the shard count and writes plan.json from the durations store: the newest one saved in
#           GitHub's cache (.sharder/), else a committed durations.json, else counting tests (the log says which);
#   test:   one job per shard; JUnit reports and progress logs are uploaded even when tests fail, per attempt;
#   report: runs unless the run was cancelled or the plan failed; merges every attempt's reports into the job
#           summary, rebalances the store and saves it to the cache (default branch only; artifact "durations-N").
# Every artifact's name ends in the run attempt N: a re-run job uploads again, and a run never takes a name twice.
# The Install step and the Python version were chosen from the project's files (`sharder init` said why).
# Actions are pinned by commit, their release in a comment; Dependabot's github-actions updates keep them current.
"""


DISTRIBUTION = "pytest-sharder"
# Extras that by convention hold a project's test dependencies, most specific first.
TEST_EXTRAS = ("test", "tests", "testing", "dev")
# Requirement files that hold test dependencies, most specific first; plain requirements.txt only as a fallback.
TEST_REQUIREMENTS = ("requirements-test.txt", "requirements_test.txt", "test-requirements.txt",
                     "requirements/test.txt", "requirements-dev.txt", "requirements_dev.txt", "dev-requirements.txt",
                     "requirements/dev.txt")
# CPython minors setup-python provides on ubuntu-latest; requires-python picks the newest it allows.
KNOWN_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
PLAN_TIMEOUT_MINUTES = 15
REPORT_TIMEOUT_MINUTES = 15
DEFAULT_TEST_TIMEOUT_MINUTES = 60
# Queue mode (`--queue`): the URL of one Redis every shard job reaches. A service container cannot be it: GitHub
# starts one per job, so each shard would seed a queue of its own and run the whole suite. So the URL is a secret
# (absent on forks' pull requests, or until it is set: then each job runs its shard of the plan, and says so).
QUEUE_URL_ENV = "SHARDER_QUEUE_URL"
QUEUE_SECRET = "${{ secrets.SHARDER_QUEUE_URL }}"
QUEUE_DISTRIBUTION = f"'{DISTRIBUTION}[queue]'"
QUEUE_HEADER = """\
# Queue mode (--queue): with the repository secret SHARDER_QUEUE_URL (redis://[:PASSWORD@]HOST:PORT/DB of a Redis
#   every job can reach; a service container cannot be shared between jobs) the shard jobs lease batches from one
#   queue; the URL reaches sharder through the environment only. Without it (not set yet, or a fork's pull request)
#   every job runs its shard of the plan, as without --queue, and a notice says so.
"""


@dataclass(frozen=True)
class ProjectSetup:
    """How the generated jobs install the project and which Python they use, each with the reason it was chosen
    (`sharder init` prints both, so a wrong guess is seen before the first push)."""

    install: str
    install_reason: str
    python_version: str
    python_reason: str
    dependency_files: tuple[str, ...] = ()  # what setup-python's pip cache is keyed on; none: no cache


@dataclass(frozen=True)
class WorkflowOptions:
    shards: int | None = None  # a fixed count, or
    target_seconds: float | None = None  # the wall time to meet, N chosen by `sharder matrix --target`
    overhead_seconds: float = DEFAULT_OVERHEAD_SECONDS
    install: str = f"python -m pip install {DISTRIBUTION}"
    python_version: str = DEFAULT_PYTHON
    dependency_files: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()  # after `--` on every line that collects: matrix --target, plan and run
    store: str = "cache"  # "cache": the store in GitHub's cache (.sharder/); "repo": a committed durations.json
    queue: bool = False  # shard jobs lease from the Redis queue at secrets.SHARDER_QUEUE_URL, else run the plan

    @property
    def test_timeout_minutes(self) -> int:
        """A shard job's limit: three times the target (a slow runner, a cold cache) but at least a quarter hour;
        with a fixed shard count nothing says how long a shard takes, so an hour."""
        if self.target_seconds is None:
            return DEFAULT_TEST_TIMEOUT_MINUTES
        return max(15, math.ceil(3 * (self.target_seconds + self.overhead_seconds) / 60))


def _read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    return read_pyproject(path) if path.is_file() else {}


def _project_table(document: dict[str, Any]) -> dict[str, Any]:
    project = document.get("project")
    return project if isinstance(project, dict) else {}


def _test_extra(project: dict[str, Any]) -> str | None:
    extras = project.get("optional-dependencies")
    if not isinstance(extras, dict):
        return None
    return next((name for name in TEST_EXTRAS if name in extras), None)


def detect_install(root: Path) -> tuple[str, str, tuple[str, ...]]:
    """The install line, why, and the files it depends on: the project itself (with its test extra when it has
    one) and a test requirements file, then sharder."""
    parts = ["python -m pip install"]
    reasons: list[str] = []
    files: list[str] = []
    document = _read_pyproject(root)
    extra = _test_extra(_project_table(document))
    if (root / "pyproject.toml").is_file():
        files.append("pyproject.toml")
    if extra is not None:
        parts.append(f"-e '.[{extra}]'")
        reasons.append(f"the project with its [{extra}] extra (pyproject.toml)")
    elif any((root / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        parts.append("-e .")
        reasons.append("the project (no test or dev extra found)")
    requirements = next((name for name in TEST_REQUIREMENTS if (root / name).is_file()), None)
    if requirements is None and extra is None and (root / "requirements.txt").is_file():
        requirements = "requirements.txt"
    if requirements is not None:
        parts.append(f"-r {requirements}")
        files.append(requirements)
        reasons.append(requirements)
    parts.append(DISTRIBUTION)
    reason = " + ".join(reasons) if reasons else "no project files found: sharder only"
    return " ".join(parts), reason, tuple(files)


def detect_python(root: Path) -> tuple[str, str]:
    """`.python-version`'s first entry, else the newest known CPython that `requires-python` allows, else the
    default."""
    pinned = root / ".python-version"
    if pinned.is_file():
        for line in pinned.read_text(encoding="utf-8", errors="replace").splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry and re.fullmatch(r"[\w.+-]+", entry):
                return entry, ".python-version"
    requires = _project_table(_read_pyproject(root)).get("requires-python")
    if isinstance(requires, str) and requires.strip():
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            allowed = SpecifierSet(requires)
        except InvalidSpecifier:
            return DEFAULT_PYTHON, f"default (requires-python {requires!r} is not a version specifier)"
        fitting = [version for version in KNOWN_PYTHONS if allowed.contains(f"{version}.0", prereleases=False)
                   or allowed.contains(f"{version}.99", prereleases=False)]
        if fitting:
            return fitting[-1], f"the newest CPython requires-python {requires!r} allows"
        return DEFAULT_PYTHON, f"default (requires-python {requires!r} allows none of {', '.join(KNOWN_PYTHONS)})"
    return DEFAULT_PYTHON, "default (no .python-version, no requires-python)"


def detect_setup(root: str | os.PathLike[str], *, install: str | None = None, python: str | None = None) -> ProjectSetup:
    """What the generated workflow installs and runs on, from the project's own files unless given."""
    folder = Path(root)
    detected, install_reason, files = detect_install(folder)
    if install is not None:
        detected, install_reason = install, "given with --install"
    version, python_reason = detect_python(folder)
    if python is not None:
        version, python_reason = python, "given with --python"
    return ProjectSetup(detected, install_reason, version, python_reason, files)


def install_command(project: str | os.PathLike[str]) -> str:
    """The detected install line (see `detect_install`)."""
    return detect_install(Path(project))[0]


def _with_pytest_args(command: str, options: WorkflowOptions) -> str:
    """The suite's pytest arguments after `--`, quoted for the shell, on every line that collects."""
    return f"{command} -- {shlex.join(options.pytest_args)}" if options.pytest_args else command


def _store_flag(options: WorkflowOptions) -> str:
    return f" --store {STORE_DIR}" if options.store == "cache" else ""


def matrix_command(options: WorkflowOptions) -> str:
    if options.shards is not None:  # a fixed N collects nothing, so it takes no pytest arguments nor timings
        return f"sharder matrix --shards {options.shards}"
    target = options.target_seconds if options.target_seconds is not None else DEFAULT_TARGET_SECONDS
    return _with_pytest_args(f"sharder matrix --target {format_duration(target)} "
                             f"--job-overhead {format_duration(options.overhead_seconds)}{_store_flag(options)}", options)


def queue_install(install: str) -> str:
    """The install line with the queue's extra (the redis client) on sharder's own requirement."""
    head, separator, last = install.rpartition(" ")
    return f"{head}{separator}{QUEUE_DISTRIBUTION}" if last == DISTRIBUTION else install


def queue_mode_line(notice: str, setting: str) -> str:
    """One shell line that says whether this job joins the queue or runs its shard of the plan (`notice`: the CI's
    annotation prefix, if any; `setting`: what the CI calls the missing URL, a secret or a variable)."""
    return (f'if [ -n "${QUEUE_URL_ENV}" ]; then echo "queue mode: this job leases its tests from the Redis queue of '
            f'this run"; else echo "{notice}no {QUEUE_URL_ENV} {setting}: this job runs its shard of the plan"; fi')


def _queue_steps(options: WorkflowOptions) -> list[dict[str, Any]]:
    if not options.queue:
        return []
    return [{"name": "Queue or plan", "env": {QUEUE_URL_ENV: QUEUE_SECRET},
             "run": queue_mode_line("::notice title=sharder::", "secret")}]


def _restore_store(options: WorkflowOptions) -> list[dict[str, Any]]:
    if options.store != "cache":
        return []
    return [{"name": "Restore the durations store", "uses": CACHE_RESTORE, "with": {
        "path": STORE_DIR, "key": STORE_KEY, "restore-keys": STORE_KEY_PREFIX}}]


def _setup_steps(options: WorkflowOptions) -> list[dict[str, Any]]:
    python: dict[str, Any] = {"python-version": options.python_version}
    if options.dependency_files:  # setup-python's pip cache fails the job when no file matches its key
        python["cache"] = "pip"
        python["cache-dependency-path"] = "\n".join(options.dependency_files)
    return [
        # No job pushes, so the token checkout would leave in .git/config is only something to leak (an artifact
        # of the workspace, a test that reads the checkout; zizmor's artipacked).
        {"uses": CHECKOUT, "with": {"persist-credentials": False}},
        {"uses": SETUP_PYTHON, "with": python},
        {"name": "Install", "run": options.install},
    ]


# The report job runs after failed or dead shards (their evidence is the point), but not after a cancel, and not
# when the plan failed: there is nothing to merge then, and a failed artifact download would hide the real error.
REPORT_CONDITION = "${{ !cancelled() && needs.plan.result == 'success' }}"


def github_workflow(options: WorkflowOptions) -> dict[str, Any]:
    """The workflow as plain data (the YAML document's structure, key order as written)."""
    plan_job = {
        "name": "Plan shards",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": PLAN_TIMEOUT_MINUTES,
        # The plan artifact's name carries the attempt that wrote it, and later jobs take the name from this output:
        # "Re-run failed jobs" keeps the plan job and its outputs (the same plan.json, the same membership), "Re-run
        # all jobs" plans anew under a new name (an artifact name is never uploaded twice in one run: GitHub's 409).
        "outputs": {"matrix": "${{ steps.matrix.outputs.matrix }}", "shards": "${{ steps.matrix.outputs.shards }}",
                    "plan_artifact": PLAN_ARTIFACT + ATTEMPT_SUFFIX},
        "steps": [
            *_setup_steps(options),
            *_restore_store(options),
            {"name": "Choose the shard count", "id": "matrix", "run": matrix_command(options)},
            # Expressions reach the shell through env:, never pasted into run: (GitHub expands ${{ }} before the
            # shell parses the line, so a value would be code; zizmor's template-injection). Both values are
            # sharder's own output, but the rule costs nothing and keeps every run: a line a user can type.
            {"name": "Plan", "env": {"SHARDS": "${{ steps.matrix.outputs.shards }}"}, "run": _with_pytest_args(
                f'sharder plan --shards "$SHARDS"{_store_flag(options)} -o plan.json', options)},
            {"uses": UPLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT + ATTEMPT_SUFFIX, "path": "plan.json"}},
        ],
    }
    test_job = {
        "name": "Tests ${{ matrix.shard }}",
        "needs": "plan",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": options.test_timeout_minutes,
        "strategy": {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"},
        "steps": [
            *_setup_steps(options),
            {"uses": DOWNLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT_OF_RUN}},
            *_queue_steps(options),
            # SHARDER_SHARD is how any CI tells `sharder run` its shard (see sharder.ci.providers); the queue's URL is
            # a secret and reaches the job through the environment only.
            {"name": "Run shard",
             "env": {SHARD_VARIABLE: "${{ matrix.shard }}", **({QUEUE_URL_ENV: QUEUE_SECRET} if options.queue else {})},
             "run": _with_pytest_args("sharder run --plan plan.json --junit-dir reports", options)},
            {"name": "Upload reports", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                # The shard ("3/8") cannot name an artifact ("/" is not allowed); the job index can. The attempt keeps
                # a re-run job from colliding with its first attempt's artifact (GitHub answers 409).
                "name": REPORTS_ARTIFACT_PREFIX + "${{ strategy.job-index }}" + ATTEMPT_SUFFIX,
                "path": "reports/",
                "if-no-files-found": "warn",
            }},
        ],
    }
    report_job = {
        "name": "Report",
        "needs": ["plan", "test"],
        "if": REPORT_CONDITION,
        "runs-on": "ubuntu-latest",
        "timeout-minutes": REPORT_TIMEOUT_MINUTES,
        "steps": [
            *_setup_steps(options),
            *_restore_store(options),
            {"uses": DOWNLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT_OF_RUN}},
            # One folder per artifact (no merge-multiple): every attempt's reports, none overwriting another.
            {"uses": DOWNLOAD_ARTIFACT, "with": {"pattern": REPORTS_ARTIFACT_PREFIX + "*", "path": "reports"}},
            {"name": "Merge", "run": "sharder merge reports --plan plan.json -o merged.xml --html report.html"},
            {"name": "Rebalance", "if": "always()",
             "run": f"sharder rebalance reports --plan plan.json{_store_flag(options)}"},
            *([{"name": "Save the durations store", "if": f"${{{{ always() && {ON_DEFAULT_BRANCH} }}}}",
                "uses": CACHE_SAVE, "with": {"path": STORE_DIR, "key": STORE_KEY}}] if options.store == "cache" else []),
            {"name": "Upload durations", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                "name": "durations" + ATTEMPT_SUFFIX,
                "path": f"{STORE_DIR}/durations.json" if options.store == "cache" else "durations.json",
                "if-no-files-found": "warn"}},
            {"name": "Upload merged report", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                "name": "merged-report" + ATTEMPT_SUFFIX, "path": "merged.xml", "if-no-files-found": "warn"}},
            *_html_report_steps(),
        ],
    }
    return {
        "name": "tests",
        "on": {"push": {"branches": ["main"]}, "pull_request": None, "workflow_dispatch": None},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "${{ github.workflow }}-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {"plan": plan_job, "test": test_job, "report": report_job},
    }


def _html_report_steps() -> list[dict[str, Any]]:
    """The merge's HTML report (the shard timeline) as an artifact, and its download link in the job summary.
    The link comes in through the environment, never spliced into the script (zizmor's template injection)."""
    return [
        {"name": "Upload HTML report", "id": "html", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
            "name": "html-report" + ATTEMPT_SUFFIX, "path": "report.html", "if-no-files-found": "warn"}},
        {"name": "Link the HTML report", "if": "always()", "env": {"URL": "${{ steps.html.outputs.artifact-url }}"},
         "run": 'if [ -n "$URL" ]; then echo "[HTML report: the shard timeline]($URL)" >> "$GITHUB_STEP_SUMMARY"; fi'},
    ]


_PINNED_USE = re.compile(r"^(\s*(?:- )?uses: ([\w./-]+)@([0-9a-f]{40}))$", re.MULTILINE)


def _with_release_comments(text: str) -> str:
    """`uses: actions/checkout@<commit>  # v4.4.0`: PyYAML writes no comments, so they are added line by line."""
    def comment(match: re.Match[str]) -> str:
        commit, release = ACTION_PINS.get(match.group(2), ("", ""))
        return f"{match.group(1)}  # {release}" if commit == match.group(3) else match.group(1)

    return _PINNED_USE.sub(comment, text)


def render_workflow(workflow: dict[str, Any], *, queue: bool = False) -> str:
    return HEADER + (QUEUE_HEADER if queue else "") + _with_release_comments(render_yaml(workflow))
