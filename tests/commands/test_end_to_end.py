"""The plugin and the CLI on the real bundled example suite: every test runs exactly once across the shards."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.reports.junit import read_report

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def _collected(pytester: pytest.Pytester) -> list[str]:
    out = pytester.path / "ids.json"
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:randomly", f"--sharder-collect-to={out}")
    assert result.ret == 0
    ids: list[str] = json.loads(out.read_text())["tests"]
    return ids


@pytest.fixture
def example(pytester: pytest.Pytester, example_dir: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("SHARDER_EXAMPLE_TIME_SCALE", "0")
    for item in example_dir.iterdir():
        target = pytester.path / item.name
        if item.is_dir():
            import shutil

            shutil.copytree(item, target)
        else:
            target.write_bytes(item.read_bytes())
    return pytester


@pytest.mark.parametrize("shards", [1, 2, 3, 7, 36])
def test_every_shard_together_runs_each_collected_test_once(example: pytest.Pytester, shards: int) -> None:
    collected = _collected(example)
    assert len(collected) == 35
    seen: list[str] = []
    for index in range(1, shards + 1):
        report = example.path / f"shard-{index}.xml"
        result = example.runpytest_inprocess(f"--shard={index}/{shards}", f"--junitxml={report}", "-p", "no:randomly")
        assert result.ret == 0, result.stdout.str()
        ran = [case.node_id for case in read_report(report).cases]
        header = [line for line in result.stdout.lines if line.startswith("sharder: shard")]
        assert header and header[0].startswith(f"sharder: shard {index}/{shards}, {len(ran)} of 35 tests, predicted")
        seen.extend(ran)
    assert sorted(seen) == sorted(collected)  # union is everything, and no test ran twice


def test_shard_keeps_collection_order(example: pytest.Pytester) -> None:
    collected = _collected(example)
    report = example.path / "r.xml"
    example.runpytest_inprocess("--shard=2/3", f"--junitxml={report}", "-p", "no:randomly")
    ran = [case.node_id for case in read_report(report).cases]
    assert ran == [node_id for node_id in collected if node_id in set(ran)]


def test_selection_applies_after_k_deselection(example: pytest.Pytester) -> None:
    result = example.runpytest_inprocess("--shard=1/2", "-k", "squares", "-p", "no:randomly")
    header = next(line for line in result.stdout.lines if line.startswith("sharder: shard"))
    assert "of 8 tests" in header


def test_an_empty_shard_exits_zero_with_a_clear_line(example: pytest.Pytester) -> None:
    result = example.runpytest_inprocess("--shard=36/36", "-p", "no:randomly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*shard 36/36 has no tests (more shards than tests)*"])


def test_store_durations_records_every_test(example: pytest.Pytester) -> None:
    path = example.path / "recorded.json"
    result = example.runpytest_inprocess("--sharder-store-durations", f"--sharder-durations={path}")
    assert result.ret == 0
    recorded = json.loads(path.read_text())
    assert recorded["format"] == "sharder-durations"
    assert len(recorded["tests"]) == 35
    assert all("setup_seconds" in record for record in recorded["tests"].values())


def test_pytest_split_spelling_works_when_pytest_split_is_absent(example: pytest.Pytester) -> None:
    result = example.runpytest_inprocess("-p", "no:pytest-split", "--splits", "3", "--group", "2", "-p", "no:randomly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["sharder: shard 2/3, * of 35 tests*"])
    both = example.runpytest_inprocess("-p", "no:pytest-split", "--splits", "3", "--group", "2", "--shard=1/3")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    both.stderr.fnmatch_lines(["*either --shard K/N or --splits N --group K*"])


def test_plan_file_that_does_not_match_the_suite_is_refused(example: pytest.Pytester, run_sharder: RunSharder) -> None:
    plan_path = example.path / "plan.json"
    assert run_sharder(["plan", "--shards", "2", "-o", str(plan_path)], cwd=example.path).returncode == 0
    (example.path / "tests" / "test_added.py").write_text("def test_new():\n    pass\n")
    result = example.runpytest_subprocess("--shard=1/2", f"--sharder-plan={plan_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*does not match this test suite: 1 collected tests are not in the plan*test_new*"])


def test_a_k_expression_given_to_the_run_but_not_the_plan_narrows_each_shard(
    example: pytest.Pytester, run_sharder: RunSharder
) -> None:
    plan_path = example.path / "plan.json"
    assert run_sharder(["plan", "--shards", "3", "-o", str(plan_path)], cwd=example.path).returncode == 0
    bins = [b["tests"] for b in json.loads(plan_path.read_text())["bins"]]
    seen: list[str] = []
    for index in (1, 2, 3):
        report = example.path / f"k-{index}.xml"
        result = example.runpytest_inprocess(f"--shard={index}/3", f"--sharder-plan={plan_path}", "-k", "squares",
                                             f"--junitxml={report}", "-p", "no:randomly")
        ran = [case.node_id for case in read_report(report).cases]
        assert ran == [t for t in bins[index - 1] if "squares" in t]
        # deselected is not "not collected" (exit 4); but a shard whose every test -k deselected ran nothing (5)
        assert result.ret == (0 if ran else 5), result.stdout.str() + result.stderr.str()
        if not ran:
            result.stdout.fnmatch_lines([f"*has no tests: -k/-m/--deselect deselected all {len(bins[index - 1])} of "
                                         "the tests it would have run; nothing ran (exit 5)*"])
        seen.extend(ran)
    assert sorted(seen) == sorted(t for b in bins for t in b if "squares" in t) and len(seen) == 8


def test_cli_plans_and_runs_every_shard(example_dir: Path, run_sharder: RunSharder) -> None:
    planned = run_sharder(["plan", "--shards", "3", "--json", "-o", "plan.json"], cwd=example_dir)
    assert planned.returncode == 0, planned.stderr
    summary = json.loads(planned.stdout)
    assert summary["shards"] == 3 and sum(b["tests"] for b in summary["bins"]) == 35
    assert summary["makespan"] >= summary["lower_bound"] > 0
    seen = []
    for index in (1, 2, 3):
        ran = run_sharder(["run", "--shard", f"{index}/3", "--plan", "plan.json"], cwd=example_dir)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        seen += [c.node_id for c in read_report(example_dir / "reports" / f"shard-{index}-of-3.xml").cases]
    plan = json.loads((example_dir / "plan.json").read_text())
    assert sorted(seen) == sorted(t for b in plan["bins"] for t in b["tests"])


def test_demo_runs_the_bundled_example(tmp_path: Path, run_sharder: RunSharder) -> None:
    result = run_sharder(["demo", str(tmp_path / "demo"), "--shards", "2"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "35 of 35 planned tests reported, 0 failed, 0 missing" in result.stdout
