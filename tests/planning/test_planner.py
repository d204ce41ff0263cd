import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharder.planning.estimate import SIBLING_PRIOR_TESTS, estimate_unknown
from sharder.planning.partition import lower_bound, partition, useful_shards
from sharder.planning.plan import plan_from_json, plan_to_json, render_plan
from sharder.planning.planner import make_plan
from tests.paths import SHARED_BENCH_DURATIONS

BENCH = SHARED_BENCH_DURATIONS


def test_lower_bound_takes_the_largest_of_its_three_terms() -> None:
    assert lower_bound([1.0] * 8, 4) == 2.0  # total / N
    assert lower_bound([10.0, 1.0, 1.0], 2) == 10.0  # longest
    assert lower_bound([5.0, 5.0, 5.0], 2) == 10.0  # p_N + p_(N+1): two of three must share
    assert useful_shards([10.0, 5.0, 5.0]) == 2.0


def test_lpt_reaches_the_bound_on_a_textbook_case() -> None:
    weights = [7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    bins = partition([f"t{i}" for i in range(len(weights))], weights, 2)
    assert sorted(sum(weights[i] for i in b) for b in bins) == [14.0, 14.0]


def test_local_search_beats_plain_lpt_where_lpt_is_known_to_lose() -> None:
    # Graham's example: LPT gives 11 on 2 machines for {3,3,2,2,2}, the optimum is 6 + 6.
    weights = [3.0, 3.0, 2.0, 2.0, 2.0]
    bins = partition([f"t{i}" for i in range(5)], weights, 2)
    assert max(sum(weights[i] for i in b) for b in bins) == 6.0


def test_tests_recorded_at_zero_seconds_are_spread_not_piled_on_one_shard() -> None:
    # gotestsum writes time="0.000000", pytest-split rounds: 0.0 is common and each such test still costs about 1 ms
    assert [len(b) for b in partition([f"t{i}" for i in range(100)], [0.0] * 100, 4)] == [25, 25, 25, 25]
    # beside a heavy test they fill the light shard (10,000 x 1 ms is nothing beside 5000 s), never the bottleneck
    weights = [0.0] * 10_000 + [5000.0]
    bins = partition([f"t{i}" for i in range(len(weights))], weights, 2)
    assert sorted(len(b) for b in bins) == [1, 10_000]
    # among shards of equal load they alternate, and the predicted loads do not move
    weights = [6.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    bins = partition([f"t{i}" for i in range(len(weights))], weights, 2)
    assert sorted(sum(weights[i] for i in b) for b in bins) == [6.0, 6.0]
    assert sorted(len(b) for b in bins) == [3, 8]


def test_estimates_come_from_the_nearest_relatives() -> None:
    known = {
        "tests/a/test_x.py::test_p[1]": 10.0,
        "tests/a/test_x.py::TestK::test_m": 4.0,
        "tests/a/test_y.py::test_q": 2.0,
        "tests/b/test_z.py::test_r": 1.0,
        "tests/b/test_z.py::test_s": 1.0,
    }
    new = [
        "tests/a/test_x.py::test_p[2]",  # same parametrized family
        "tests/a/test_x.py::TestK::test_n",  # same class
        "tests/a/test_y.py::test_new",  # same file
        "tests/a/test_w.py::test_new",  # same directory (mean of tests/a)
        "other/test_v.py::test_new",  # nothing near: median of all
    ]
    estimates = estimate_unknown([*known, *new], known)
    median = 2.0  # of 10, 4, 2, 1, 1
    prior = SIBLING_PRIOR_TESTS
    assert estimates == {
        new[0]: 10.0,  # parametrized cases are taken as they are
        new[1]: pytest.approx((4.0 + prior * median) / (1 + prior)),  # one class mate: weak evidence, shrunk
        new[2]: pytest.approx((2.0 + prior * median) / (1 + prior)),
        new[3]: pytest.approx((16.0 + prior * median) / (3 + prior)),
        new[4]: median,
    }


def test_a_heavy_sibling_does_not_make_a_new_test_look_heavy() -> None:
    # pgmpy: a new test in a file whose only other test takes 34 s; the new one took 0.0001 s.
    known = {f"tests/test_{i}.py::test_x": 0.1 for i in range(20)} | {"tests/test_utils.py::test_big": 34.0}
    estimate = estimate_unknown([*known, "tests/test_utils.py::test_llm"], known)["tests/test_utils.py::test_llm"]
    assert estimate < 34.0 / 5


def test_no_data_at_all_gives_every_test_the_same_weight() -> None:
    plan = make_plan([f"t.py::test_{i}" for i in range(6)], {}, 3)
    assert [len(b.tests) for b in plan.bins] == [2, 2, 2]


node_ids = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).map(
        lambda s: f"tests/t.py::{s}"
    ),
    min_size=0, max_size=60, unique=True,
)
seconds = st.one_of(st.none(), st.just(0.0), st.floats(min_value=0, max_value=1e6), st.just(1e12))


