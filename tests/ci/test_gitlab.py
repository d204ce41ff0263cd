"""The pipeline `sharder init gitlab` writes, run for real by gitlab-ci-local (npm) with its shell executor.

gitlab-ci-local reads `.gitlab-ci.yml` as GitLab does and runs every job on this machine: `parallel:` copies with
`CI_NODE_INDEX`/`CI_NODE_TOTAL`, artifacts handed to later jobs through `needs`, `rules` with variables, and the
cache (kept under `.gitlab-ci-local/cache/` between pipelines, so a second pipeline restores what the first saved).
The install line is replaced by `true`: the interpreter running these tests already has sharder, and tests reach
no network. Every kind of file `sharder init gitlab` writes is also checked against the GitLab CI schema vendored in
check-jsonschema (tests/ci/checkers.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sharder.ci.gitlab import PipelineOptions, gitlab_pipeline, render_pipeline
from tests.ci.checkers import Combo, Generated, gathered, generate, schema_errors

pytestmark = pytest.mark.integration

# `sharder init gitlab` over the project kinds and options whose output differs.
COMBOS = {
    "default": Combo("neither", ()),
    "extras-shards": Combo("extras", ("--shards", "3")),
    "requirements-args": Combo("requirements", ("--shards", "6", "--", "-m", "not slow", "-k", "it's $(id)")),
    "install-python": Combo("neither", ("--install", "make test-deps", "--python", "3.11", "--", "tests")),
}


def _gitlab_ci_local() -> str:
    found = shutil.which("gitlab-ci-local")
    if found is None:
        if os.environ.get("SHARDER_REQUIRE_GITLAB_CI_LOCAL"):
            pytest.fail("gitlab-ci-local is required here (SHARDER_REQUIRE_GITLAB_CI_LOCAL) but not on PATH")
        pytest.skip("gitlab-ci-local is not installed (.ci/run installs it: npm install gitlab-ci-local)")
    if shutil.which("rsync") is None:
        pytest.fail("gitlab-ci-local needs rsync (Debian package rsync, installed by .ci/run)")
    return found


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})


def _project(example_dir: Path, run_sharder: Any, *init_args: str) -> Path:
    made = run_sharder(["init", "gitlab", *init_args], cwd=example_dir)
    assert made.returncode == 0, made.stderr
    pipeline = example_dir / ".gitlab-ci.yml"
    document = yaml.safe_load(pipeline.read_text())
    document["default"]["before_script"] = ["true"]  # no install: see the module docstring
    pipeline.write_text(yaml.safe_dump(document, sort_keys=False))
    (example_dir / ".gitignore").write_text(".gitlab-ci-local/\n.sharder/\nreports/\n")
    _git(example_dir, "init", "-q", "-b", "main")
    _git(example_dir, "add", "-A")
    _git(example_dir, "commit", "-q", "-m", "suite")
    return example_dir


def _pipeline(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One pipeline; the jobs run in the test's environment with this interpreter's `sharder` first on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([_gitlab_ci_local(), "--shell-isolation", "--force-shell-executor", "--no-color"],
                          cwd=project, env={**env, "PATH": path, "FORCE_COLOR": "0", "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=600, check=False)


def _job_lines(output: str, job: str) -> str:
    return "\n".join(line for line in output.splitlines() if line.startswith(job))


def test_generated_pipeline_shape() -> None:
    document = yaml.safe_load(render_pipeline(gitlab_pipeline(PipelineOptions(shards=3, pytest_args=("-m", "x y")))))
    assert document["stages"] == ["plan", "test", "report"]
    assert document["test"]["parallel"] == 3 and document["test"]["needs"] == ["plan"]
    assert document["test"]["artifacts"]["when"] == "always"
    assert document["test"]["artifacts"]["reports"]["junit"] == "reports/shard-*.xml"
    assert document["test"]["script"] == ["sharder run --plan plan.json --junit-dir reports -- -m 'x y'"]
    report = document["report"]
    assert [rule["variables"]["SHARDER_STORE_POLICY"] for rule in report["rules"]] == ["pull-push", "pull"]
    assert report["rules"][0]["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert all(rule["when"] == "always" for rule in report["rules"])
    assert report["cache"][0]["policy"] == "$SHARDER_STORE_POLICY" and report["cache"][0]["when"] == "always"
    assert "--html report.html" in report["script"][0] and "report.html" in report["artifacts"]["paths"]
    assert document["plan"]["cache"][0]["policy"] == "pull"


@pytest.fixture(scope="module")
def init_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    return generate(tmp_path_factory.mktemp("init-gitlab"), "gitlab", COMBOS)


def test_init_combos_follow_the_project(init_outputs: dict[str, Generated]) -> None:
    documents = {name: yaml.safe_load(written.path.read_text()) for name, written in init_outputs.items()}
    assert documents["default"]["test"]["parallel"] == 4
    assert documents["extras-shards"]["default"] == {
        "image": "python:3.13", "before_script": ["python -m pip install -e '.[test]' pytest-sharder"]}
    assert documents["requirements-args"]["default"]["image"] == "python:3.11"  # .python-version
    assert documents["requirements-args"]["test"]["script"] == [
        "sharder run --plan plan.json --junit-dir reports -- -m 'not slow' -k 'it'\"'\"'s $(id)'"]
    assert documents["install-python"]["default"] == {"image": "python:3.11", "before_script": ["make test-deps"]}


def test_the_vendored_gitlab_schema_accepts_generated_pipelines_and_rejects_a_wrong_one(
    init_outputs: dict[str, Generated], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.yml"
    wrong.write_text(init_outputs["default"].path.read_text().replace("parallel: 4", "parallel: 0"))
    checked = gathered([*(written.path for written in init_outputs.values()), wrong], tmp_path / "schema")
    errors = schema_errors("vendor.gitlab-ci", checked)
    assert list(errors) == [checked[-1].name], errors
    assert any("$.test.parallel" in error for error in errors[checked[-1].name]), errors


def test_pipelines_run_every_shard_merge_and_learn_from_the_first(
    example_dir: Path, run_sharder: Any, sharder_env: dict[str, str]
) -> None:
    (example_dir / "durations.json").unlink()  # a project with no timings yet
    project = _project(example_dir, run_sharder, "--shards", "3")
    first = _pipeline(project, sharder_env)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-6000:]
    for job in ("plan", "test: [1/3]", "test: [2/3]", "test: [3/3]", "report"):
        assert re.search(rf"PASS\s+{re.escape(job)}", output), (job, output[-4000:])
    assert "no recorded timings" in _job_lines(output, "plan"), output[-4000:]
    assert "35 of 35 planned tests reported, 0 failed, 0 missing" in _job_lines(output, "report")
    assert "HTML report (the shard timeline): " in _job_lines(output, "report")
    cached = project / ".gitlab-ci-local" / "cache" / "sharder-durations-main" / ".sharder" / "durations.json"
    assert cached.is_file(), output[-4000:]

    second = _pipeline(project, sharder_env)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-6000:]
    plan_log = _job_lines(output, "plan")
    assert "timings from the CI cache .sharder/durations.json, written by gitlab run" in plan_log, plan_log
    assert "on main" in plan_log


def test_a_failing_test_fails_its_shard_and_the_merge(
    example_dir: Path, run_sharder: Any, sharder_env: dict[str, str]
) -> None:
    quick = example_dir / "tests" / "test_quick.py"
    quick.write_text(quick.read_text() + "\n\ndef test_added_and_failing():\n    assert 1 == 2\n")
    project = _project(example_dir, run_sharder, "--shards", "2")
    done = _pipeline(project, sharder_env)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4000:]
    failed = re.findall(r"FAIL\s+(test: \[\d/2\]|report)", output)
    assert "report" in failed and len([job for job in failed if job.startswith("test")]) == 1, output[-4000:]
    assert "1 failed, 0 missing" in _job_lines(output, "report"), output[-4000:]
