"""The store's costs section: derived from a session, blended, written and read back, refused when broken."""

from __future__ import annotations

import json

import pytest

from sharder.core.errors import SharderError
from sharder.core.session_timeline import SessionTimeline, timeline_from_json
from sharder.durations.costs import (
    SuiteCosts,
    blended_costs,
    costs_of_session,
    shared_import_excess,
    with_outside,
)
from sharder.durations.planning_input import load_planning_input
from sharder.durations.store import Durations, Observation, parse_durations, render_durations, updated
from sharder.durations.store import TestTiming as Timing


def _timeline(files: dict[str, float]) -> SessionTimeline:
    return SessionTimeline(startup_seconds=0.5, collection_seconds=round(sum(files.values()) + 0.1, 6), files=files,
                           session_setup_seconds=0.02, tests_span_seconds=2.1, tests_seconds=2.0, tests=100,
                           teardown_seconds=0.3)


def test_a_session_splits_into_per_process_per_test_and_per_file_costs() -> None:
    costs = costs_of_session(_timeline({"a.py": 0.2, "b.py": 0.25, "c.py": 0.2}))
    assert costs.files == {"a.py": 0.2, "b.py": 0.25, "c.py": 0.2}
    assert costs.collection_seconds == pytest.approx(0.1)
    assert costs.per_test_seconds == pytest.approx(0.001)
    assert costs.fixed_seconds == pytest.approx(0.5 + 0.1 + 0.02 + 0.3)


def test_the_first_files_shared_imports_move_to_the_start() -> None:
    """numpy imported by the first file is paid by whichever file comes first in every shard."""
    assert shared_import_excess([2.0, 0.1, 0.12, 0.1]) == pytest.approx(1.9)
    assert shared_import_excess([0.3, 0.3, 0.31]) == 0.0
    assert shared_import_excess([2.0, 0.1]) == 0.0  # too few files to tell
    costs = costs_of_session(_timeline({"a.py": 2.0, "b.py": 0.1, "c.py": 0.1, "d.py": 0.12}))
    assert costs.files["a.py"] == pytest.approx(0.1)
    assert costs.startup_seconds == pytest.approx(0.5 + 1.9)
    assert costs.collection_seconds == pytest.approx(0.1)


def test_blending_moves_halfway_and_keeps_files_the_session_did_not_collect() -> None:
    old = SuiteCosts(startup_seconds=1.0, files={"a.py": 1.0, "b.py": 0.5})
    new = SuiteCosts(startup_seconds=2.0, files={"a.py": 2.0, "c.py": 0.1})
    blended = blended_costs(old, new, 0.5)
    assert blended.startup_seconds == 1.5 and blended.runs == 2
    assert blended.files == {"a.py": 1.5, "b.py": 0.5, "c.py": 0.1}


def test_costs_round_trip_through_the_store_and_the_planning_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    durations = updated(Durations({}), {"t/a.py::x": Observation(1.0)},
                        costs=SuiteCosts(startup_seconds=0.4, files={"t/a.py": 0.3, "t/gone.py": 0.2}),
                        keep_only=["t/a.py::x"])
    assert durations.costs is not None and durations.costs.files == {"t/a.py": 0.3}  # pruned with its tests
    text = render_durations(durations)
    again = parse_durations(text.encode())
    assert again.costs == durations.costs
    path = tmp_path / "durations.json"
    path.write_text(text)
    assert load_planning_input(path).costs == durations.costs
    # pytest-split's flat format cannot hold the section, and reading it stays as before
    assert "costs" not in json.loads(render_durations(durations, flat=True))


@pytest.mark.parametrize("section", [[], {"startup_seconds": -1}, {"files": {"a.py": "x"}}, {"runs": 0},
                                     {"files": {"": 1.0}}, {"teardown_seconds": 1e300}])
def test_a_broken_costs_section_is_one_clear_error(section: object, tmp_path) -> None:  # type: ignore[no-untyped-def]
    document = {"format": "sharder-durations", "version": 1, "costs": section,
                "tests": {"a.py::t": {"seconds": 1.0}}}
    raw = json.dumps(document).encode()
    with pytest.raises(SharderError, match="costs"):
        parse_durations(raw)
    path = tmp_path / "durations.json"
    path.write_bytes(raw)
    with pytest.raises(SharderError, match="costs"):
        load_planning_input(path)


def test_a_store_without_costs_reads_as_before() -> None:
    durations = parse_durations(b'{"a.py::t": 1.5}')
    assert durations.costs is None and durations.tests == {"a.py::t": Timing(1.5)}


def test_a_timeline_round_trips_and_rejects_what_the_writer_never_writes() -> None:
    timeline = _timeline({"a.py": 0.2})
    assert timeline_from_json(json.loads(json.dumps(timeline.to_json()))) == timeline
    assert timeline_from_json({"startup_seconds": float("nan")}) is None
    assert timeline_from_json({"tests": True}) is None
    assert timeline_from_json({"files": {"a.py": -1}}) is None
    assert timeline_from_json([]) is None


def test_the_time_outside_pytest_counts_in_the_fixed_cost_and_blends_only_when_measured() -> None:
    """A plain pytest run cannot measure it: its session must not pull a recorded figure towards zero."""
    measured = SuiteCosts(startup_seconds=1.0, outside_seconds=0.6)
    assert measured.fixed_seconds == pytest.approx(1.6)
    assert SuiteCosts(startup_seconds=1.0).fixed_seconds == pytest.approx(1.0)
    unmeasured = SuiteCosts(startup_seconds=2.0)
    assert blended_costs(measured, unmeasured, 0.5).outside_seconds == 0.6
    assert blended_costs(unmeasured, measured, 0.5).outside_seconds == 0.6
    assert blended_costs(measured, SuiteCosts(outside_seconds=0.2), 0.5).outside_seconds == pytest.approx(0.4)
    again = with_outside(measured, 1.0, 0.5)
    assert again.outside_seconds == pytest.approx(0.8) and again.runs == measured.runs
    assert with_outside(unmeasured, 0.3, 0.5).outside_seconds == 0.3


def test_the_time_outside_pytest_round_trips_and_an_older_store_has_none() -> None:
    durations = updated(Durations({}), {"t/a.py::x": Observation(1.0)},
                        costs=SuiteCosts(startup_seconds=0.4, outside_seconds=0.25, files={"t/a.py": 0.3}))
    text = render_durations(durations)
    assert json.loads(text)["costs"]["outside_seconds"] == 0.25
    assert parse_durations(text.encode()).costs == durations.costs
    older = json.loads(text)
    del older["costs"]["outside_seconds"]
    costs = parse_durations(json.dumps(older).encode()).costs
    assert costs is not None and costs.outside_seconds is None
    older["costs"]["outside_seconds"] = -1
    with pytest.raises(SharderError, match="outside_seconds"):
        parse_durations(json.dumps(older).encode())


def test_a_session_carries_its_outside_time_into_its_costs() -> None:
    timeline = SessionTimeline(startup_seconds=0.5, collection_seconds=0.1, tests=1, outside_seconds=0.7,
                               wall_seconds=2.0)
    assert costs_of_session(timeline).outside_seconds == 0.7
    assert timeline.job_seconds == pytest.approx(2.7)
    assert timeline_from_json(timeline.to_json()) == timeline
    assert costs_of_session(timeline_from_json(_timeline({}).to_json())).outside_seconds is None  # type: ignore[arg-type]
