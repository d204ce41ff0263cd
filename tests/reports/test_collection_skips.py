"""A test module that skips itself at collection (`pytest.importorskip` of an optional dependency, as networkx's
pandas- and sympy-only modules do) on real shard runs: pytest writes it into every JUnit report as a skipped case
named after the module. It is no test, so it is neither "not in the plan" (a merge would be red on every suite
with an optional dependency missing) nor a durations key; any other skipped case outside the plan still is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OPTIONAL_MODULE = '''
import pytest

pytest.importorskip("a_module_this_machine_does_not_have")


def test_needs_the_optional_module():
    pass
'''


def sharder(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def sharded_suite(tmp_path: Path) -> Path:
    """A suite with an optional-dependency module, recorded, planned into 2 shards, every shard run."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for name in ("alpha", "beta", "gamma"):
        (tmp_path / f"test_{name}.py").write_text("".join(f"def test_{name}_{i}():\n    pass\n\n\n" for i in range(3)))
    (tmp_path / "test_optional.py").write_text(OPTIONAL_MODULE)
    for args in (["record", "--", "-p", "no:randomly"], ["plan", "--shards", "2", "-o", "plan.json"],
                 *(["run", "--shard", f"{k}/2", "--plan", "plan.json", "--", "-p", "no:randomly"] for k in (1, 2))):
        done = sharder(args, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path


def test_a_module_skipped_at_collection_is_in_every_report_but_is_not_an_unplanned_test(sharded_suite: Path) -> None:
    reports = sorted((sharded_suite / "reports").glob("*.xml"))
    assert len(reports) == 2
    for report in reports:  # the premise: pytest writes the module's skip into each shard's report
        assert "collection skipped" in report.read_text()
    merged = sharder(["merge", "--plan", "plan.json", "reports", "--json"], sharded_suite)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    verdict = json.loads(merged.stdout)
    assert verdict["unplanned"] == []


def test_a_module_skipped_at_collection_never_becomes_a_durations_key(sharded_suite: Path) -> None:
    rebalanced = sharder(["rebalance", "--plan", "plan.json", "reports"], sharded_suite)
    assert rebalanced.returncode == 0, rebalanced.stdout + rebalanced.stderr
    recorded = sharder(["record", "--from-junit", "reports"], sharded_suite)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    store = json.loads((sharded_suite / "durations.json").read_text())
    keys = [key for section in ("tests", "skipped") for key in store.get(section, {})]
    assert any(key.startswith("test_alpha.py::") for key in keys)
    assert not [key for key in keys if key.startswith("test_optional.py")]


def test_the_same_case_skipped_while_running_is_still_a_test_not_in_the_plan(sharded_suite: Path) -> None:
    """Only pytest's collection skip is set aside: the same case with any other skip message is a test that ran
    and that the plan does not list, and the merge says so."""
    for report in (sharded_suite / "reports").glob("*.xml"):
        report.write_text(report.read_text().replace('message="collection skipped"', 'message="skipped"'))
    merged = sharder(["merge", "--plan", "plan.json", "reports", "--json"], sharded_suite)
    assert merged.returncode == 1
    assert json.loads(merged.stdout)["unplanned"] == ["test_optional.py::test_optional"]
