import json
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.durations import store


def _parse(text: str) -> store.Durations:
    return store.parse_durations(text.encode("utf-8"), "d.json")


def test_reads_sharder_format() -> None:
    data = {"format": "sharder-durations", "version": 1,
            "tests": {"t.py::a": {"seconds": 1.5, "runs": 3, "peak_rss_mb": 12.0, "setup_seconds": 0.5}}}
    timing = _parse(json.dumps(data)).tests["t.py::a"]
    assert (timing.seconds, timing.runs, timing.peak_rss_mb, timing.setup_seconds) == (1.5, 3, 12.0, 0.5)


def test_reads_pytest_split_flat_map_and_legacy_pairs() -> None:
    assert _parse('{"t.py::a": 1, "t.py::b": 2.5}').seconds() == {"t.py::a": 1.0, "t.py::b": 2.5}
    assert _parse('[["t.py::a", 1], ["t.py::b", 0]]').seconds() == {"t.py::a": 1.0, "t.py::b": 0.0}


def test_reads_a_byte_order_mark_and_unicode_ids() -> None:
    raw = "\ufeff" + json.dumps({"t.py::test[ünï::x]": 1.0}, ensure_ascii=False)
    assert list(store.parse_durations(raw.encode("utf-8")).tests) == ["t.py::test[ünï::x]"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("null", "got null"),
        ("not json", "not valid durations JSON"),
        ('{"a": -1}', "'a'"),
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": "slow"}', "not a number"),
        ('{"a": true}', "not a number"),
        ('{"a": 1, "a": 2}', "duplicate"),
        ('{"format": "sharder-durations", "version": 99, "tests": {}}', "version 99"),
        ('{"format": "other", "version": 1}', "unknown format"),
        ('[["a", 1], ["b"]]', "entry 1"),
        ('{"": 1}', "non-empty"),
    ],
)
def test_rejects_bad_durations_with_the_first_bad_entry(text: str, fragment: str) -> None:
    with pytest.raises(SharderError, match=None) as caught:
        _parse(text)
    assert fragment in str(caught.value)


def test_update_blends_observations_and_prunes() -> None:
    old = _parse('{"a": 10.0, "gone": 1.0}')
    new = store.updated(old, {"a": store.Observation(20.0), "b": store.Observation(3.0)}, smoothing=0.5,
                        keep_only=["a", "b"])
    assert new.tests["a"].seconds == pytest.approx(15.0)
    assert new.tests["a"].runs == 2
    assert new.tests["b"].seconds == 3.0
    assert "gone" not in new.tests


def test_update_takes_a_higher_memory_peak_at_once() -> None:
    old = store.Durations({"a": store.TestTiming(1.0, 1, None, 100.0)})
    new = store.updated(old, {"a": store.Observation(1.0, peak_rss_mb=300.0)}, smoothing=0.25)
    assert new.tests["a"].peak_rss_mb == 300.0


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    durations = _parse('{"b": 2.0, "a": 1.0}')
    store.save_durations(path, durations)
    assert store.load_durations(path).seconds() == {"a": 1.0, "b": 2.0}
    assert [p.name for p in tmp_path.iterdir()] == ["durations.json"]  # no temp file left behind


def test_a_test_durations_file_keeps_pytest_splits_flat_format(tmp_path: Path) -> None:
    path = tmp_path / ".test_durations"
    store.save_durations(path, _parse('{"a": 1.0}'))
    assert json.loads(path.read_text()) == {"a": 1.0}


def test_finds_pytest_split_file_only_when_ours_is_absent(tmp_path: Path) -> None:
    assert store.find_durations_file(tmp_path).name == "durations.json"
    (tmp_path / ".test_durations").write_text("{}")
    assert store.find_durations_file(tmp_path).name == ".test_durations"
    (tmp_path / "durations.json").write_text("{}")
    assert store.find_durations_file(tmp_path).name == "durations.json"
