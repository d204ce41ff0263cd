"""Packing weighted units into N shards: longest-processing-time first, then a bounded local search.

Pure functions over numbers and string keys: nothing here knows of files, pytest or CI.

LPT alone is within a few tenths of a percent of the lower bound on real suites, but it can lose to a lucky
tie-break in another tool; the local search (moves and swaps out of the heaviest shard) only ever lowers the
makespan, so the result is never worse than plain LPT on the same weights.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Sequence
from operator import neg

# Bounds on the local search, so a 200,000-test plan stays well under a second.
MAX_IMPROVEMENT_ROUNDS = 200
MAX_SWAP_CANDIDATES = 512
# What a unit recorded at 0.0 s is taken to cost when dealing it out (never added to a predicted load).
ZERO_UNIT_SECONDS = 0.001
# Relative distance to the lower bound at which searching further is pointless (3.6 ms in an hour).
CLOSE_ENOUGH = 1e-6


def lower_bound(weights: Sequence[float], shards: int, *, total: float | None = None) -> float:
    """max(total / N, longest, p_N + p_(N+1)): no assignment of these units to N shards can finish sooner.

    The third term: with more than N units, two of the N+1 longest must share a shard. `total` saves another pass
    when the caller has summed the weights already (with fsum, so the bound does not depend on their order).
    """
    if shards < 1:
        raise ValueError("shards must be >= 1")
    if not weights:
        return 0.0
    total = math.fsum(weights) if total is None else total
    bound = max(total / shards, max(weights))
    if len(weights) > shards:
        top = heapq.nlargest(shards + 1, weights)
        bound = max(bound, top[shards - 1] + top[shards])
    return bound


def _lower_bound_of_sorted(descending: Sequence[float], shards: int) -> float:
    """`lower_bound` of weights already in descending order, for the local search's stopping test only (a plain
    sum: that test needs no exactness, and fsum is three times slower)."""
    if not descending:
        return 0.0
    bound = max(sum(descending) / shards, descending[0])
    if len(descending) > shards:
        bound = max(bound, descending[shards - 1] + descending[shards])
    return bound


def useful_shards(weights: Sequence[float], *, total: float | None = None) -> float:
    """total / longest: past this many shards the longest unit alone sets the wall time."""
    if not weights:
        return 0.0
    longest = max(weights)
    return math.inf if longest <= 0 else (math.fsum(weights) if total is None else total) / longest


def _lpt(weights: Sequence[float], shards: int) -> tuple[list[int], list[float]]:
    """Heaviest unit first onto the lightest shard; `weights` are already in (-weight, key) order, and ties on
    load go to the lowest shard number, so the result depends on nothing but the units themselves.

    Returns the shard of each unit and the load of each shard.
    """
    heap = [(0.0, shard) for shard in range(shards)]
    shard_of = [0] * len(weights)
    replace = heapq.heapreplace
    positive = bisect_left(weights, 0.0, key=neg)  # weights descend: the zeros are a suffix
    for index in range(positive):
        load, shard = heap[0]
        shard_of[index] = shard
        replace(heap, (load + weights[index], shard))
    loads = [0.0] * shards
    for load, shard in heap:
        loads[shard] = load
    _deal_zero_weights(shard_of, positive, loads)
    return shard_of, loads


def _deal_zero_weights(shard_of: list[int], first: int, loads: list[float]) -> None:
    """Units from `first` on weigh 0: each goes to the shard lightest by load, counting ZERO_UNIT_SECONDS apiece.

    A recorded 0.0 s is a rounded or unmeasured time (JUnit's resolution is 1 ms; gotestsum writes 0.000000), not
    a free test: each still pays setup and pytest's per-test overhead. By weight alone every one of them ties and
    lands on the first lightest shard (100 such tests at N = 4: 100/0/0/0); at a millisecond each they fill the
    lightest shards first and never the bottleneck. The shards' predicted loads are not changed.
    """
    heap = [(load, shard) for shard, load in enumerate(loads)]
    heapq.heapify(heap)
    replace = heapq.heapreplace
    for index in range(first, len(shard_of)):
        load, shard = heap[0]
        shard_of[index] = shard
        replace(heap, (load + ZERO_UNIT_SECONDS, shard))


def _closest_below(weights: list[float], target: float, ceiling: float) -> int | None:
    """Index of the weight closest to `target` among those in (0, ceiling), or None."""
    position = bisect_left(weights, target)
    best: int | None = None
    for candidate in (position - 1, position):
        if not (0 <= candidate < len(weights) and 0 < weights[candidate] < ceiling):
            continue
        if best is None or abs(target - weights[candidate]) < abs(target - weights[best]):
            best = candidate
    return best


class _Shard:
    """A shard's units as a sorted list of (weight, unit index), kept sorted under moves."""

    def __init__(self, weights: Sequence[float], members: list[int]) -> None:
        # members arrive in LPT order (descending weight): Timsort sorts that reversed run in linear time
        self.items = sorted([(weights[i], i) for i in members])
        self.weights = [w for w, _ in self.items]
        self.load = math.fsum(self.weights)

    def remove(self, item: tuple[float, int]) -> None:
        position = bisect_left(self.items, item)
        del self.items[position]
        del self.weights[position]
        self.load -= item[0]

    def add(self, item: tuple[float, int]) -> None:
        position = bisect_left(self.items, item)
        self.items.insert(position, item)
        self.weights.insert(position, item[0])
        self.load += item[0]


_Exchange = tuple[float, list[tuple[float, int]], list[tuple[float, int]]]


def _best_exchange(heavy: _Shard, light: _Shard, gap: float) -> _Exchange | None:
    """The move or swap between two shards whose transferred weight is closest to gap/2 within (0, gap).

    Returns (transferred weight, items leaving heavy, items leaving light).
    """
    target = gap / 2
    best: _Exchange | None = None
    found = _closest_below(heavy.weights, target, gap)
    if found is not None:
        best = (heavy.weights[found], [heavy.items[found]], [])
    # Swaps: the heavy shard gives weight w_out, takes back w_in, transferring w_out - w_in.
    # Only the largest heavy units matter (small ones are covered by moves); cap the scan.
    for weight_out, index_out in heavy.items[-MAX_SWAP_CANDIDATES:]:
        candidate = _closest_below(light.weights, weight_out - target, weight_out)
        if candidate is None:
            continue
        weight_in = light.weights[candidate]
        delta = weight_out - weight_in
        if 0 < delta < gap and (best is None or abs(target - delta) < abs(target - best[0])):
            best = (delta, [(weight_out, index_out)], [light.items[candidate]])
    return best


def _improve(weights: Sequence[float], shard_of: list[int], loads: Sequence[float], bound: float) -> None:
    """Lower the heaviest shard by moving or swapping one unit at a time with a lighter shard.

    Each step strictly lowers the heavier of the two shards it touches, so the search cannot cycle; it stops
    at the lower bound, when no step helps, or after MAX_IMPROVEMENT_ROUNDS. Updates `shard_of` in place.
    """
    if len(loads) < 2 or max(loads) <= bound * (1 + CLOSE_ENOUGH):
        return
    members: list[list[int]] = [[] for _ in loads]
    for index, shard_index in enumerate(shard_of):
        members[shard_index].append(index)
    shards = [_Shard(weights, indices) for indices in members]
    for _ in range(MAX_IMPROVEMENT_ROUNDS):
        heavy_index = max(range(len(shards)), key=lambda s: (shards[s].load, -s))
        heavy = shards[heavy_index]
        if heavy.load <= bound * (1 + CLOSE_ENOUGH):
            break
        step = None
        for light_index in sorted(range(len(shards)), key=lambda s: (shards[s].load, s)):
            gap = heavy.load - shards[light_index].load
            if light_index == heavy_index or gap <= bound * 1e-9:
                continue
            step = _best_exchange(heavy, shards[light_index], gap)
            if step is not None:
                light = shards[light_index]
                light_number = light_index
                break
        if step is None:
            break
        _, leaving_heavy, leaving_light = step
        for item in leaving_heavy:
            heavy.remove(item)
            light.add(item)
            shard_of[item[1]] = light_number
        for item in leaving_light:
            light.remove(item)
            heavy.add(item)
            shard_of[item[1]] = heavy_index


def assign(keys: Sequence[str], weights: Sequence[float], shards: int) -> list[int]:
    """The shard (0-based) of every unit (a unique key and its weight).

    Deterministic whatever the order of the units: all the work is done in (-weight, key) order.

    With more shards than units, LPT gives every unit a shard of its own, the first ones in (-weight, key) order,
    and the search has nothing to improve (the longest unit is the bound): so only that many shards are dealt
    to, and a plan of 10 tests over 999,999 shards costs what one over 10 does.
    """
    if shards < 1:
        raise ValueError("shards must be >= 1")
    shards = min(shards, len(keys))
    if not shards:
        return []
    # Two stable C-level sorts (by key, then by descending weight) beat one sort of tuples by about 2x.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    negated = list(map(neg, weights))
    order.sort(key=negated.__getitem__)
    ordered_weights = list(map(weights.__getitem__, order))
    ordered_shard_of, loads = _lpt(ordered_weights, shards)
    _improve(ordered_weights, ordered_shard_of, loads, _lower_bound_of_sorted(ordered_weights, shards))
    shard_of = [0] * len(keys)
    for position, unit in enumerate(order):
        shard_of[unit] = ordered_shard_of[position]
    return shard_of


def partition(keys: Sequence[str], weights: Sequence[float], shards: int) -> list[list[int]]:
    """Assign every unit to exactly one of `shards` bins; returns the unit indices of each bin, ascending."""
    bins: list[list[int]] = [[] for _ in range(shards)]
    for unit, shard in enumerate(assign(keys, weights, shards)):
        bins[shard].append(unit)
    return bins
