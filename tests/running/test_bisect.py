"""The pollution search's decisions, exhaustively over where the polluters sit (`sharder.running.bisect` is pure: a trial is
a callback, here a model of test pollution; tests/running/test_replay.py runs the same search with real pytest processes)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest

from sharder.running import bisect as pollution

SHARD = [f"tests/test_{n:02d}.py::test_it[a::{n}]" for n in range(40)]


class Model:
    """The victim fails when every test of `culprits` ran before it; counts runs and checks the order they keep."""

    def __init__(self, predecessors: Sequence[str], culprits: set[str], *, fails_alone: bool = False) -> None:
        self.position = {node_id: index for index, node_id in enumerate(predecessors)}
        self.culprits = culprits
        self.fails_alone = fails_alone
        self.runs = 0
        self.lines: list[str] = []

    def fails(self, preceding: Sequence[str], label: str) -> bool:
        self.runs += 1
        positions = [self.position[node_id] for node_id in preceding]
        assert positions == sorted(positions), f"{label} lost the shard's order"
        return self.fails_alone or (bool(self.culprits) and self.culprits <= set(preceding))

    def confirm(self, culprits: Sequence[str]) -> bool:
        return self.fails(culprits, "confirm")

    def find(self, predecessors: Sequence[str]) -> pollution.Verdict:
        self.runs += 1  # the run of the victim alone, which the caller makes
        return pollution.find_polluter(predecessors, self.fails, self.lines.append,
                                       fails_alone=self.fails_alone, confirm=self.confirm)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 17, 31, 32, 33, 40])
def test_one_polluter_is_named_within_log2_plus_3_runs_wherever_it_is(size: int) -> None:
    predecessors = SHARD[:size]
    for polluter in predecessors:
        model = Model(predecessors, {polluter})
        assert model.find(predecessors) == pollution.Verdict(pollution.POLLUTER, (polluter,))
        assert model.runs <= pollution.single_polluter_bound(size) == math.ceil(math.log2(size)) + 3


def test_progress_says_which_step_of_how_many_and_what_is_left() -> None:
    model = Model(SHARD, {SHARD[7]})
    model.find(SHARD)
    steps = [line for line in model.lines if line.startswith("step ")]
    assert steps[:3] == ["step 1/6: 40 candidates left", "step 2/6: 20 candidates left", "step 3/6: 10 candidates left"]


@pytest.mark.parametrize("size", [2, 5, 12])
def test_two_tests_needed_together_are_both_named(size: int) -> None:
    predecessors = SHARD[:size]
    for pair in itertools.combinations(predecessors, 2):
        model = Model(predecessors, set(pair))
        verdict = model.find(predecessors)
        assert verdict == pollution.Verdict(pollution.POLLUTER_SET, pair), pair
        assert any("no single test makes it fail" in line for line in model.lines)


def test_three_tests_needed_together_cost_far_fewer_runs_than_trying_each() -> None:
    culprits = (SHARD[3], SHARD[19], SHARD[36])
    model = Model(SHARD, set(culprits))
    assert model.find(SHARD) == pollution.Verdict(pollution.POLLUTER_SET, culprits)
    assert model.runs < len(SHARD)


def test_a_victim_failing_alone_or_not_failing_after_its_predecessors_stops_the_search() -> None:
    alone = Model(SHARD, set(), fails_alone=True)
    assert alone.find(SHARD).kind == pollution.FAILS_ALONE
    assert alone.runs == 1
    clean = Model(SHARD, set())
    assert clean.find(SHARD).kind == pollution.NOT_REPRODUCED
    assert clean.runs == 2


def test_a_failure_that_does_not_come_back_is_called_intermittent() -> None:
    model = Model(SHARD, {SHARD[5]})
    verdict = pollution.find_polluter(SHARD, model.fails, model.lines.append, fails_alone=False,
                                      confirm=lambda culprits: False)
    assert verdict.kind == pollution.INTERMITTENT


def test_the_search_never_runs_the_same_list_twice() -> None:
    """(The confirmation is apart: it runs the command the user will be shown, a different command.)"""
    seen: list[tuple[str, ...]] = []

    def fails(preceding: Sequence[str], label: str) -> bool:
        seen.append(tuple(preceding))
        return {SHARD[2], SHARD[30]} <= set(preceding)

    verdict = pollution.find_polluter(SHARD, fails, lambda line: None, fails_alone=False,
                                      confirm=lambda culprits: {SHARD[2], SHARD[30]} <= set(culprits))
    assert verdict.culprits == (SHARD[2], SHARD[30])
    assert len(seen) == len(set(seen))


def test_bisect_steps() -> None:
    assert [pollution.bisect_steps(n) for n in (0, 1, 2, 3, 4, 5, 16, 17)] == [0, 0, 1, 2, 2, 3, 4, 5]
