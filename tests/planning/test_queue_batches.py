"""The batches a queue run is seeded with (pure): whole units, longest first, bounded, shrinking, few."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharder.planning.queue_batches import (
    FACTOR,
    MIN_BATCH_SECONDS,
    PER_TEST_SECONDS,
    Unit,
    seed_batches,
    unit_cost,
)


def flat_units(count: int, seconds: float, module: str = "tests/test_a.py") -> list[Unit]:
    return [((f"{module}::test_{i}",), seconds) for i in range(count)]


def test_a_unit_longer_than_a_batch_goes_first_and_ends_on_the_shortest_unit_left() -> None:
    units = [(("t::small_1",), 0.2), (("t::big",), 100.0), (("t::small_2",), 0.2)]
    # 100 s is more than a batch holds: alone, but for the short unit its job runs after leasing again
    assert seed_batches(units, 4) == [("t::big", "t::small_2"), ("t::small_1",)]


def test_no_job_holds_a_batch_behind_a_long_test() -> None:
    """The job leases its next batch before its batch's last test: that test must be short, or the leased batch
    waits behind it (with the longest tests first, a job would run the two longest one after the other)."""
    units: list[Unit] = [((f"t.py::long_{i}",), 60.0 - i) for i in range(20)]
    units += [((f"t.py::quick_{i}",), 0.05) for i in range(500)]
    seconds = dict((ids[0], s) for ids, s in units)
    batches = seed_batches(units, 16)
    assert [b[0] for b in batches[:20]] == [f"t.py::long_{i}" for i in range(20)]
    assert all(seconds[b[-1]] <= MIN_BATCH_SECONDS for b in batches)
    assert sorted(t for b in batches for t in b) == sorted(seconds)


def test_units_are_never_split_and_keep_their_order() -> None:
    units: list[Unit] = [((f"m{i}.py::a", f"m{i}.py::b", f"m{i}.py::c"), float(i + 1)) for i in range(30)]
    batches = seed_batches(units, 3, min_batch_seconds=0.0)
    flat = [t for b in batches for t in b]
    assert sorted(flat) == sorted(t for ids, _ in units for t in ids)
    for ids, _ in units:
        start = flat.index(ids[0])
        assert tuple(flat[start:start + 3]) == ids
        assert any(ids[0] in b and ids[-1] in b for b in batches)


def test_batches_shrink_toward_the_end() -> None:
    batches = seed_batches(flat_units(4000, 0.5), 8)
    sizes = [len(b) for b in batches]
    # the first round of 8 leases holds 1/FACTOR of the work; the tail is at the floor: one test a lease
    assert sum(sizes[:8]) == pytest.approx(4000 / FACTOR, rel=0.01)
    assert sizes[0] > sizes[8] > sizes[16] > sizes[-3]
    assert sizes[-2:] == [1, 1]
    assert sizes == sorted(sizes, reverse=True)


def test_the_floor_keeps_round_trips_few_on_tiny_tests() -> None:
    units = flat_units(10_000, 0.01)  # 100 s of work in 10 ms tests, 200 s with pytest's per-test work
    total = sum(map(unit_cost, units))
    batches = seed_batches(units, 16)
    assert len(batches) <= 2 * total / MIN_BATCH_SECONDS + 1
    assert min(len(b) for b in batches[:-1]) > MIN_BATCH_SECONDS / (2 * unit_cost(units[0]))


def test_zero_second_tests_still_cost_their_overhead_and_spread() -> None:
    batches = seed_batches(flat_units(5000, 0.0), 4)
    assert max(len(b) for b in batches) <= 5000 / (FACTOR * 4) + 1  # no batch holds more than a round's share
    assert sum(len(b) for b in batches) == 5000
    assert min(len(b) for b in batches[:-1]) > MIN_BATCH_SECONDS / (2 * PER_TEST_SECONDS)


def test_the_order_the_units_come_in_does_not_matter() -> None:
    rng = random.Random(7)
    units: list[Unit] = [((f"t.py::test_{i}",), rng.choice([0.1, 0.5, 2.0, 2.0, 9.0])) for i in range(300)]
    shuffled = units[:]
    rng.shuffle(shuffled)
    assert seed_batches(units, 5) == seed_batches(shuffled, 5)


def test_one_job_still_gets_shrinking_batches() -> None:
    batches = seed_batches(flat_units(100, 1.0), 1)
    assert len(batches[0]) == 100 // FACTOR
    assert sum(map(len, batches)) == 100


def test_empty_units_and_empty_input() -> None:
    assert seed_batches([], 4) == []
    assert seed_batches([((), 5.0), (("t::a",), 1.0)], 4) == [("t::a",)]


@pytest.mark.parametrize(("jobs", "factor", "floor"), [(0, 2.0, 1.0), (2, 0.0, 1.0), (2, 2.0, -1.0),
                                                       (2, math.nan, 1.0)])
def test_refuses_nonsense_parameters(jobs: int, factor: float, floor: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        seed_batches(flat_units(3, 1.0), jobs, factor=factor, min_batch_seconds=floor)


unit_seconds = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=500.0, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), unit_seconds), max_size=80), st.integers(1, 64),
       st.floats(min_value=0.0, max_value=20.0))
def test_batches_are_whole_bounded_and_above_half_the_floor(
    shapes: list[tuple[int, float]], jobs: int, floor: float
) -> None:
    units: list[Unit] = [(tuple(f"m{u}.py::t{i}" for i in range(size)), seconds)
                         for u, (size, seconds) in enumerate(shapes)]
    seconds = {t: s for ids, s in units for t in ids}
    batches = seed_batches(units, jobs, min_batch_seconds=floor)
    flat = [t for b in batches for t in b]
    assert sorted(flat) == sorted(seconds)
    unit_of = {t: u for u, (ids, _) in enumerate(units) for t in ids}
    for ids, _ in units:  # a unit lies inside one batch, its tests side by side in their order
        (holder,) = [b for b in batches if ids[0] in b]
        start = holder.index(ids[0])
        assert holder[start:start + len(ids)] == ids
    remaining = math.fsum(map(unit_cost, units))
    target = 0.0
    for position, batch in enumerate(batches):
        cost = math.fsum(unit_cost(units[u]) for u in {unit_of[t] for t in batch})
        if position % jobs == 0:  # a new round
            target = max(floor, remaining / (FACTOR * jobs))
        in_order = list(dict.fromkeys(unit_of[t] for t in batch))
        cost_of = [unit_cost(units[u]) for u in in_order]
        # a companion: the shortest unit, at most the floor, ending a batch whose own last unit was longer
        companion = len(in_order) > 1 and cost_of[-1] <= floor < cost_of[-2]
        core = cost_of[:-1] if companion else cost_of
        # over the target only by one unit too long to share a batch, or by a companion
        assert len(core) == 1 or math.fsum(core) <= target * (1 + 1e-6) + 1e-9
        if position < len(batches) - 1:  # closed because the next (no longer) unit did not fit: over half full
            assert cost > target / 2 - 1e-9
        remaining -= cost
