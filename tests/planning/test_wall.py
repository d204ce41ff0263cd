"""The wall model in the planner: imports paid per shard that collects a file, the fixed cost once per shard."""

from __future__ import annotations

import pytest

from sharder.durations.costs import SuiteCosts
from sharder.planning.plan import plan_from_json, plan_to_json
from sharder.planning.planner import make_plan
from sharder.planning.wall import WallModel, import_charges

FILES = [f"tests/test_{index}.py" for index in range(8)]
IDS = [f"{file}::test_{case}" for file in FILES for case in range(10)]
SECONDS = dict.fromkeys(IDS, 0.05)  # 0.5 s of tests per file, 4 s in all
HEAVY_IMPORTS = SuiteCosts(startup_seconds=1.0, files=dict.fromkeys(FILES, 1.0))


def _files_per_shard(plan) -> list[set[str]]:  # type: ignore[no-untyped-def]
    return [{node_id.partition("::")[0] for node_id in shard_bin.tests} for shard_bin in plan.bins]


def test_a_test_level_plan_pays_every_files_import_in_every_shard() -> None:
    plan = make_plan(IDS, SECONDS, 4, group_by="test", costs=HEAVY_IMPORTS)
    for shard_bin, files in zip(plan.bins, _files_per_shard(plan), strict=True):
        assert shard_bin.predicted_wall_seconds == pytest.approx(1.0 + len(files) * 1.0 + shard_bin.predicted_seconds)
    assert plan.fixed_seconds == 1.0


def test_auto_keeps_import_heavy_modules_whole_and_predicts_a_shorter_wall() -> None:
    by_test = make_plan(IDS, SECONDS, 4, group_by="test", costs=HEAVY_IMPORTS)
    auto = make_plan(IDS, SECONDS, 4, group_by="auto", costs=HEAVY_IMPORTS)
    files = _files_per_shard(auto)
    assert sum(map(len, files)) == len(FILES)  # each file in exactly one shard: imported once
    assert auto.wall_makespan == pytest.approx(1.0 + 2 * (1.0 + 0.5))
    assert (auto.wall_makespan or 0) < (by_test.wall_makespan or 0)


def test_auto_still_splits_a_module_whose_tests_outweigh_its_import() -> None:
    ids = [f"tests/test_big.py::test_{case}" for case in range(40)] + ["tests/test_small.py::test_0"]
    seconds = dict.fromkeys(ids, 1.0)
    costs = SuiteCosts(files={"tests/test_big.py": 0.5, "tests/test_small.py": 0.5})
    plan = make_plan(ids, seconds, 4, group_by="auto", costs=costs)
    assert all(shard_bin.tests for shard_bin in plan.bins)
    assert (plan.wall_makespan or 0) < 41 / 2  # far below two shards' worth


def test_without_costs_the_plan_is_of_test_time_as_before() -> None:
    plan = make_plan(IDS, SECONDS, 4, group_by="auto")
    assert not plan.predicts_wall and plan.wall_makespan is None
    assert all(shard_bin.predicted_wall_seconds is None for shard_bin in plan.bins)


def test_predicted_walls_survive_plan_json() -> None:
    plan = make_plan(IDS, SECONDS, 3, group_by="auto", costs=HEAVY_IMPORTS)
    again = plan_from_json(plan_to_json(plan))
    assert again.fixed_seconds == plan.fixed_seconds
    assert [b.predicted_wall_seconds for b in again.bins] == pytest.approx([b.predicted_wall_seconds for b in plan.bins])


def test_an_unrecorded_file_costs_the_median_import() -> None:
    model = WallModel.of(SuiteCosts(files={"a.py": 1.0, "b.py": 3.0, "c.py": 2.0}))
    assert model.import_seconds("new.py") == 2.0
    assert import_charges(["a.py", "a.py", "b.py"], [0, 1, 1], 2, {"a.py": 1.0, "b.py": 3.0}) == [1.0, 4.0]
