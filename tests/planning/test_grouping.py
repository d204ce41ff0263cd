"""Grouped plans: modules and classes kept together unless too big, fixture costs of splits, `auto`."""

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharder.core.nodeid import module_of
from sharder.planning.grouping import fixture_costs
from sharder.planning.plan import plan_from_json, plan_to_json
from sharder.planning.planner import GROUP_BY_CHOICES, make_plan


def _homes(plan_bins: object, key: object) -> dict[str, set[int]]:
    homes: dict[str, set[int]] = {}
    for shard_bin in plan_bins:  # type: ignore[attr-defined]
        for node_id in shard_bin.tests:
            homes.setdefault(key(node_id), set()).add(shard_bin.shard)  # type: ignore[operator]
    return homes


def _charges(plan_bins: object, costs: dict[str, tuple[float, str]]) -> list[float]:
    """Independent recount of the fixture model: a module's cost in every shard holding it but not its payer."""
    charges = []
    for shard_bin in plan_bins:  # type: ignore[attr-defined]
        held = set(shard_bin.tests)
        present = {module_of(t) for t in held}
        charges.append(sum(cost for module, (cost, payer) in costs.items() if module in present and payer not in held))
    return charges


# Suites with odd ids: parametrization holding `::` and `/`, nested classes, unicode, module-level functions.
_names = st.sampled_from(["test_a", "test_b[x::y]", "test_c[http://h/p]", "test_ü[ß]", "test_d[1-2]", "test_e"])
_classes = st.sampled_from(["", "::TestA", "::TestA::Inner", "::TestΩ"])
_modules = st.sampled_from(["tests/a.py", "tests/sub/b.py", "tests/ç.py", "other/test_x.py"])
_ids = st.lists(st.tuples(_modules, _classes, _names, st.integers(0, 3)).map(
    lambda p: f"{p[0]}{p[1]}::{p[2]}{p[3] or ''}"), min_size=0, max_size=40, unique=True)
_seconds = st.one_of(st.none(), st.just(0.0), st.floats(min_value=0, max_value=500), st.just(1e9))


@settings(max_examples=120, deadline=None)
@given(ids=_ids, data=st.data(), shards=st.integers(min_value=1, max_value=9),
       group_by=st.sampled_from(GROUP_BY_CHOICES))
def test_every_id_in_one_bin_and_the_plan_ignores_input_order(
    ids: list[str], data: st.DataObject, shards: int, group_by: str
) -> None:
    known = {i: s for i in ids if (s := data.draw(_seconds)) is not None}
    setup = {i: data.draw(st.floats(min_value=0, max_value=50)) for i in ids if data.draw(st.booleans())}
    shuffled = data.draw(st.permutations(ids))
    plan = make_plan(ids, known, shards, group_by=group_by, setup_seconds=setup)
    again = make_plan(shuffled, dict(reversed(known.items())), shards, group_by=group_by,
                      setup_seconds=dict(reversed(setup.items())))
    placed = [t for b in plan.bins for t in b.tests]
    assert sorted(placed) == sorted(ids) and len(placed) == len(set(placed))
    assert len(plan.bins) == shards
    assert [set(b.tests) for b in plan.bins] == [set(b.tests) for b in again.bins]
    assert [b.predicted_seconds for b in plan.bins] == [b.predicted_seconds for b in again.bins]
    assert (plan.split_units, plan.fixture_cost_seconds) == (again.split_units, again.fixture_cost_seconds)
    for shard_bin in plan.bins:  # collection order inside a shard
        members = set(shard_bin.tests)
        assert list(shard_bin.tests) == [t for t in ids if t in members]
    if group_by in ("module", "auto"):
        assert plan.split_units == sum(len(s) > 1 for s in _homes(plan.bins, module_of).values())
    costs = fixture_costs(ids, setup)
    expected = _charges(plan.bins, {m: (c.seconds, ids[c.payer]) for m, c in costs.items()})
    assert plan.fixture_cost_seconds == pytest.approx(sum(expected), abs=1e-6)
    assert plan.makespan >= plan.lower_bound_seconds * (1 - 1e-9) or not ids


def test_fixture_cost_is_the_largest_setup_over_the_median_paid_by_that_test() -> None:
    ids = ["m.py::test_1", "m.py::test_2", "m.py::test_3", "n.py::test_1", "solo.py::test_1"]
    setup = {"m.py::test_1": 0.1, "m.py::test_2": 4.1, "m.py::test_3": 0.2, "n.py::test_1": 1.0,
             "solo.py::test_1": 9.0}
    costs = fixture_costs(ids, setup)
    assert set(costs) == {"m.py"}  # n.py has one timed test, solo.py one test: nothing to compare
    assert costs["m.py"].seconds == pytest.approx(3.9)
    assert ids[costs["m.py"].payer] == "m.py::test_2"  # not the first collected: the one that paid


