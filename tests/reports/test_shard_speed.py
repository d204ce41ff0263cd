"""`sharder rebalance` of real shard runs where one shard ran on a slower machine: its tests did not get slower,
so the store must not learn that they did (the next plan would move work away from them and chase the noise).
The slowdown is made real: every test of shard 1 sleeps SLOWDOWN times longer, as on a runner that slow."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from defusedxml.ElementTree import parse

TESTS_PER_FILE = 24  # above process_speed.SPEED_VOTERS_MIN, so each shard's speed is measured
SECONDS = 0.06  # above the store's vote floor
SLOWDOWN = 1.6

MODULE = '''
import os
import time

import pytest


@pytest.mark.parametrize("case", range({count}))
def test_sleeps(case):
    time.sleep({seconds} * float(os.environ.get("SLOWDOWN", "1")))
'''


def sharder(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def slow_and_fast_shard(tmp_path: Path) -> Path:
    """Two files recorded at SECONDS a test, planned one per shard; shard 1 runs SLOWDOWN times slower."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    tests = {}
    for name in ("alpha", "beta"):
        (tmp_path / f"test_{name}.py").write_text(MODULE.format(count=TESTS_PER_FILE, seconds=SECONDS))
        tests.update({f"test_{name}.py::test_sleeps[{case}]": {"seconds": SECONDS, "runs": 3}
                      for case in range(TESTS_PER_FILE)})
    (tmp_path / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1,
                                                         "tests": tests}))
    sharder(["plan", "--shards", "2", "--group-by", "module", "-o", "plan.json"], tmp_path)
    for shard, slowdown in ((1, SLOWDOWN), (2, 1.0)):
        sharder(["run", "--shard", f"{shard}/2", "--plan", "plan.json"], tmp_path, SLOWDOWN=str(slowdown))
    return tmp_path


def _by_shard(path: Path) -> dict[int, list[str]]:
    plan = json.loads((path / "plan.json").read_text())
    return {shard_bin["shard"]: shard_bin["tests"] for shard_bin in plan["bins"]}


def test_a_shard_that_ran_on_a_slower_machine_does_not_teach_that_its_tests_got_slower(
    slow_and_fast_shard: Path,
) -> None:
    shards = _by_shard(slow_and_fast_shard)
    assert {test.split("::")[0] for test in shards[1]} != {test.split("::")[0] for test in shards[2]}
    reported = {shard: statistics.median(float(case.get("time"))
                                         for case in parse(slow_and_fast_shard / "reports" / f"shard-{shard}-of-2.xml")
                                         .getroot().iter("testcase"))
                for shard in (1, 2)}
    assert reported[1] / reported[2] > 1.4  # the premise: shard 1 did run that much slower
    sharder(["rebalance", "--plan", "plan.json", "reports"], slow_and_fast_shard)
    learned = json.loads((slow_and_fast_shard / "durations.json").read_text())["tests"]
    median = {shard: statistics.median(learned[test]["seconds"] for test in tests) for shard, tests in shards.items()}
    # Learned as measured, shard 1's tests would be (1 + 1.6) / 2 = 1.3x shard 2's after the moving average.
    assert 0.93 < median[1] / median[2] < 1.07, (median, reported)
    # The run's common speed (between the two shards') is still learned, by both alike.
    assert median[2] > SECONDS
