"""The fast paths of a large `sharder plan` must read and write exactly what the plain paths do."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharder.core.errors import SharderError
from sharder.durations import store
from sharder.durations.planning_input import PlanningInput, load_planning_input
from sharder.planning.plan import plan_to_json, render_plan
from sharder.planning.planner import GROUP_BY_CHOICES, make_plan

_good = st.floats(min_value=0, max_value=1e6)
_value = st.one_of(_good, st.integers(-2, 3), st.none(), st.booleans(), st.just("1.0"), st.just(-0.5),
                   st.just(1e400), st.lists(st.integers(), max_size=1))
_node_id = st.one_of(st.just(""), st.text(min_size=1, max_size=8).map(lambda s: f"t.py::{s}"))
_record = st.one_of(
    st.fixed_dictionaries({"seconds": _good}, optional={"runs": st.integers(1, 9), "setup_seconds": _good,
                                                        "peak_rss_mb": _good}),
    st.fixed_dictionaries({}, optional={"seconds": _value, "runs": _value, "setup_seconds": _value,
                                        "peak_rss_mb": _value, "other": _value}),
    _value,
)
# The store's history fields (`sharder.durations.history`), well-formed and not.
_history = st.fixed_dictionaries({}, optional={
    "absorbed": st.one_of(st.lists(st.text(max_size=6), max_size=3), _value),
    "last_update": st.one_of(
        st.fixed_dictionaries({"command": st.sampled_from(["rebalance", ""])}, optional={
            "observed": st.integers(-1, 3), "pruned": _value,
            "selected_by": st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=2))}),
        _value),
})
_documents = st.one_of(
    st.dictionaries(_node_id, st.one_of(_good, _good, _value), max_size=6),
    st.builds(lambda tests, version, history: {"format": "sharder-durations", "version": version, **history,
                                               "tests": tests},
              st.dictionaries(_node_id, st.one_of(_record, _record, _record), max_size=6),
              st.sampled_from([1, 1, 1, 2]), _history),
    st.lists(st.tuples(_node_id, _good).map(list), max_size=4),
)


def _outcome(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except SharderError as exc:
        return ("error", str(exc))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=_documents)
def test_planning_input_matches_the_full_reader(document: object, tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    full = _outcome(lambda: PlanningInput.of(store.load_durations(path)))
    fast = _outcome(lambda: load_planning_input(path))
    assert fast == full


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '{"format": "sharder-durations", "version": 1, "tests": '
                                  '{"a": {"seconds": 1.0, "seconds": 2.0}}}', '{"a": NaN}', "[1]", "nope"])
def test_planning_input_rejects_what_the_full_reader_rejects(text: str, tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SharderError) as fast:
        load_planning_input(path)
    with pytest.raises(SharderError) as full:
        store.load_durations(path)
    assert str(fast.value) == str(full.value)


_ids = st.lists(st.text(min_size=1, max_size=10).map(lambda s: f"tests/t.py::{s}"), max_size=25, unique=True)


@settings(max_examples=150, deadline=None)
@given(ids=_ids, shards=st.integers(1, 6), group_by=st.sampled_from(GROUP_BY_CHOICES),
       extra=st.dictionaries(st.sampled_from(["tests", "note"]), st.one_of(st.just([]), st.text(max_size=5)),
                             max_size=1))
def test_plan_rendering_is_byte_for_byte_json_dumps(ids: list[str], shards: int, group_by: str,
                                                    extra: dict[str, object]) -> None:
    """Byte for byte what json.dumps(indent=1) writes, but for empty bins, which take one line each (as
    json.dumps writes them without indent): the same JSON document either way."""
    plan = make_plan(ids, {i: float(n) for n, i in enumerate(ids)}, shards, group_by=group_by)
    plan.extra.update(extra)
    indented = json.dumps(plan_to_json(plan), indent=1, ensure_ascii=False)
    rendered = render_plan(plan)
    assert json.loads(rendered) == plan_to_json(plan)
    if all(shard_bin.tests for shard_bin in plan.bins):
        assert rendered == indented
    else:
        compacted = json.dumps(plan_to_json(plan), indent=1, ensure_ascii=False)
        for shard_bin in plan.bins:
            if not shard_bin.tests:
                one_line = json.dumps({"shard": shard_bin.shard, "predicted_seconds": 0.0, "estimated_tests": 0,
                                       "tests": []})
                compacted = compacted.replace(json.dumps(json.loads(one_line), indent=1).replace("\n", "\n  "),
                                              one_line, 1)
        assert rendered == compacted


def test_a_run_on_other_hardware_replaces_the_timings_instead_of_blending() -> None:
    old = store.Durations({f"t{i}": store.TestTiming(float(i + 1), peak_rss_mb=100.0) for i in range(10)})
    faster = {f"t{i}": store.Observation((i + 1) * 0.4, peak_rss_mb=50.0) for i in range(10)}  # 2.5x faster
    new = store.updated(old, faster)
    assert [new.tests[f"t{i}"].seconds for i in range(10)] == pytest.approx([(i + 1) * 0.4 for i in range(10)])
    assert new.tests["t0"].peak_rss_mb == pytest.approx(75.0)  # memory does not change with the machine
    noisy = {f"t{i}": store.Observation((i + 1) * 1.2) for i in range(10)}  # within the factor: blended
    assert store.updated(old, noisy).tests["t9"].seconds == pytest.approx(11.0)


def test_a_lone_outlier_is_still_only_blended() -> None:
    old = store.Durations({f"t{i}": store.TestTiming(1.0) for i in range(10)})
    few = {f"t{i}": store.Observation(10.0) for i in range(store.REGIME_CHANGE_MIN_TESTS - 1)}
    assert store.updated(old, few).tests["t0"].seconds == pytest.approx(5.5)


def test_times_keyed_by_junit_classname_are_adopted_and_exact_ids_win() -> None:
    from sharder.durations.foreign_ids import adopt_foreign_keys

    ids = ["tests/io/test_x.py::TestA::TestB::test_b[a::b/c]", "tests/test_y.py::test_y", "tests/test_z.py::test_z"]
    known = {"tests.io.test_x.TestA.TestB::test_b[a::b/c]": 4.0, "tests.test_y::test_y": 9.0,
             "tests/test_y.py::test_y": 2.0}
    adopted = adopt_foreign_keys(ids, known)
    assert adopted[ids[0]] == 4.0 and adopted[ids[1]] == 2.0 and ids[2] not in adopted
    exact = {node_id: 1.0 for node_id in ids}
    assert adopt_foreign_keys(ids, exact) is exact
