"""Each test's last outcome in the durations store: written, read back, pruned, refused when broken, and invisible
to the formats that cannot hold it. Real files in tmp_path, read by both readers (the store's and planning's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.durations import store
from sharder.durations.outcomes import failed_tests, last_outcomes, now_text, with_outcomes
from sharder.durations.planning_input import load_planning_input

AT = "2026-12-02T00:13:54Z"


def _durations() -> store.Durations:
    return store.Durations({"a.py::t1": store.TestTiming(1.5, 2)},
                           outcomes={"a.py::t1": ("passed", AT), "a.py::t2": ("failed", AT)})


def test_outcomes_round_trip_and_a_failed_test_needs_no_timing(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    store.save_durations(path, _durations())
    document = json.loads(path.read_text())
    assert document["outcomes"] == {"a.py::t1": ["passed", AT], "a.py::t2": ["failed", AT]}
    loaded = store.load_durations(path)
    assert loaded.outcomes == _durations().outcomes and failed_tests(loaded.outcomes) == {"a.py::t2"}
    planning = load_planning_input(path)  # the fast reader takes the field and plans as before
    assert planning.seconds == {"a.py::t1": 1.5}


def test_a_store_without_outcomes_is_read_as_before_and_written_without_the_field(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": {"a.py::t1": {"seconds": 1}}}))
    loaded = store.load_durations(path)
    assert loaded.outcomes == {}
    store.save_durations(path, loaded)
    assert "outcomes" not in json.loads(path.read_text())


def test_pytest_splits_flat_file_stays_flat_and_holds_no_outcome(tmp_path: Path) -> None:
    path = tmp_path / ".test_durations"
    store.save_durations(path, _durations())
    assert json.loads(path.read_text()) == {"a.py::t1": 1.5}


def test_pruning_drops_the_outcomes_of_tests_no_longer_collected() -> None:
    pruned = store.updated(_durations(), {}, keep_only=["a.py::t1"])
    assert pruned.outcomes == {"a.py::t1": ("passed", AT)}


@pytest.mark.parametrize("value", [
    ["failed"], ["flaky", AT], ["failed", "yesterday"], ["passed", 5], "failed", None,
])
def test_a_broken_outcome_is_one_clear_error_from_both_readers(tmp_path: Path, value: object) -> None:
    path = tmp_path / "durations.json"
    document = {"format": "sharder-durations", "version": 1, "tests": {"a.py::t1": {"seconds": 1.0}},
                "outcomes": {"a.py::t1": value}}
    path.write_text(json.dumps(document))
    with pytest.raises(SharderError, match=r"outcomes of 'a.py::t1' is .*expected") as full:
        store.load_durations(path)
    with pytest.raises(SharderError) as planning:
        load_planning_input(path)
    assert str(planning.value) == str(full.value)


def test_the_last_attempt_that_says_something_wins() -> None:
    attempts = [("t", "failed"), ("t", "rerun"), ("t", "passed"), ("u", "passed"), ("u", "error"), ("v", "skipped")]
    assert last_outcomes(attempts) == {"t": "passed", "u": "error"}
    updated = with_outcomes({"v": ("failed", AT)}, {"t": "passed", "u": "error", "v": "skipped"}, now_text())
    assert {node_id: last[0] for node_id, last in updated.items()} == {"t": "passed", "u": "failed", "v": "failed"}
    assert updated["v"][1] == AT
