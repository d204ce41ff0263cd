"""Garbage in the CI environment, through the real CLI: shard variables no CI would set, and GitHub's output and
step-summary files pointing at things that cannot be written.

A job that guessed its shard would run the wrong tests (or all of them, or shard 1 in every copy) and stay green;
so every doubtful variable is one line on stderr and exit 2, before pytest starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal

pytestmark = pytest.mark.integration

# Every CI shard variable sharder reads; each case starts from none of them set.
CI_VARIABLES = ("SHARDER_SHARD", "CI_NODE_INDEX", "CI_NODE_TOTAL", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL",
                "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT")

GARBAGE = {
    "GitLab index not a number": {"CI_NODE_INDEX": "abc", "CI_NODE_TOTAL": "4"},
    "GitLab index past the count": {"CI_NODE_INDEX": "5", "CI_NODE_TOTAL": "4"},
    "GitLab count of 0": {"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "0"},
    "GitLab count of 99999999999": {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "99999999999"},
    "GitLab both empty": {"CI_NODE_INDEX": "", "CI_NODE_TOTAL": ""},
    "GitLab index with a newline": {"CI_NODE_INDEX": "1\n", "CI_NODE_TOTAL": "4"},
    "GitLab count only": {"CI_NODE_TOTAL": "4"},
    "CircleCI negative index": {"CIRCLE_NODE_INDEX": "-1", "CIRCLE_NODE_TOTAL": "4"},
    "CircleCI index equal to the count (0-based)": {"CIRCLE_NODE_INDEX": "4", "CIRCLE_NODE_TOTAL": "4"},
    "Buildkite Arabic-Indic digit": {"BUILDKITE_PARALLEL_JOB": "\u0663", "BUILDKITE_PARALLEL_JOB_COUNT": "4"},
    "Buildkite float": {"BUILDKITE_PARALLEL_JOB": "1.0", "BUILDKITE_PARALLEL_JOB_COUNT": "4"},
    "GitLab and CircleCI disagree": {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "4",
                                     "CIRCLE_NODE_INDEX": "2", "CIRCLE_NODE_TOTAL": "4"},
    "SHARDER_SHARD empty": {"SHARDER_SHARD": ""},
    "SHARDER_SHARD with ../": {"SHARDER_SHARD": "../1/4"},
    "SHARDER_SHARD 0/0": {"SHARDER_SHARD": "0/0"},
    "no shard variable at all": {},
}


@pytest.fixture
def planned_example(example_dir: Path, run_sharder: Callable[..., object]) -> Path:
    planned = run_sharder(["plan", "--shards", "4", "-o", "plan.json"], cwd=example_dir)
    assert planned.returncode == 0, planned.stderr  # type: ignore[attr-defined]
    return example_dir


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_shard_variables_stop_the_run_before_pytest(
    planned_example: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None], case: str,
) -> None:
    for name in CI_VARIABLES:
        sharder_env.pop(name, None)
    outcome = sharder_capped(["run", "--plan", "plan.json"], cwd=planned_example, **GARBAGE[case])
    assert_clean_refusal(outcome)
    assert "sharder run: error:" in outcome.stderr
    assert not (planned_example / "reports").exists()  # pytest never started
    shown = ", ".join(f"{name}={value!r}" for name, value in GARBAGE[case].items()) or "none set"
    ledger(f"run with CI env: {case} ({shown})", outcome.observed)


@pytest.fixture
def merged_example(planned_example: Path, run_sharder: Callable[..., object]) -> Path:
    for index in range(1, 5):
        ran = run_sharder(["run", "--shard", f"{index}/4", "--plan", "plan.json"], cwd=planned_example)
        assert ran.returncode == 0, ran.stderr  # type: ignore[attr-defined]
    return planned_example


@pytest.mark.parametrize("target", ["directory", "missing parent", "/dev/full"])
def test_an_unwritable_step_summary_is_an_error_after_the_verdict(
    merged_example: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None], target: str
) -> None:
    path = {"directory": str(merged_example / "reports"), "missing parent": str(merged_example / "no" / "s.md"),
            "/dev/full": "/dev/full"}[target]
    outcome = sharder_capped(["merge", "reports", "--plan", "plan.json", "--json"], cwd=merged_example,
                             GITHUB_STEP_SUMMARY=path)
    assert outcome.code == 2
    assert "Traceback" not in outcome.stderr
    assert outcome.stderr.rstrip().splitlines()[-1].startswith("sharder merge: error: cannot write $GITHUB_STEP_SUMMARY")
    assert json.loads(outcome.stdout)["missing"] == 0  # the verdict was still given
    ledger(f"merge with GITHUB_STEP_SUMMARY = {target}", f"exit 2 after the verdict: {outcome.stderr.splitlines()[-1]}")


def test_an_unwritable_github_output_is_one_line_and_exit_2(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    outcome = sharder_capped(["matrix", "--shards", "3"], cwd=tmp_path, GITHUB_OUTPUT=str(tmp_path))
    assert_clean_refusal(outcome)
    ledger("matrix with GITHUB_OUTPUT = a directory", outcome.observed)
