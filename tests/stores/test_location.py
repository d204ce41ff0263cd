"""The CLI finds the durations file where the plugin does (pytest's rootdir), from any directory of the project."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def _project(root: Path) -> Path:
    (root / "tests" / "deep").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    (root / "tests" / "deep" / "test_t.py").write_text(
        "import pytest\n\n\ndef test_slow():\n    pass\n\n\n"
        "@pytest.mark.parametrize('i', range(4))\ndef test_fast(i):\n    pass\n", encoding="utf-8")
    recorded = {"tests/deep/test_t.py::test_slow": 10.0,
                **{f"tests/deep/test_t.py::test_fast[{i}]": 1.0 for i in range(4)}}
    (root / "durations.json").write_text(json.dumps(recorded), encoding="utf-8")
    return root


def _bins(directory: Path, run_sharder: RunSharder) -> list[list[str]]:
    planned = run_sharder(["plan", "--shards", "2", "-o", "plan.json"], cwd=directory)
    assert planned.returncode == 0, planned.stderr
    return [b["tests"] for b in json.loads((directory / "plan.json").read_text(encoding="utf-8"))["bins"]]


def test_plan_from_a_subdirectory_uses_the_root_durations_as_the_plugin_does(
    tmp_path: Path, run_sharder: RunSharder
) -> None:
    root = _project(tmp_path / "project")
    from_root = _bins(root, run_sharder)
    assert sorted(len(b) for b in from_root) == [1, 4]  # 10 s alone, the four 1 s tests together: durations used
    assert _bins(root / "tests" / "deep", run_sharder) == from_root
    # the plugin, run from the subdirectory, selects the same shard
    shard = subprocess.run([sys.executable, "-m", "pytest", "--shard=1/2", "--collect-only", "-q"],
                           cwd=root / "tests" / "deep", capture_output=True, text=True, check=False)
    collected = [line.split("::", 1)[1] for line in shard.stdout.splitlines() if "::" in line]
    assert collected == [t.split("::", 1)[1] for t in from_root[0]]


def test_record_from_a_subdirectory_updates_the_root_file(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _project(tmp_path / "project")
    recorded = run_sharder(["record"], cwd=root / "tests")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert not (root / "tests" / "durations.json").exists()
    document = json.loads((root / "durations.json").read_text(encoding="utf-8"))
    assert document["format"] == "sharder-durations" and len(document["tests"]) == 5
