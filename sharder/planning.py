"""From collected test ids and recorded durations to a Plan: estimate, group into units, partition.

Pure: the caller supplies the ids (from pytest collection or a durations file) and the timings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from sharder.errors import SharderError
from sharder.estimate import estimate_unknown
from sharder.nodeid import class_of, module_of
from sharder.partition import lower_bound, partition, useful_shards
from sharder.plan import Plan, ShardBin

GROUP_BY_CHOICES = ("test", "class", "module")

_GROUP_KEYS: dict[str, Callable[[str], str]] = {
    "test": lambda node_id: node_id,
    "class": class_of,
    "module": module_of,
}


def _split_at_target(positions: list[int], seconds: Sequence[float], target: float) -> list[list[int]]:
    """Cut tests (positions, in collection order) into contiguous runs that each fill at most one shard.

    Full-size pieces fill whole shards and the remainder packs beside other units, which balances better than
    cutting into equal parts (40 s of one module and 4 s of another on 4 shards: 11+11+11+7+4, not 10x4+4).
    """
    runs: list[list[int]] = [[]]
    filled = 0.0
    for position in positions:
        if runs[-1] and filled + seconds[position] > target * (1 + 1e-9):
            runs.append([])
            filled = 0.0
        runs[-1].append(position)
        filled += seconds[position]
    return runs


def build_units(
    node_ids: Sequence[str], seconds: Sequence[float], shards: int, group_by: str
) -> tuple[list[str], list[float], list[int], int]:
    """Group tests into units; a group heavier than one shard's fair share is split into the fewest pieces.

    `seconds[i]` is the cost of `node_ids[i]`. Returns unit keys, unit weights, the unit of each test, and how
    many groups had to be split. Pieces of a split group are contiguous runs in collection order.
    """
    if group_by not in _GROUP_KEYS:
        raise SharderError(f"unknown grouping {group_by!r}; choose one of {', '.join(GROUP_BY_CHOICES)}")
    if group_by == "test":
        return list(node_ids), list(seconds), list(range(len(node_ids))), 0
    key_of = _GROUP_KEYS[group_by]
    groups: dict[str, list[int]] = {}
    for position, node_id in enumerate(node_ids):
        groups.setdefault(key_of(node_id), []).append(position)
    target = max(math.fsum(seconds) / shards, max(seconds, default=0.0))
    keys: list[str] = []
    weights: list[float] = []
    unit_of_test = [0] * len(node_ids)
    split = 0
    for key, positions in groups.items():
        weight = math.fsum(seconds[p] for p in positions)
        runs = [positions] if weight <= target * (1 + 1e-9) else _split_at_target(positions, seconds, target)
        split += len(runs) > 1
        for number, run in enumerate(runs, start=1):
            for position in run:
                unit_of_test[position] = len(keys)
            keys.append(key if len(runs) == 1 else f"{key}#{number}")
            weights.append(math.fsum(seconds[p] for p in run))
    return keys, weights, unit_of_test, split


def make_plan(
    node_ids: Sequence[str],
    known_seconds: Mapping[str, float],
    shards: int,
    *,
    group_by: str = "test",
    durations_sha256: str = "",
) -> Plan:
    """Split `node_ids` into `shards` bins; every id lands in exactly one bin, in collection order within it."""
    if shards < 1:
        raise SharderError(f"shard count must be at least 1, got {shards}")
    ids = list(dict.fromkeys(node_ids))
    estimates = estimate_unknown(ids, known_seconds)
    seconds = [estimates[n] if n in estimates else known_seconds[n] for n in ids] if estimates else [
        known_seconds[n] for n in ids
    ]
    keys, weights, unit_of_test, split = build_units(ids, seconds, shards, group_by)
    shard_of_unit = [0] * len(keys)
    for shard, unit_indices in enumerate(partition(keys, weights, shards)):
        for unit_index in unit_indices:
            shard_of_unit[unit_index] = shard
    tests_by_shard: list[list[int]] = [[] for _ in range(shards)]
    for position, unit_index in enumerate(unit_of_test):
        tests_by_shard[shard_of_unit[unit_index]].append(position)
    bins = tuple(
        ShardBin(
            shard=index + 1,
            predicted_seconds=math.fsum([seconds[p] for p in positions]),
            tests=tuple([ids[p] for p in positions]),
            estimated_tests=sum(1 for p in positions if ids[p] in estimates) if estimates else 0,
        )
        for index, positions in enumerate(tests_by_shard)
    )
    return Plan(
        shards=shards,
        group_by=group_by,
        lower_bound_seconds=lower_bound(weights, shards),
        useful_shards=useful_shards(weights),
        durations_sha256=durations_sha256,
        bins=bins,
        split_units=split,
    )
