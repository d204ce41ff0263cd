"""Every command, end to end, on a suite whose node ids try to break them (tests/example_suites/odd_ids):
parametrized ids holding `::`, `/`, brackets, a tab, unicode and nothing at all; classes nested three deep with
the same method name at each level; file names with spaces and non-ASCII letters; one heavy-tail test.

Each step compares ids as sets with the ones pytest collected: a test lost, renamed or split in two anywhere
between record, plan, run, merge, rebalance and replay fails here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.core.junit_names import NODEID_PROPERTY
from sharder.durations.store import load_durations
from tests.paths import EXAMPLE_SUITES

pytestmark = pytest.mark.integration

SUITE = EXAMPLE_SUITES / "odd_ids"
HEAVY = "tests/deep/pkg/test_ünï_mödule.py::test_heavy_tail"
TAB_ID = "tests/test_params.py::test_value[tab\there]"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def odd_suite(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SUITE, tmp_path / "odd_ids"))


def _collected(root: Path) -> set[str]:
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:sharder"], cwd=root,
                            capture_output=True, text=True, check=True).stdout
    return {line for line in listed.splitlines() if "::" in line}


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


def _plan_ids(plan_path: Path) -> list[list[str]]:
    return [shard_bin["tests"] for shard_bin in json.loads(plan_path.read_text(encoding="utf-8"))["bins"]]


def test_every_command_keeps_every_odd_id(odd_suite: Path, run_sharder: Run) -> None:
    collected = _collected(odd_suite)
    assert TAB_ID in collected and HEAVY in collected and len(collected) == 30

    _ok(run_sharder(["record"], cwd=odd_suite))
    assert set(load_durations(odd_suite / "durations.json").tests) == collected

    _ok(run_sharder(["plan", "--shards", "3", "-o", "plan.json"], cwd=odd_suite))
    bins = _plan_ids(odd_suite / "plan.json")
    assert sorted(test for shard_bin in bins for test in shard_bin) == sorted(collected)
    assert [HEAVY] in bins  # the heavy tail gets a shard of its own

    for index in (1, 2, 3):
        _ok(run_sharder(["run", "--shard", f"{index}/3", "--plan", "plan.json"], cwd=odd_suite))
    merged = _ok(run_sharder(["merge", "reports", "--plan", "plan.json", "-o", "merged.xml", "--json"],
                             cwd=odd_suite))
    verdict = json.loads(merged.stdout)
    assert (verdict["planned"], verdict["reported"], verdict["missing"], verdict["unplanned"]) == (30, 30, 0, [])
    cases = ElementTree.parse(odd_suite / "merged.xml").getroot().iter("property")
    assert {p.get("value") for p in cases if p.get("name") == NODEID_PROPERTY} == collected

    _ok(run_sharder(["rebalance", "reports", "--plan", "plan.json"], cwd=odd_suite))
    assert set(load_durations(odd_suite / "durations.json").tests) == collected

    tab_shard = next(index for index, shard_bin in enumerate(bins, 1) if TAB_ID in shard_bin)
    replayed = _ok(run_sharder(["replay", "--from", f"reports/shard-{tab_shard}-of-3.xml", "--until", TAB_ID,
                                "--work-dir", "replay"], cwd=odd_suite))
    ran = (odd_suite / "replay" / "replay.ids").read_text(encoding="utf-8").splitlines()
    shard_order = bins[tab_shard - 1]
    assert ran == shard_order[: shard_order.index(TAB_ID) + 1], replayed.stdout[-2000:]


def test_durations_from_plain_pytest_junit_match_the_collected_ids(odd_suite: Path, run_sharder: Run) -> None:
    """JUnit from a run without sharder names no file (`tests.deep.pkg.test_ünï_mödule::test_heavy_tail`); the
    plan must still find every recorded time, not estimate all 30 tests from nothing."""
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:sharder", "--junitxml=plain.xml"], cwd=odd_suite,
                   capture_output=True, check=True)
    _ok(run_sharder(["record", "--from-junit", "plain.xml", "--durations", "from-junit.json", "--no-collect"],
                    cwd=odd_suite))
    recorded = load_durations(odd_suite / "from-junit.json").tests
    collected = _collected(odd_suite)
    assert len(recorded) == 30 and not set(recorded) & collected  # keyed classname::name

    # test-level: the heavy test alone in a shard shows its time was matched (grouped, it keeps its module's company)
    _ok(run_sharder(["plan", "--shards", "3", "--group-by", "test", "--durations", "from-junit.json", "-o", "plan.json"],
                    cwd=odd_suite))
    plan = json.loads((odd_suite / "plan.json").read_text(encoding="utf-8"))
    assert [shard_bin["estimated_tests"] for shard_bin in plan["bins"]] == [0, 0, 0]
    assert [HEAVY] in _plan_ids(odd_suite / "plan.json")

    # collected here (the default), the same report's cases are stored under their node ids, as pytest takes them
    said = _ok(run_sharder(["record", "--from-junit", "plain.xml", "--durations", "by-id.json"], cwd=odd_suite))
    assert set(load_durations(odd_suite / "by-id.json").tests) == collected
    assert "30 test cases keyed classname::name stored under the node ids collected here" in said.stdout
    # and a later report moves the records an uncollected record left under the keys (blending, not doubling)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:sharder", "--junitxml=plain2.xml"], cwd=odd_suite,
                   capture_output=True, check=True)
    said = _ok(run_sharder(["record", "--from-junit", "plain2.xml", "--durations", "from-junit.json"], cwd=odd_suite))
    moved = load_durations(odd_suite / "from-junit.json").tests
    assert set(moved) == collected and {timing.runs for timing in moved.values()} == {2}
    assert "30 earlier records moved to their node ids" in said.stdout
