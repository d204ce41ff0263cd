"""`sharder record --processes K` on a real suite: each test is measured in a process holding only its part of the
suite, as in a shard, yet the store ends exactly as a serial record of the whole suite leaves it: every collected
test recorded once, tests no longer collected pruned (only when nothing narrowed the run), every file's import
cost and the per-process costs recorded, and pytest's exit status passed on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FILES = 7
TESTS_PER_FILE = 3
# Each test module holds this many objects from its import on, as a heavy test module's fixtures and data do.
BALLAST = 20_000

MODULE = '''
BALLAST = [[] for _ in range({ballast})]  # lists: gc-tracked, as objects with references are


''' + "".join(f"def test_{{name}}_{i}():\n    pass\n\n\n" for i in range(TESTS_PER_FILE))

# The heap walker (networkx's `test_memory_leak` walks `gc.get_objects()`): it writes what its process holds.
HEAP_WALKER = '''
import gc
import json
import os
import sys


def test_walks_the_heap():
    seen = {"modules": sorted(name for name in sys.modules if name.startswith("test_")),
            "objects": len(gc.get_objects())}
    with open(os.environ["HEAP_SEEN"], "w") as out:
        json.dump(seen, out)
'''


def sharder(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`sharder record ARGS` in the suite; the heap walker writes what it saw to heap.json there."""
    return subprocess.run([sys.executable, "-m", "sharder", "record", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False, env={**os.environ, "HEAP_SEEN": str(cwd / "heap.json")})


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    for index in range(FILES):
        (tmp_path / f"test_part{index}.py").write_text(MODULE.format(ballast=BALLAST, name=f"part{index}"))
    (tmp_path / "test_heap.py").write_text(HEAP_WALKER)
    return tmp_path


STALE_STORE = json.dumps({"format": "sharder-durations", "version": 1,
                          "tests": {"test_gone.py::test_removed": {"seconds": 1.5, "runs": 1}}})


def _store(suite: Path) -> dict:
    return json.loads((suite / "durations.json").read_text())


def _heap_seen(suite: Path) -> dict:
    return json.loads((suite / "heap.json").read_text())


def test_each_part_imports_only_its_files_so_a_heap_walk_sees_a_shard_sized_heap(suite: Path) -> None:
    serial = sharder([], suite)
    assert serial.returncode == 0, serial.stdout + serial.stderr
    whole = _heap_seen(suite)
    assert len(whole["modules"]) == FILES + 1  # the premise: a serial record holds every test module
    split = sharder(["--processes", "4"], suite)
    assert split.returncode == 0, split.stdout + split.stderr
    part = _heap_seen(suite)
    assert "test_heap" in part["modules"]
    assert len(part["modules"]) <= (FILES + 1) // 2  # a quarter of the files, give or take the planner's balance
    # Objects a gc walk visits: at most the ballast of its part's modules, not the suite's.
    assert whole["objects"] - part["objects"] >= (FILES + 1 - len(part["modules"])) * BALLAST * 0.9


def test_the_store_ends_as_a_serial_record_of_the_whole_suite_leaves_it(suite: Path) -> None:
    (suite / "durations.json").write_text(STALE_STORE)
    done = sharder(["--processes", "3"], suite)
    assert done.returncode == 0, done.stdout + done.stderr
    store = _store(suite)
    expected = {f"test_part{f}.py::test_part{f}_{i}" for f in range(FILES) for i in range(TESTS_PER_FILE)}
    expected.add("test_heap.py::test_walks_the_heap")
    assert set(store["tests"]) == expected  # all recorded, the removed test pruned
    assert {entry["runs"] for entry in store["tests"].values()} == {1}  # each test ran in exactly one part
    assert store["last_update"] == {"command": "record", "observed": len(expected), "pruned": 1, "selected_by": []}
    costs = store["costs"]
    assert set(costs["files"]) == {f"test_part{f}.py" for f in range(FILES)} | {"test_heap.py"}
    assert costs["runs"] >= 1 and costs["startup_seconds"] > 0
    assert "pruned 1 test no longer collected" in done.stdout
    assert done.stdout.count("=== sharder record: part ") == 3


def test_a_narrowed_record_prunes_nothing(suite: Path) -> None:
    (suite / "durations.json").write_text(STALE_STORE)
    done = sharder(["--processes", "3", "--", "-k", "part1 or part2"], suite)
    assert done.returncode == 0, done.stdout + done.stderr
    store = _store(suite)
    assert "test_gone.py::test_removed" in store["tests"]
    assert "test_part0.py::test_part0_0" not in store["tests"]
    assert "test_part1.py::test_part1_0" in store["tests"]
    assert store["last_update"]["selected_by"] == ["-k part1 or part2"]
    assert "nothing pruned (the run was narrowed by -k part1 or part2)" in done.stdout


def test_a_failing_test_is_not_recorded_the_other_parts_still_run_and_the_exit_says_it(suite: Path) -> None:
    (suite / "test_part0.py").write_text("def test_part0_0():\n    assert False\n")
    done = sharder(["--processes", "4"], suite)
    assert done.returncode == 1, done.stdout + done.stderr
    store = _store(suite)
    assert "test_part0.py::test_part0_0" not in store["tests"]
    assert len(store["tests"]) == (FILES - 1) * TESTS_PER_FILE + 1


def test_a_part_that_stops_the_session_stops_the_record_before_any_pruning(suite: Path) -> None:
    (suite / "durations.json").write_text(STALE_STORE)
    (suite / "conftest.py").write_text(
        "import pytest\n\n\ndef pytest_runtest_call(item):\n"
        "    if item.name == 'test_walks_the_heap':\n        raise pytest.exit('stop here', returncode=3)\n")
    done = sharder(["--processes", "4"], suite)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "nothing was pruned" in done.stdout
    assert "test_gone.py::test_removed" in _store(suite)["tests"]


def test_processes_and_from_junit_together_is_one_line_and_exit_2(suite: Path) -> None:
    done = sharder(["--processes", "2", "--from-junit", "report.xml"], suite)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--processes" in done.stderr
    assert "Traceback" not in done.stderr
