"""The example suite planned and run shard by shard, as a CI matrix leaves it, for tests that merge or damage it.

The copy's conftest gains a hook: the test named in $SHARDER_TEST_HANG_AT blocks until its process is killed, so
a test can catch a shard mid-run (progress log growing, no report yet) or kill it there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sharder.example import copy_example
from tests.conftest import EXAMPLE_TIME_SCALE

HANG_HOOK = '''

def pytest_runtest_call(item):
    """Lets a test kill this shard mid-run: the chosen test blocks until the process is killed."""
    if item.nodeid == os.environ.get("SHARDER_TEST_HANG_AT"):
        time.sleep(600)
'''


def sharder(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, outside any GitHub Actions variables the outer run may have."""
    environ = {**os.environ, "SHARDER_EXAMPLE_TIME_SCALE": EXAMPLE_TIME_SCALE, **env}
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        environ.pop(name, None)
    return subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300, check=False)


def planned_and_run_example(directory: Path, shards: int) -> Path:
    """A copy of the example suite in DIRECTORY/example, planned into SHARDS shards (plan.json), every shard run
    in order with pytest-randomly off (reports/)."""
    root = copy_example(directory / "example")
    with open(root / "tests" / "conftest.py", "a", encoding="utf-8") as conftest:
        conftest.write(HANG_HOOK)
    planned = sharder(["plan", "--shards", str(shards), "-o", "plan.json"], cwd=root)
    assert planned.returncode == 0, planned.stderr
    for index in range(1, shards + 1):
        ran = sharder(["run", "--shard", f"{index}/{shards}", "--plan", "plan.json", "--", "-p", "no:randomly"],
                      cwd=root)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    return root


def private_copy(run: Path, directory: Path) -> Path:
    """A copy of a finished run (DIRECTORY/run), free to be damaged."""
    target = directory / "run"
    shutil.copytree(run, target)
    return target


def plan_bins(root: Path) -> list[list[str]]:
    """Each shard's test ids, as plan.json in ROOT lists them."""
    return [shard_bin["tests"] for shard_bin in json.loads((root / "plan.json").read_text())["bins"]]
