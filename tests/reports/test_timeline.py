"""The timeline's layout from progress logs written in their real format and read back by the merge's reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sharder.core.progress_log import encode_event, read_progress_log
from sharder.reports.inputs import Attempt
from sharder.reports.timeline import DIED, build_lanes

T0 = 1_700_000_000.0


def _log(path: Path, shard: str | None, tests: list[tuple[str, float, float, str]], *, started: float = T0,
         finished: float | None = None, stamped: bool = True) -> Path:
    """A log whose tests (id, start, end, outcome) are given in seconds after T0."""
    events: list[dict[str, Any]] = [{"event": "session", "format": 1, "shard": shard, "order": [t[0] for t in tests]}]
    if stamped:
        events[0]["started_at"] = started
    for node_id, start, end, outcome in tests:
        events.append({"event": "start", "nodeid": node_id, **({"at": T0 + start} if stamped else {})})
        events.append({"event": "test", "nodeid": node_id, "outcome": outcome, "seconds": end - start,
                       "shard": shard, **({"at": T0 + end} if stamped else {})})
    events.append({"event": "finish", "exitstatus": 0, **({"at": T0 + finished} if finished and stamped else {})})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(encode_event(event) for event in events))
    return path


def test_a_lane_per_shard_with_its_fixed_cost_before_and_after(tmp_path: Path) -> None:
    one = _log(tmp_path / "shard-1-of-2.progress.jsonl", "1/2", [("a::x", 1.5, 2.0, "passed"),
                                                                 ("a::y", 2.0, 4.0, "failed")], finished=4.5)
    two = _log(tmp_path / "shard-2-of-2.progress.jsonl", "2/2", [("b::z", 0.5, 1.0, "passed")], finished=1.2)
    lanes = build_lanes([read_progress_log(two), read_progress_log(one)], [], {"a::y": "flaky"})
    assert [lane.label for lane in lanes] == ["shard 1/2", "shard 2/2"]
    first = lanes[0]
    assert first.timed and first.rows == 1
    assert [(bar.node_id, bar.start, bar.end) for bar in first.bars] == [("a::x", 1.5, 2.0), ("a::y", 2.0, 4.0)]
    assert first.fixed_before == pytest.approx(1.5) and first.fixed_after == pytest.approx(0.5)
    # the colour is the verdict's final word, the attempt's own outcome is kept beside it
    assert [(bar.outcome, bar.attempt_outcome) for bar in first.bars] == [("passed", "passed"), ("flaky", "failed")]


def test_tests_that_ran_at_once_get_rows_of_their_lane(tmp_path: Path) -> None:
    """An xdist shard: two workers' tests overlap in time; consecutive tests of one worker share a row."""
    log = _log(tmp_path / "shard-1-of-1.progress.jsonl", "1/1", [
        ("t::a", 1.0, 3.0, "passed"), ("t::b", 1.1, 2.0, "passed"), ("t::c", 2.0, 2.5, "passed"),
        ("t::d", 3.0, 4.0, "passed"),
    ], finished=4.0)
    (lane,) = build_lanes([read_progress_log(log)], [], {})
    assert lane.rows == 2
    rows = {bar.node_id: bar.row for bar in lane.bars}
    assert rows["t::a"] == rows["t::d"] != rows["t::b"] == rows["t::c"]


def test_a_shards_memory_intensive_pass_shares_its_lane_and_a_retried_attempt_gets_its_own(tmp_path: Path) -> None:
    parallel = _log(tmp_path / "a1" / "shard-1-of-1.progress.jsonl", "1/1", [("t::a", 1.0, 2.0, "passed")],
                    finished=2.1)
    heavy = _log(tmp_path / "a1" / "shard-1-of-1.memory-intensive.progress.jsonl", "1/1",
                 [("t::big", 3.0, 5.0, "passed")], started=T0 + 2.5, finished=5.2)
    retry = _log(tmp_path / "a2" / "shard-1-of-1.progress.jsonl", "1/1", [("t::a", 0.8, 1.0, "passed")],
                 finished=1.1)
    lanes = build_lanes([read_progress_log(p) for p in (parallel, heavy, retry)], [], {})
    assert [lane.label for lane in lanes] == ["shard 1/1 (a1/shard-1-of-1)", "shard 1/1 (a2/shard-1-of-1)"]
    assert [(bar.node_id, bar.start) for bar in lanes[0].bars] == [("t::a", 1.0), ("t::big", 3.0)]
    assert lanes[0].end == pytest.approx(5.2) and lanes[0].rows == 1


