"""plan.json's `selected_by`: what narrowed the collection a plan was made from, kept and checked."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.planning.plan import plan_from_json, plan_to_json, read_plan, write_plan
from sharder.planning.planner import make_plan

IDS = ["t.py::a", "t.py::b", "t.py::c"]


@pytest.mark.parametrize("selected_by", [(), ("-k fast", "paths tests/unit")])
def test_selected_by_round_trips_and_leaves_the_plan_id_alone(selected_by: tuple[str, ...], tmp_path: Path) -> None:
    plan = make_plan(IDS, {}, 2)
    marked = replace(plan, selected_by=selected_by)
    write_plan(tmp_path / "plan.json", marked)
    again = read_plan(tmp_path / "plan.json")
    assert again.selected_by == selected_by and again.plan_id == plan.plan_id


def test_a_plan_of_an_older_sharder_does_not_say() -> None:
    document = plan_to_json(make_plan(IDS, {}, 2))
    assert "selected_by" not in document and plan_from_json(document).selected_by is None


@pytest.mark.parametrize("value", ["-k fast", [""], [1], {"k": "x"}])
def test_a_malformed_selected_by_is_refused(value: object) -> None:
    document = plan_to_json(make_plan(IDS, {}, 2))
    document["selected_by"] = value
    with pytest.raises(SharderError, match="'selected_by'"):
        plan_from_json(json.loads(json.dumps(document)), "plan.json")
