"""`sharder plan`'s table: one row per shard, and one line for each run of empty shards."""

from __future__ import annotations

from sharder.commands.plan_command import render_plan_table
from sharder.planning.plan import Plan, ShardBin
from sharder.planning.planner import make_plan


def _rows(table: str) -> list[str]:
    return table.split("\n\n")[0].splitlines()[1:]


def test_a_run_of_empty_shards_is_one_line() -> None:
    plan = make_plan(["t.py::a", "t.py::b", "t.py::c"], {"t.py::a": 3.0, "t.py::b": 2.0, "t.py::c": 1.0}, 10)
    rows = _rows(render_plan_table(plan))
    assert [row.split()[0] for row in rows[:3]] == ["1/10", "2/10", "3/10"]
    assert rows[3:] == ["shards 4-10: empty"]


def test_a_single_empty_shard_keeps_its_row_and_runs_in_the_middle_stay_in_place() -> None:
    bins = (ShardBin(1, 2.0, ("a",)), ShardBin(2, 0.0, ()), ShardBin(3, 1.0, ("b",)), ShardBin(4, 0.0, ()),
            ShardBin(5, 0.0, ()), ShardBin(6, 1.0, ("c",)))
    plan = Plan(shards=6, group_by="test", lower_bound_seconds=2.0, useful_shards=2.0, durations_sha256="",
                bins=bins)
    rows = _rows(render_plan_table(plan))
    assert [row.split()[:2] for row in rows] == [["1/6", "1"], ["2/6", "0"], ["3/6", "1"], ["shards", "4-5:"],
                                                  ["6/6", "1"]]
    assert rows[3] == "shards 4-5: empty"
    # the rows around a run keep the table's alignment
    assert len({len(row) for row in rows if not row.startswith("shards")}) == 1


def test_a_plan_without_empty_shards_prints_every_row() -> None:
    plan = make_plan([f"t.py::{i}" for i in range(8)], {f"t.py::{i}": 1.0 for i in range(8)}, 4)
    assert [row.split()[0] for row in _rows(render_plan_table(plan))] == ["1/4", "2/4", "3/4", "4/4"]