@settings(max_examples=150, deadline=None)
@given(ids=node_ids, data=st.data(), shards=st.integers(min_value=1, max_value=12))
def test_every_id_in_exactly_one_bin_whatever_the_order(ids: list[str], data: st.DataObject, shards: int) -> None:
    known = {}
    for node_id in ids:
        value = data.draw(seconds)
        if value is not None:
            known[node_id] = value
    shuffled = data.draw(st.permutations(ids))
    plan = make_plan(ids, known, shards)
    again = make_plan(shuffled, known, shards)
    placed = [t for b in plan.bins for t in b.tests]
    assert sorted(placed) == sorted(ids)
    assert len(plan.bins) == shards
    assert [set(b.tests) for b in plan.bins] == [set(b.tests) for b in again.bins]
    assert plan.makespan >= plan.lower_bound_seconds * (1 - 1e-9) or not ids
    for shard_bin in plan.bins:  # collection order is kept inside a shard
        assert list(shard_bin.tests) == [t for t in ids if t in set(shard_bin.tests)]


@pytest.mark.parametrize("group_by", ["class", "module"])
def test_grouping_keeps_units_together_unless_too_big(group_by: str) -> None:
    ids = [f"tests/m{m}.py::TestC{c}::test_{t}" for m in range(4) for c in range(3) for t in range(5)]
    known = dict.fromkeys(ids, 1.0)
    plan = make_plan(ids, known, 3, group_by=group_by)
    key = (lambda i: i.rsplit("::", 1)[0]) if group_by == "class" else (lambda i: i.split("::")[0])
    homes: dict[str, set[int]] = {}
    for shard_bin in plan.bins:
        for node_id in shard_bin.tests:
            homes.setdefault(key(node_id), set()).add(shard_bin.shard)
    split = sum(len(shards) > 1 for shards in homes.values())
    assert split == plan.split_units
    if group_by == "class":
        assert split == 0
    assert plan.makespan <= plan.lower_bound_seconds * 1.5


def test_a_module_bigger_than_a_shard_is_split_into_the_fewest_pieces() -> None:
    ids = [f"tests/big.py::test_{i:02d}" for i in range(40)] + [f"tests/small.py::test_{i}" for i in range(4)]
    plan = make_plan(ids, dict.fromkeys(ids, 1.0), 4, group_by="module")
    assert plan.split_units == 1
    assert plan.makespan == pytest.approx(11.0)
    for shard_bin in plan.bins:  # pieces are contiguous runs in collection order
        big = [int(t.rsplit("_", 1)[1]) for t in shard_bin.tests if "big" in t]
        assert big == list(range(big[0], big[0] + len(big))) if big else True


def test_plan_json_round_trips_and_detects_tampering() -> None:
    plan = make_plan(["a.py::x", "a.py::y", "b.py::z"], {"a.py::x": 2.0}, 2)
    document = plan_to_json(plan)
    assert plan_from_json(json.loads(json.dumps(document))) == plan
    document["bins"][0]["tests"].append("b.py::extra")
    with pytest.raises(Exception, match="edited"):
        plan_from_json(document)


@pytest.mark.skipif(not BENCH.exists(), reason="shared bench data is not beside this checkout")
def test_real_suites_plan_within_a_tenth_of_a_percent_of_the_bound() -> None:
    for path in sorted(BENCH.glob("*.json")):
        durations = json.loads(path.read_text())
        for shards in (2, 8, 32):
            plan = make_plan(list(durations), durations, shards)
            assert plan.makespan <= plan.lower_bound_seconds * 1.001, (path.name, shards)
            assert math.isclose(plan.total_tests, len(durations))


@settings(max_examples=60, deadline=None)
@given(seconds=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.5]), min_size=1, max_size=30),
       modules=st.integers(1, 4), extra=st.integers(1, 50), group_by=st.sampled_from(["test", "class", "module", "auto"]))
def test_more_shards_than_tests_plan_the_tests_as_n_equal_to_their_count_would(
    seconds: list[float], modules: int, extra: int, group_by: str
) -> None:
    """Past one shard per test, more shards change nothing but the number of empty ones: the same bins, the same
    bound, the rest empty and predicted at zero (planning over them is what made 999,999 shards cost a minute)."""
    ids = [f"tests/test_m{i % modules}.py::test_{i}" for i in range(len(seconds))]
    known = dict(zip(ids, seconds, strict=True))
    setups = {node_id: 0.25 for node_id in ids[::3]}
    exact = make_plan(ids, known, len(ids), group_by=group_by, setup_seconds=setups)
    more = make_plan(ids, known, len(ids) + extra, group_by=group_by, setup_seconds=setups)
    assert more.bins[: len(ids)] == exact.bins
    assert all(not b.tests and b.predicted_seconds == 0.0 for b in more.bins[len(ids):])
    assert [b.shard for b in more.bins] == list(range(1, len(ids) + extra + 1))
    assert (more.lower_bound_seconds, more.useful_shards, more.split_units, more.fixture_cost_seconds) == (
        exact.lower_bound_seconds, exact.useful_shards, exact.split_units, exact.fixture_cost_seconds)


def test_an_empty_bin_round_trips_through_plan_json_on_one_line() -> None:
    plan = make_plan(["t.py::a", "t.py::b"], {"t.py::a": 1.0, "t.py::b": 2.0}, 5)
    text = render_plan(plan)
    assert '  {"shard": 5, "predicted_seconds": 0.0, "estimated_tests": 0, "tests": []}' in text.splitlines()
    assert plan_from_json(json.loads(text)) == plan
