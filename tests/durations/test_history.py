"""What the store remembers of its updates: absorbed report identities (bounded) and the last update, in both
readers, written by the writer, refused when malformed."""

import json
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.durations import planning_input, store
from sharder.durations.history import MAX_ABSORBED, LastUpdate, absorbed_after


def _document(**extra: object) -> dict[str, object]:
    return {"format": "sharder-durations", "version": 1, **extra,
            "tests": {"t.py::a": {"seconds": 1.5, "runs": 2}, "t.py::b": {"seconds": 0.25, "runs": 1}}}


def test_absorbed_keeps_each_identity_once_and_only_the_newest() -> None:
    assert absorbed_after(["a", "b"], ["b", "c", "c"]) == ("a", "b", "c")
    many = absorbed_after([], [f"r{i}" for i in range(MAX_ABSORBED + 10)])
    assert len(many) == MAX_ABSORBED and many[0] == "r10" and many[-1] == f"r{MAX_ABSORBED + 9}"


def test_history_round_trips_and_the_file_stays_version_1(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    durations = store.Durations({"t.py::a": store.TestTiming(1.0)}, absorbed=("sha256:ab", "run:7:1/2"),
                                last_update=LastUpdate("rebalance", 1, 0, ("-k fast",)))
    store.save_durations(path, durations)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1 and next(iter(document)) == "format" and list(document)[-1] == "tests"
    assert document["last_update"] == {"command": "rebalance", "observed": 1, "pruned": 0, "selected_by": ["-k fast"]}
    again = store.load_durations(path)
    assert (again.absorbed, again.last_update) == (durations.absorbed, durations.last_update)
    assert store.updated(again, {"t.py::a": store.Observation(2.0)}).absorbed == durations.absorbed  # kept


def test_a_flat_file_cannot_hold_it(tmp_path: Path) -> None:
    path = tmp_path / ".test_durations"
    store.save_durations(path, store.Durations({"a": store.TestTiming(1.0)}, absorbed=("sha256:ab",)))
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 1.0}
    assert not store.remembers_history(path) and store.remembers_history(tmp_path / "durations.json")


def test_the_planning_reader_keeps_its_fast_path_with_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sharder plan` on 200,000 tests must not fall back to the full parse because the store has a history."""
    path = tmp_path / "durations.json"
    path.write_text(json.dumps(_document(absorbed=["sha256:1", "log:2"], last_update={
        "command": "record", "observed": 2, "pruned": 1, "selected_by": None})), encoding="utf-8")

    def no_fallback(*_: object) -> object:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(planning_input, "decode_document", no_fallback)
    assert planning_input.load_planning_input(path).seconds == {"t.py::a": 1.5, "t.py::b": 0.25}


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"absorbed": "sha256:1"}, "absorbed must be a list"),
    ({"absorbed": ["ok", ""]}, "absorbed must be a list of non-empty strings"),
    ({"absorbed": [1]}, "absorbed must be a list"),
    ({"last_update": []}, "last_update must be an object"),
    ({"last_update": {"observed": 1}}, "last_update.command"),
    ({"last_update": {"command": "x", "observed": -1}}, "last_update.observed"),
    ({"last_update": {"command": "x", "pruned": True}}, "last_update.pruned"),
    ({"last_update": {"command": "x", "selected_by": "-k a"}}, "last_update.selected_by"),
])
def test_both_readers_refuse_a_malformed_history_alike(extra: dict[str, object], fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps(_document(**extra)), encoding="utf-8")
    with pytest.raises(SharderError) as full:
        store.load_durations(path)
    with pytest.raises(SharderError) as fast:
        planning_input.load_planning_input(path)
    assert fragment in str(full.value) and str(fast.value) == str(full.value)


def test_a_duplicate_key_in_the_history_is_found_by_both_readers(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text('{"format": "sharder-durations", "version": 1, "last_update": {"command": "a", "command": "b"}, '
                    '"tests": {}}', encoding="utf-8")
    with pytest.raises(SharderError, match="duplicate key 'command'") as full:
        store.load_durations(path)
    with pytest.raises(SharderError) as fast:
        planning_input.load_planning_input(path)
    assert str(fast.value) == str(full.value)
