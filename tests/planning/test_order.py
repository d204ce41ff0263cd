"""The order within a shard (`sharder.planning.order`): properties over generated shards, and a few exact cases.

Every property holds for every plan the planner makes: the order of each shard is a permutation of that shard
(membership never changes), files and classes that are contiguous in the plan stay contiguous, and at every level
of the tree a group holding a previously failed or new test runs before any sibling holding none.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharder.core.errors import SharderError
from sharder.planning.order import FAILED_FIRST, FAST_FIRST, PLAN, check_order, ordered, scopes_of
from sharder.planning.planner import make_plan

_names = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def suites(draw: st.DrawFn) -> list[str]:
    """Collected ids in collection order: files, optional (nested) classes, functions, sometimes parametrized with
    `::` inside the parameters. Collection order keeps every file and class contiguous, as pytest's does."""
    ids: list[str] = []
    for file_index in range(draw(st.integers(1, 4))):
        path = f"tests/t{file_index}.py"
        for _ in range(draw(st.integers(1, 3))):
            classes = draw(st.lists(_names.map(str.upper), max_size=2, unique=True))
            scope = "::".join([path, *classes])
            for function in draw(st.lists(_names, min_size=1, max_size=3, unique=True)):
                params = draw(st.sampled_from(["", "[1]", "[x::y]"]))
                ids.append(f"{scope}::test_{function}{params}")
    return list(dict.fromkeys(ids))


@st.composite
def shard_cases(draw: st.DrawFn) -> tuple[list[str], dict[str, float], set[str], int]:
    ids = draw(suites())
    seconds = {node_id: draw(st.floats(0, 50)) for node_id in ids if draw(st.booleans())}
    failed = {node_id for node_id in ids if draw(st.integers(0, 4)) == 0}
    return ids, seconds, failed, draw(st.integers(1, 4))


def _groups(ids: list[str]) -> set[str]:
    return {scope for node_id in ids for scope in scopes_of(node_id)}


def _contiguous(ids: list[str], scope: str) -> bool:
    positions = [index for index, node_id in enumerate(ids) if scope in scopes_of(node_id)]
    return positions == list(range(positions[0], positions[-1] + 1)) if positions else True


def _urgent(node_id: str, seconds: dict[str, float], failed: set[str]) -> bool:
    return node_id in failed or node_id not in seconds


@settings(max_examples=150, deadline=None)
@given(shard_cases(), st.sampled_from([PLAN, FAILED_FIRST, FAST_FIRST]))
def test_every_shard_keeps_its_tests_and_its_groups_stay_contiguous(
    case: tuple[list[str], dict[str, float], set[str], int], order: str,
) -> None:
    ids, seconds, failed, shards = case
    plan = make_plan(ids, seconds, shards)
    for shard_bin in plan.bins:
        planned = list(shard_bin.tests)
        result = ordered(planned, order, seconds=seconds, failed=failed)
        assert sorted(result) == sorted(planned)  # membership and count: nothing lost, added or doubled
        for scope in _groups(planned):
            if _contiguous(planned, scope):
                assert _contiguous(result, scope), (scope, result)


@settings(max_examples=150, deadline=None)
@given(shard_cases())
def test_failed_first_runs_failed_and_new_tests_first_at_every_level(
    case: tuple[list[str], dict[str, float], set[str], int],
) -> None:
    ids, seconds, failed, shards = case
    for shard_bin in make_plan(ids, seconds, shards).bins:
        result = ordered(list(shard_bin.tests), FAILED_FIRST, seconds=seconds, failed=failed)
        urgent = [node_id for node_id in result if _urgent(node_id, seconds, failed)]
        if urgent:
            assert _urgent(result[0], seconds, failed)
        # Two siblings (tests, or groups, under one parent): one holding an urgent test never follows one that
        # holds none. A member of the tree is a test, or the group a test belongs to one level below the parent.
        for parent in ["", *_groups(result)]:
            members: list[str] = []
            holds_urgent: dict[str, bool] = {}
            for node_id in result:
                scopes = ("", *scopes_of(node_id))
                if parent not in scopes:
                    continue
                depth = scopes.index(parent)
                member = scopes[depth + 1] if depth + 1 < len(scopes) else node_id
                if member not in holds_urgent:
                    members.append(member)
                    holds_urgent[member] = False
                holds_urgent[member] |= _urgent(node_id, seconds, failed)
            flags = [holds_urgent[member] for member in members]
            assert flags == sorted(flags, reverse=True), (parent, members, flags)
        # Inside the urgent ones and inside the rest, plan order is kept among siblings of one class or file.
        plain = [node_id for node_id in result if not _urgent(node_id, seconds, failed)]
        by_parent: dict[tuple[str, ...], list[str]] = {}
        for node_id in plain:
            by_parent.setdefault(scopes_of(node_id), []).append(node_id)
        for tests in by_parent.values():
            assert tests == [node_id for node_id in shard_bin.tests if node_id in set(tests)]


@settings(max_examples=100, deadline=None)
@given(shard_cases())
def test_fast_first_puts_the_shortest_test_of_each_class_first(
    case: tuple[list[str], dict[str, float], set[str], int],
) -> None:
    ids, seconds, _, _ = case
    result = ordered(ids, FAST_FIRST, seconds=seconds)
    known = sorted(seconds.values())
    default = known[len(known) // 2] if len(known) % 2 else (sum(known[len(known) // 2 - 1:len(known) // 2 + 1]) / 2
                                                             if known else 0.0)
    by_parent: dict[tuple[str, ...], list[float]] = {}
    for node_id in result:
        by_parent.setdefault(scopes_of(node_id), []).append(seconds.get(node_id, default))
    for times in by_parent.values():
        assert times == sorted(times)


def test_the_same_input_gives_the_same_order() -> None:
    ids = [f"tests/t{i % 3}.py::test_{i}" for i in range(30)]
    seconds = {node_id: float(len(node_id) % 7) for node_id in ids}
    first = ordered(ids, FAST_FIRST, seconds=seconds)
    assert ordered(list(ids), FAST_FIRST, seconds=dict(seconds)) == first


def test_failed_first_on_a_small_shard() -> None:
    ids = ["a.py::t1", "a.py::C::t2", "a.py::t3", "b.py::t4", "b.py::t5", "c.py::t6[x::y]"]
    seconds = dict.fromkeys(["a.py::t1", "a.py::C::t2", "a.py::t3", "b.py::t4", "c.py::t6[x::y]"], 1.0)
    # a.py holds the failed t3 (first, its file with it); b.py holds the new t5; c.py nothing urgent
    assert ordered(ids, FAILED_FIRST, seconds=seconds, failed={"a.py::t3"}) == [
        "a.py::t3", "a.py::t1", "a.py::C::t2", "b.py::t5", "b.py::t4", "c.py::t6[x::y]"]


def test_fast_first_orders_files_by_their_total() -> None:
    ids = ["a.py::t1", "a.py::t2", "b.py::t3", "c.py::t4"]
    seconds = {"a.py::t1": 5.0, "a.py::t2": 0.1, "b.py::t3": 1.0, "c.py::t4": 2.0}
    assert ordered(ids, FAST_FIRST, seconds=seconds) == ["b.py::t3", "c.py::t4", "a.py::t2", "a.py::t1"]


def test_an_unknown_order_is_refused() -> None:
    assert check_order("plan") == "plan"
    with pytest.raises(SharderError, match="expected one of plan, failed-first, fast-first"):
        check_order("slowest")
