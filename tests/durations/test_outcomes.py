"""Each test's last outcome in the durations store: written, read back, pruned, refused when broken, and invisible
to the formats that cannot hold it. Real files in tmp_path, read by both readers (the store's and planning's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.durations import store
from sharder.durations.outcomes import failed_tests, last_outcomes, now, with_outcomes
from sharder.durations.planning_input import load_planning_input
from tests.durations.both_readers import assert_both_readers_refuse

AT = 1764634434


def _durations() -> store.Durations:
    return store.Durations({"a.py::t1": store.TestTiming(1.5, 2), "a.py::t3": store.TestTiming(0.5, 1)},
                           outcomes={"a.py::t1": ("passed", AT), "a.py::t2": ("failed", AT + 1)})


def test_outcomes_round_trip_in_the_records_and_a_failed_test_needs_no_timing(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    store.save_durations(path, _durations())
    document = json.loads(path.read_text())
    assert document["tests"]["a.py::t1"] == {"seconds": 1.5, "runs": 2, "passed_at": AT}
    assert document["tests"]["a.py::t3"] == {"seconds": 0.5, "runs": 1}
    assert document["outcomes"] == {"a.py::t2": ["failed", AT + 1]}  # no record to hold it
    loaded = store.load_durations(path)
    assert loaded.outcomes == _durations().outcomes and failed_tests(loaded.outcomes) == {"a.py::t2"}
    planning = load_planning_input(path)  # the fast reader takes both fields and plans as before
    assert planning.seconds == {"a.py::t1": 1.5, "a.py::t3": 0.5}


def test_a_store_without_outcomes_is_read_as_before_and_written_without_them(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": {"a.py::t1": {"seconds": 1}}}))
    loaded = store.load_durations(path)
    assert loaded.outcomes == {}
    store.save_durations(path, loaded)
    assert json.loads(path.read_text())["tests"] == {"a.py::t1": {"seconds": 1.0, "runs": 1}}
    assert "outcomes" not in json.loads(path.read_text())


def test_pytest_splits_flat_file_stays_flat_and_holds_no_outcome(tmp_path: Path) -> None:
    path = tmp_path / ".test_durations"
    store.save_durations(path, _durations())
    assert json.loads(path.read_text()) == {"a.py::t1": 1.5, "a.py::t3": 0.5}


def test_pruning_drops_the_outcomes_of_tests_no_longer_collected() -> None:
    pruned = store.updated(_durations(), {}, keep_only=["a.py::t1"])
    assert pruned.outcomes == {"a.py::t1": ("passed", AT)}


@pytest.mark.parametrize(("record", "untimed", "message"), [
    ({"failed_at": "yesterday"}, None, "failed_at of 'a.py::t1' is 'yesterday'"),
    ({"passed_at": -1}, None, "passed_at of 'a.py::t1' is -1"),
    ({"passed_at": True}, None, "passed_at of 'a.py::t1' is True"),
    ({"passed_at": None}, None, "passed_at of 'a.py::t1' is None"),
    ({"passed_at": AT, "failed_at": AT}, None, "holds both"),
    ({}, {"a.py::t2": ["flaky", AT]}, "outcomes of 'a.py::t2' is"),
    ({}, {"a.py::t2": ["failed", "2026-12-02"]}, "outcomes of 'a.py::t2' is"),
    ({}, {"a.py::t1": ["failed", AT]}, "which has a record in tests"),
    ({}, ["a.py::t2"], "outcomes must be an object"),
])
def test_a_broken_outcome_is_one_clear_error_from_both_readers(
    tmp_path: Path, record: dict[str, object], untimed: object, message: str,
) -> None:
    path = tmp_path / "durations.json"
    document: dict[str, object] = {"format": "sharder-durations", "version": 1,
                                   "tests": {"a.py::t1": {"seconds": 1.0, **record}}}
    if untimed is not None:
        document["outcomes"] = untimed
    path.write_text(json.dumps(document))
    assert_both_readers_refuse(path, message)


def test_the_last_attempt_that_says_something_wins() -> None:
    attempts = [("t", "failed"), ("t", "rerun"), ("t", "passed"), ("u", "passed"), ("u", "error"), ("v", "skipped")]
    assert last_outcomes(attempts) == {"t": "passed", "u": "error"}
    updated = with_outcomes({"v": ("failed", AT)}, {"t": "passed", "u": "error", "v": "skipped"}, now())
    assert {node_id: last[0] for node_id, last in updated.items()} == {"t": "passed", "u": "failed", "v": "failed"}
    assert updated["v"][1] == AT and updated["t"][1] >= AT
