"""A job that plans in-process (`--shard K/N`, no plan file) runs exactly the shard `sharder plan` shows.

Both must plan from the same inputs, recorded setup times included: `--group-by auto` prices a module split by the
fixture setup it repeats, so planning without them would split modules `sharder plan` keeps whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

RunSharder = Callable[..., subprocess.CompletedProcess[str]]
MODULES, TESTS, SECONDS, FIXTURE = 3, 20, 0.3, 5.0


def _suite(root: Path) -> None:
    """Three modules of 20 tests; each module's first test pays a 5 s module fixture (recorded as its setup)."""
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly\n")
    (root / "tests").mkdir()
    records = {}
    for m in range(MODULES):
        (root / "tests" / f"test_m{m}.py").write_text(
            "".join(f"def test_{t:02d}():\n    pass\n" for t in range(TESTS)))
        for t in range(TESTS):
            setup = FIXTURE if t == 0 else 0.0
            records[f"tests/test_m{m}.py::test_{t:02d}"] = {"seconds": SECONDS + setup, "runs": 3,
                                                            "setup_seconds": setup}
    (root / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": records}))


def _collected_shard(root: Path, shard: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", f"--shard={shard}", "--sharder-group-by=auto"],
        cwd=root, capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line and not line.startswith("sharder:")]


def test_in_process_auto_plan_matches_sharder_plan_with_fixture_costs(tmp_path: Path, run_sharder: RunSharder) -> None:
    _suite(tmp_path)
    planned = run_sharder(["plan", "--shards", "4", "--group-by", "auto", "-o", "plan.json", "--json"], tmp_path)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["split_units"] == 0  # a 5 s fixture costs more than splitting a 11 s module gains
    for shard_bin in plan["bins"]:
        ran = _collected_shard(tmp_path, f"{shard_bin['shard']}/4")
        assert ran == shard_bin["tests"], shard_bin["shard"]