def _suite(modules: int, tests: int, seconds: float, fixture: float) -> tuple[list[str], dict[str, float],
                                                                              dict[str, float]]:
    """`modules` modules of `tests` tests; each module's first test also pays `fixture` seconds of setup."""
    ids = [f"tests/m{m}.py::test_{t:02d}" for m in range(modules) for t in range(tests)]
    known = dict.fromkeys(ids, seconds)
    setup = dict.fromkeys(ids, 0.0)
    for m in range(modules):
        known[f"tests/m{m}.py::test_00"] += fixture
        setup[f"tests/m{m}.py::test_00"] = fixture
    return ids, known, setup


def test_auto_splits_only_the_one_module_needed_when_whole_modules_pack_badly() -> None:
    ids, known, _ = _suite(3, 20, 0.3, 0.0)  # three 6 s modules on two shards: whole modules give 12 s, not 9 s
    whole = make_plan(ids, known, 2, group_by="module")
    auto = make_plan(ids, known, 2, group_by="auto")
    assert whole.makespan == pytest.approx(12.0) and whole.split_units == 0
    assert auto.makespan == pytest.approx(9.0) and auto.split_units == 1
    homes = _homes(auto.bins, module_of)
    split_module = next(m for m, shards in homes.items() if len(shards) > 1)
    for shard_bin in auto.bins:  # pieces are contiguous runs of the split module
        numbers = [int(t[-2:]) for t in shard_bin.tests if t.startswith(split_module)]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_auto_keeps_a_module_whole_when_its_fixture_costs_more_than_splitting_gains() -> None:
    ids, known, setup = _suite(3, 20, 0.3, 5.0)
    for shards in (4, 8):
        module = make_plan(ids, known, shards, group_by="module", setup_seconds=setup)
        auto = make_plan(ids, known, shards, group_by="auto", setup_seconds=setup)
        assert module.split_units == 3 and module.fixture_cost_seconds > 0
        assert auto.split_units == 0 and auto.fixture_cost_seconds == 0
        assert auto.makespan < module.makespan  # the repeated fixtures made the split plan slower, not faster


def test_auto_splits_when_the_fixture_is_cheap_and_charges_it_to_the_extra_shards() -> None:
    ids, known, setup = _suite(3, 20, 0.3, 0.5)
    plan = make_plan(ids, known, 2, group_by="auto", setup_seconds=setup)
    assert plan.split_units == 1
    assert plan.fixture_cost_seconds == pytest.approx(0.5)
    assert math.fsum(b.predicted_seconds for b in plan.bins) == pytest.approx(math.fsum(known.values()) + 0.5)


def test_test_level_plans_report_the_fixtures_they_repeat() -> None:
    ids, known, setup = _suite(2, 10, 1.0, 3.0)
    plan = make_plan(ids, known, 4, setup_seconds=setup)
    spread = sum(len(s) - 1 for s in _homes(plan.bins, module_of).values())
    assert plan.split_units == 0  # tests are the units and no test is split
    assert plan.fixture_cost_seconds == pytest.approx(3.0 * spread) and spread > 0


def test_class_grouping_keeps_classes_whole() -> None:
    ids = [f"tests/m{m}.py::TestC{c}::test_{t}" for m in range(3) for c in range(3) for t in range(4)]
    plan = make_plan(ids, dict.fromkeys(ids, 1.0), 4, group_by="class")
    assert all(len(s) == 1 for s in _homes(plan.bins, lambda i: i.rsplit("::", 1)[0]).values())
    assert plan.split_units == 0


def test_the_fixture_cost_travels_in_plan_json() -> None:
    ids, known, setup = _suite(3, 20, 0.3, 0.5)
    plan = make_plan(ids, known, 2, group_by="auto", setup_seconds=setup)
    document = json.loads(json.dumps(plan_to_json(plan)))
    assert document["split_units"] == 1 and document["fixture_cost_seconds"] == pytest.approx(0.5)
    assert plan_from_json(document).fixture_cost_seconds == pytest.approx(0.5)


def test_sharder_plan_shows_splits_and_their_fixture_cost(tmp_path: Path, run_sharder: object) -> None:
    ids, known, setup = _suite(3, 20, 0.3, 0.5)
    records = {i: {"seconds": known[i], "runs": 2, "setup_seconds": setup[i]} for i in ids}
    (tmp_path / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1,
                                                         "tests": records}))
    result = run_sharder(["plan", "--shards", "2", "--from-durations", "--group-by", "auto", "--json"],  # type: ignore[operator]
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["split_units"] == 1 and summary["fixture_cost_seconds"] == pytest.approx(0.5)
    assert "1 module groups were split over several shards" in result.stderr
    assert "fixture cost of splitting: 0.5 s" in result.stderr
    written = json.loads((tmp_path / "plan.json").read_text())
    assert written["group_by"] == "auto" and written["fixture_cost_seconds"] == pytest.approx(0.5)