def test_without_clock_times_tests_are_placed_by_order_and_duration(tmp_path: Path) -> None:
    old = _log(tmp_path / "shard-1-of-2.progress.jsonl", "1/2", [("a::x", 0, 2.0, "passed"),
                                                                 ("a::y", 0, 1.0, "passed")], stamped=False)
    foreign = [Attempt("c::p", "passed", 0.25, None, "junit.xml"), Attempt("c::q", "skipped", 0.5, None, "junit.xml")]
    lanes = build_lanes([read_progress_log(old)], foreign, {})
    assert [(lane.label, lane.timed) for lane in lanes] == [("shard 1/2", False), ("junit", False)]
    assert [(bar.start, bar.end) for bar in lanes[0].bars] == [(0.0, 2.0), (2.0, 3.0)]
    assert [(bar.node_id, bar.start, bar.end) for bar in lanes[1].bars] == [("c::p", 0.0, 0.25),
                                                                            ("c::q", 0.25, 0.75)]
    assert lanes[0].fixed_before is None and lanes[0].fixed_after is None


def test_the_test_running_when_a_shard_died_is_a_bar_of_its_own(tmp_path: Path) -> None:
    path = _log(tmp_path / "shard-1-of-1.progress.jsonl", "1/1", [("t::a", 1.0, 2.0, "passed")])
    lines = path.read_bytes().splitlines(keepends=True)[:-1]  # no `finish`: killed
    lines.append(encode_event({"event": "start", "nodeid": "t::killer", "at": T0 + 2.5}))
    path.write_bytes(b"".join(lines))
    log = read_progress_log(path)
    assert log.running_when_stopped == "t::killer" and log.unfinished_started_at == {"t::killer": T0 + 2.5}
    (lane,) = build_lanes([log], [], {})
    assert [(bar.node_id, bar.outcome, bar.start) for bar in lane.bars] == [("t::a", "passed", 1.0),
                                                                           ("t::killer", DIED, 2.5)]


def _outside(path: Path, seconds: float, before: float | None) -> None:
    """The `outside` line `sharder run` appends once its pytest has exited (an older sharder wrote no `before`)."""
    event: dict[str, Any] = {"event": "outside", "seconds": seconds, "by": "sharder run"}
    if before is not None:
        event["before"] = before
    with open(path, "ab") as log:
        log.write(encode_event(event))


def test_the_time_off_every_sessions_clock_follows_the_lane_and_the_exits_between_passes_are_not_counted_twice(
        tmp_path: Path) -> None:
    """Pass 1 of a shard: sharder's own start (0.3 s) before pytest and the exit after it (0.2 s); pass 2 starts
    later, its exit 0.4 s. Pass 1's exit is the gap between the sessions, already on the lane's clock: off it are
    0.3 + 0.4 s."""
    parallel = _log(tmp_path / "shard-1-of-1.progress.jsonl", "1/1", [("t::a", 1.0, 2.0, "passed")], finished=2.1)
    heavy = _log(tmp_path / "shard-1-of-1.memory-intensive.progress.jsonl", "1/1", [("t::big", 3.0, 5.0, "passed")],
                 started=T0 + 2.5, finished=5.2)
    _outside(parallel, 0.5, 0.3)
    _outside(heavy, 0.4, 0.0)
    (lane,) = build_lanes([read_progress_log(heavy), read_progress_log(parallel)], [], {})
    assert lane.end == pytest.approx(5.2) and lane.outside_seconds == pytest.approx(0.7)

    alone = _log(tmp_path / "one" / "shard-1-of-2.progress.jsonl", "1/2", [("t::c", 0.5, 1.0, "passed")],
                 finished=1.1)
    older = _log(tmp_path / "one" / "shard-2-of-2.progress.jsonl", "2/2", [("t::d", 0.5, 1.0, "passed")],
                 finished=1.1)
    unmeasured = _log(tmp_path / "two" / "shard-1-of-1.progress.jsonl", "1/1", [("t::e", 0.5, 1.0, "passed")],
                      finished=1.1)
    _outside(alone, 0.6, 0.25)
    _outside(older, 0.45, None)
    lanes = {Path(lane.key).parent.name + "/" + str(lane.shard): lane.outside_seconds
             for lane in build_lanes([read_progress_log(path) for path in (alone, older, unmeasured)], [], {})}
    assert lanes == {"one/1/2": pytest.approx(0.6), "one/2/2": pytest.approx(0.45), "two/1/1": None}
