"""`sharder record` and `sharder rebalance` killed with SIGKILL at random points while they rewrite durations.json.

The file must always be the old complete version or the new complete one: never empty, never half-written.
The kill points are spread over the whole run (start-up, parsing, writing) by stepping the delay.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.durations.store import load_durations

CASES = 60_000
KILLS = 12


def _big_report(path: Path) -> None:
    cases = "".join(
        f'<testcase classname="tests.test_m{i % 300}" name="test_{i}" time="{(i % 17) * 0.25}"/>' for i in range(CASES)
    )
    path.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>', encoding="utf-8")


@pytest.mark.parametrize("command", [["record", "--from-junit", "report.xml"], ["rebalance", "report.xml"]],
                         ids=["record", "rebalance"])
def test_a_killed_writer_leaves_the_old_or_the_new_file(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None], command: list[str]
) -> None:
    _big_report(tmp_path / "report.xml")
    old = {"format": "sharder-durations", "version": 1, "tests": {"tests.test_m0::test_0": {"seconds": 99.0, "runs": 1}}}
    old_text = json.dumps(old)
    (tmp_path / "durations.json").write_text(old_text)
    argv = [sys.executable, "-m", "sharder", *command]
    started = time.monotonic()
    subprocess.run(argv, cwd=tmp_path, env=sharder_env, check=True, capture_output=True)
    full_run = time.monotonic() - started
    new_seconds = load_durations(tmp_path / "durations.json").seconds()
    assert len(new_seconds) == CASES
    rng = random.Random(20261124)
    outcomes = {"old": 0, "new": 0}
    for attempt in range(KILLS):
        (tmp_path / "durations.json").write_text(old_text)
        proc = subprocess.Popen(argv, cwd=tmp_path, env=sharder_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Stepped from a fifth of the run to past its end, jittered: early kills hit start-up and parsing, late
        # ones the write or the moment after it.
        time.sleep(full_run * (0.2 + 1.2 * (attempt + rng.random()) / KILLS))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        survivor = load_durations(tmp_path / "durations.json").seconds()  # raises if empty or half-written
        if survivor == new_seconds:
            outcomes["new"] += 1
        else:
            assert survivor == {"tests.test_m0::test_0": 99.0}
            outcomes["old"] += 1
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("report.xml", "durations.json")]
        # only orphaned temp files, and the lock's sidecar a writer killed while holding it leaves (the kernel
        # released the lock with the process; the next writer takes the file over and removes it)
        assert all(name.startswith(".durations.json.") or name == "durations.json.lock" for name in leftovers)
    ledger(f"{command[0]} killed by SIGKILL {KILLS} times at spread points",
           f"always complete: {outcomes['old']} old, {outcomes['new']} new, 0 torn")
