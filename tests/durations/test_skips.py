"""Tests known only as skipped are planned at their skip's time, not estimated from their siblings (issue 17, item
5): stored by `record`, `record --from-junit` and `rebalance`, read by both readers, left when the test first
passes, pruned with the rest, refused when broken; real pytest sessions on a generated suite and real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.durations import store
from sharder.durations.planning_input import load_planning_input
from sharder.durations.skips import last_skips
from tests.durations.both_readers import assert_both_readers_refuse
from tests.example_runs import sharder

# One slow test beside a module of tests skipped on every run (an optional dependency missing): estimated from
# their sibling, the 30 skips would read as 30 x the slow test's time.
SUITE = {
    "tests/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(0.3)\n",
    "tests/test_optional.py": (
        "import time, pytest\n\n"
        "def test_sibling():\n    time.sleep(0.3)\n\n"
        "@pytest.mark.parametrize('n', range(30))\n"
        "@pytest.mark.skipif(True, reason='optional dependency not installed')\n"
        "def test_needs_gpu(n):\n    pass\n"
    ),
}


def _suite(root: Path) -> Path:
    for name, text in SUITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    return root


def _skipped_ids() -> list[str]:
    return [f"tests/test_optional.py::test_needs_gpu[{n}]" for n in range(30)]


def test_a_recorded_skip_is_planned_at_its_own_time_not_its_siblings(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    recorded = sharder(["record", "--durations", "durations.json"], root)
    assert recorded.returncode == 0, recorded.stderr
    document = json.loads((root / "durations.json").read_text())
    assert set(document["skipped"]) == set(_skipped_ids())  # beside `tests`, not in it
    assert set(document["tests"]).isdisjoint(document["skipped"])
    assert all(seconds < 0.1 for seconds in document["skipped"].values())
    for reader in (lambda p: store.load_durations(p).seconds(), lambda p: load_planning_input(p).seconds):
        seconds = reader(root / "durations.json")
        assert set(_skipped_ids()) <= set(seconds) and seconds["tests/test_slow.py::test_slow"] >= 0.3
    planned = sharder(["plan", "--shards", "2", "--durations", "durations.json", "-o", "plan.json", "--json"], root)
    assert planned.returncode == 0, planned.stderr
    shards = json.loads(planned.stdout)["bins"]
    assert sum(shard["estimated_tests"] for shard in shards) == 0
    total = sum(shard["predicted_seconds"] for shard in shards)
    assert total < 3 * 0.3 * 1.5  # the two sleeping tests and 30 skips; estimated, the skips were 30 x 0.3 s more


def test_a_skip_that_later_passes_gets_a_record_of_its_own_and_leaves_the_field(tmp_path: Path) -> None:
    durations = store.updated(store.Durations({}), {"a.py::t1": store.Observation(1.0)},
                              skipped={"a.py::t2": 0.001, "a.py::t3": 0.002})
    assert durations.skipped == {"a.py::t2": 0.001, "a.py::t3": 0.002}
    later = store.updated(durations, {"a.py::t2": store.Observation(4.0)})
    assert later.tests["a.py::t2"].seconds == 4.0 and later.tests["a.py::t2"].runs == 1  # not blended with 0.001
    assert later.skipped == {"a.py::t3": 0.002}
    assert store.updated(later, {}, keep_only=["a.py::t1", "a.py::t2"]).skipped == {}  # pruned as records are
    # a test with a record that is skipped keeps its record, and is never listed as skipped
    kept = store.updated(later, {}, skipped={"a.py::t1": 0.001})
    assert kept.tests["a.py::t1"].seconds == 1.0 and "a.py::t1" not in kept.skipped
    path = tmp_path / ".test_durations"  # pytest-split's flat format cannot hold the field
    store.save_durations(path, later)
    assert json.loads(path.read_text()) == {"a.py::t1": 1.0, "a.py::t2": 4.0}


def test_the_last_run_decides_and_an_xfail_or_untimed_case_is_no_skip() -> None:
    runs = [("t", "skipped", 0.001, True), ("t", "passed", 1.0, True), ("u", "passed", 1.0, True),
            ("u", "skipped", 0.002, True), ("v", "xfailed", 0.01, True), ("w", "skipped", 0.0, False)]
    assert last_skips(runs) == {"u": 0.002}


@pytest.mark.parametrize(("skipped", "message"), [
    ({"a.py::t2": -1}, "skipped of 'a.py::t2' is -1"),
    ({"a.py::t2": "fast"}, "skipped of 'a.py::t2' is 'fast'"),
    ({"a.py::t2": True}, "skipped of 'a.py::t2' is True"),
    ({"a.py::t2": 1e300}, "skipped of 'a.py::t2' is 1e+300"),
    ({"a.py::t1": 0.001}, "which has a record in tests"),
    ({"": 0.001}, "empty test id"),
    (["a.py::t2"], "skipped must be an object"),
])
def test_a_broken_skipped_field_is_one_clear_error_from_both_readers(
    tmp_path: Path, skipped: object, message: str,
) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1,
                                "tests": {"a.py::t1": {"seconds": 1.0}}, "skipped": skipped}))
    assert_both_readers_refuse(path, message)
    done = sharder(["plan", "--shards", "2", "--durations", str(path), "--from-durations"], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def test_junit_reports_teach_skips_through_record_from_junit_and_rebalance(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    ran = sharder(["run", "--shard", "1/1", "--junit-dir", "reports"], root)
    assert ran.returncode == 0, ran.stderr
    imported = sharder(["record", "--from-junit", "reports", "--durations", "from-junit.json"], root)
    assert imported.returncode == 0, imported.stderr
    assert set(json.loads((root / "from-junit.json").read_text())["skipped"]) == set(_skipped_ids())
    (root / "rebalanced.json").write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": {
        "tests/test_slow.py::test_slow": {"seconds": 0.3}, "tests/test_optional.py::test_sibling": {"seconds": 0.3}}}))
    rebalanced = sharder(["rebalance", "reports", "--durations", "rebalanced.json"], root)
    assert rebalanced.returncode == 0, rebalanced.stderr
    assert set(json.loads((root / "rebalanced.json").read_text())["skipped"]) == set(_skipped_ids())


def test_skips_kept_under_classname_keys_move_to_their_node_ids_once_the_suite_is_collected(tmp_path: Path) -> None:
    """Plain pytest's report keys its cases `classname::name`: recorded without a collection, its skips stay under
    those keys; the next record that collects moves them to node ids, so `plan` names them as pytest takes them."""
    import subprocess
    import sys

    root = _suite(tmp_path)
    for name in ("first.xml", "second.xml"):  # two runs, two reports the store has not absorbed
        ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:sharder", f"--junitxml={name}"], cwd=root,
                             capture_output=True, text=True, check=False)
        assert ran.returncode == 0, ran.stdout
    kept = sharder(["record", "--from-junit", "first.xml", "--no-collect", "--durations", "d.json"], root)
    assert kept.returncode == 0, kept.stderr
    foreign = set(json.loads((root / "d.json").read_text())["skipped"])
    assert foreign == {f"tests.test_optional::test_needs_gpu[{n}]" for n in range(30)}
    moved = sharder(["record", "--from-junit", "second.xml", "--durations", "d.json"], root)
    assert moved.returncode == 0, moved.stderr
    written = json.loads((root / "d.json").read_text())
    assert set(written["skipped"]) == set(_skipped_ids())
    assert set(written["tests"]) == {"tests/test_slow.py::test_slow", "tests/test_optional.py::test_sibling"}
