"""Grouped units: classes or modules kept in one shard unless they are too big for N, and what a split costs.

Keeping a module in one shard builds its module-scoped fixtures once; splitting it builds them again in every
other shard it lands in. The store records each test's setup time, so that one-off cost can be estimated per
module (the extra setup its most expensive test pays over the module's typical test) and charged to every extra
shard a split module lands in. The packer then sees what a split really costs.

Pieces of a split group are contiguous runs of its tests in node-id order, not collection order: every CI job
must compute the same plan, and collection order is not stable across jobs (pytest-randomly, xdist, -p options),
while sorted ids still keep a class's tests and a parametrized family's cases together.

Pure: numbers and strings in, numbers out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, compress, groupby, repeat
from operator import eq, is_not, itemgetter
from typing import NamedTuple, cast

from sharder.planning.partition import assign

# `auto` stops splitting once the makespan is within this much of the ungrouped lower bound: another split could
# shave at most this off the wall time, and each split builds the module's fixtures once more.
AUTO_TOLERANCE = 0.02
# Bound on the splitting moves of `auto`, per shard, so a pathological suite cannot loop for long.
AUTO_MOVES_PER_SHARD = 8


class FixtureCost(NamedTuple):
    """A module's one-off setup, the test (position) that paid it in the recorded run, and all its tests."""

    seconds: float
    payer: int
    members: list[int]


def keys_in_order(mapping: Mapping[str, object], node_ids: Sequence[str]) -> bool:
    """Whether `node_ids` are the keys of `mapping` in its order, as when a durations file's own ids are planned.

    One list comparison, mostly pointer compares (the ids are the file's very strings), answers at C speed what a
    dict lookup per id would: on 200,000 ids, 0.005 s instead of 0.02 s per pass.
    """
    return len(mapping) == len(node_ids) and isinstance(node_ids, list) and list(mapping) == node_ids


def fixture_costs(node_ids: Sequence[str], setup_seconds: Mapping[str, float]) -> dict[str, FixtureCost]:
    """Per module: the largest recorded setup minus the median one, when at least two tests have setup times.

    The largest, not the first: with a shuffled or sharded previous run, the test that paid the module's fixtures
    is whichever ran first there, not necessarily the first collected.

    Every plan runs this, `--group-by test` too (its shards pay the fixtures of the modules they share), so the
    per-test work is C-level maps over columns: 0.1 s of Python loops on 200,000 tests otherwise.
    """
    if not setup_seconds:
        return {}
    # None where a test has no recorded setup
    setups = (list(setup_seconds.values()) if keys_in_order(setup_seconds, node_ids)
              else list(map(setup_seconds.get, node_ids)))
    by_module: dict[str, list[int]] = {}
    # module_of, inlined, and runs of one module taken at once: a module's tests are usually collected together
    start = 0
    for module, run in groupby(map(itemgetter(0), map(str.partition, node_ids, repeat("::")))):
        end = start + len(list(run))
        by_module.setdefault(module, []).extend(range(start, end))
        start = end
    costs: dict[str, FixtureCost] = {}
    for module, positions in by_module.items():
        column = list(map(setups.__getitem__, positions))
        timed = positions
        if None in column:
            timed = list(compress(positions, map(is_not, column, repeat(None))))
            column = list(map(setups.__getitem__, timed))
        values = cast("list[float]", column)  # the Nones are filtered out
        if len(values) < 2:
            continue
        highest = max(values)
        cost = highest - _median(values)
        if cost > 0:
            payers = list(compress(timed, map(eq, values, repeat(highest))))
            payer = payers[0] if len(payers) == 1 else min((node_ids[p], p) for p in payers)[1]
            costs[module] = FixtureCost(cost, payer, positions)
    return costs


def _median(values: list[float]) -> float:
    """`statistics.median`, the same arithmetic, without importing `statistics` (and `fractions`, `decimal`) into
    every `sharder plan`."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def split_charges(shard_of_test: Sequence[int], shards: int, costs: Mapping[str, FixtureCost]) -> list[float]:
    """Fixture seconds each shard pays on top of its tests: a module's one-off cost for every shard that holds
    some of its tests but not the test whose recorded time already includes that cost."""
    charges = [0.0] * shards
    for _, cost in sorted(costs.items()):  # sorted: the same float sums whatever the input order
        paid_in = shard_of_test[cost.payer]
        for shard in set(map(shard_of_test.__getitem__, cost.members)):
            if shard != paid_in:
                charges[shard] += cost.seconds
    return charges


class _Group:
    # Plain classes, not dataclasses, here: each dataclass costs a millisecond of import on every sharder command.
    __slots__ = ("cost", "import_cost", "key", "members", "payer", "prefix")

    def __init__(self, key: str, members: list[int], prefix: list[float], cost: float, payer: int,
                 import_cost: float = 0.0) -> None:
        self.key = key
        self.members = members  # test positions in node-id order
        self.prefix = prefix  # prefix[i] = seconds of members[:i]
        self.cost = cost  # one-off fixture seconds charged to a piece without the payer
        self.payer = payer  # index into members of the paying test, -1 when there is no cost
        self.import_cost = import_cost  # seconds to import the module, paid by every shard holding a piece

    def weight(self, start: int, end: int) -> float:
        return self.prefix[end] - self.prefix[start]

    def has_payer(self, start: int, end: int) -> bool:
        return start <= self.payer < end


class Units:
    """Pieces of groups; unit u is `groups[group_of[u]].members[start[u]:end[u]]`."""

    __slots__ = ("end", "group_of", "groups", "start")

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        self.group_of: list[int] = []
        self.start: list[int] = []
        self.end: list[int] = []

    def add(self, group: int, start: int, end: int) -> int:
        self.group_of.append(group)
        self.start.append(start)
        self.end.append(end)
        return len(self.group_of) - 1

    def key(self, unit: int) -> str:
        group = self.groups[self.group_of[unit]]
        whole = self.start[unit] == 0 and self.end[unit] == len(group.members)
        return group.key if whole else f"{group.key}#{self.start[unit]}"

    def packing_weight(self, unit: int) -> float:
        group = self.groups[self.group_of[unit]]
        start, end = self.start[unit], self.end[unit]
        whole = start == 0 and end == len(group.members)
        charged = not whole and group.cost > 0 and not group.has_payer(start, end)
        return group.weight(start, end) + (group.cost if charged else 0.0) + group.import_cost


def make_groups(
    node_ids: Sequence[str],
    seconds: Sequence[float],
    key_of: Callable[[str], str],
    costs: Mapping[str, FixtureCost],
    *,
    charge_pieces: bool,
    import_costs: Mapping[str, float] | None = None,
) -> list[_Group]:
    """Groups sorted by key, members by node id; `charge_pieces` when a group is a module (its fixture scope).
    `import_costs` (by module, with `charge_pieces`): what each shard holding a piece pays to import it."""
    members_of: dict[str, list[int]] = {}
    for position, node_id in enumerate(node_ids):
        members_of.setdefault(key_of(node_id), []).append(position)
    groups: list[_Group] = []
    for key in sorted(members_of):
        members = sorted(members_of[key], key=node_ids.__getitem__)
        prefix = [0.0, *accumulate(seconds[p] for p in members)]
        cost = costs.get(key) if charge_pieces else None
        payer = members.index(cost.payer) if cost is not None else -1
        imported = (import_costs or {}).get(key, 0.0) if charge_pieces else 0.0
        groups.append(_Group(key, members, prefix, cost.seconds if cost else 0.0, payer, imported))
    return groups


def _runs_within(group: _Group, capacity: float) -> list[tuple[int, int]]:
    """Cut a group into the fewest contiguous runs of at most `capacity` seconds (a longer test is a run alone).

    Full runs fill whole shards and the remainder packs beside other units, which balances better than equal
    parts (40 s of one module and 4 s of another on 4 shards: 11+11+11+7+4, not 10x4+4).
    """
    runs: list[tuple[int, int]] = []
    start = 0
    limit = capacity * (1 + 1e-9)
    for index in range(1, len(group.members) + 1):
        if index - 1 > start and group.weight(start, index) > limit:
            runs.append((start, index - 1))
            start = index - 1
    runs.append((start, len(group.members)))
    return runs


def split_oversized(groups: list[_Group], target: float, *, weigh_cost: bool) -> Units:
    """One unit per group, except groups heavier than `target` (one shard's fair share): those are cut into the
    fewest pieces that fit a shard with their fixture charge.

    With `weigh_cost` (auto), a group stays whole when the fixture seconds of its extra pieces exceed what
    splitting takes off its shard's time.
    """
    units = Units(groups)
    for index, group in enumerate(groups):
        total = group.weight(0, len(group.members)) + group.import_cost
        if total <= target * (1 + 1e-9) or len(group.members) < 2:
            units.add(index, 0, len(group.members))
            continue
        runs = _runs_within(group, max(target - group.cost - group.import_cost, target / 2))
        if weigh_cost and (len(runs) - 1) * (group.cost + group.import_cost) >= total - target:
            runs = [(0, len(group.members))]
        for start, end in runs:
            units.add(index, start, end)
    return units


class _Placement:
    """Units on shards with exact loads: tests plus one fixture charge per (charged group, shard), and one import
    per (group, shard) where groups are modules with a recorded import cost."""

    def __init__(self, units: Units, shard_of_unit: list[int], shards: int) -> None:
        self.units = units
        self.shard_of_unit = shard_of_unit
        self.loads = [0.0] * shards
        self.members: list[list[int]] = [[] for _ in range(shards)]
        self.tests_in: list[dict[int, int]] = [{} for _ in units.groups]  # per group: shard -> tests there
        self.payer_shard = [-1] * len(units.groups)
        for unit, shard in enumerate(shard_of_unit):
            group_index, start, end = units.group_of[unit], units.start[unit], units.end[unit]
            group = units.groups[group_index]
            self.members[shard].append(unit)
            self.loads[shard] += group.weight(start, end)
            counts = self.tests_in[group_index]
            counts[shard] = counts.get(shard, 0) + end - start
            if group.has_payer(start, end):
                self.payer_shard[group_index] = shard
        for group_index, counts in enumerate(self.tests_in):
            for shard in counts:
                self.loads[shard] += self._charge(group_index, counts.get(shard, 0), self.payer_shard[group_index],
                                                  shard)

    def _charge(self, group_index: int, count: int, payer_shard: int, shard: int) -> float:
        """A piece's repeated fixtures (not where the payer is) and its import (everywhere it is)."""
        if count <= 0:
            return 0.0
        group = self.units.groups[group_index]
        return (group.cost if group.cost > 0 and payer_shard != shard else 0.0) + group.import_cost

    def split_groups(self) -> int:
        return sum(len(counts) > 1 for counts in self.tests_in)

    def loads_after(self, unit: int, start: int, end: int, light: int) -> tuple[float, float]:
        """Loads of the unit's shard and of `light` if tests [start, end) of the unit moved to `light`."""
        units = self.units
        heavy = self.shard_of_unit[unit]
        group_index = units.group_of[unit]
        group = units.groups[group_index]
        moved = group.weight(start, end)
        counts = self.tests_in[group_index]
        payer = self.payer_shard[group_index]
        new_payer = light if group.has_payer(start, end) else payer
        count_heavy, count_light = counts.get(heavy, 0), counts.get(light, 0)
        heavy_after = (self.loads[heavy] - moved - self._charge(group_index, count_heavy, payer, heavy)
                       + self._charge(group_index, count_heavy - (end - start), new_payer, heavy))
        light_after = (self.loads[light] + moved - self._charge(group_index, count_light, payer, light)
                       + self._charge(group_index, count_light + end - start, new_payer, light))
        return heavy_after, light_after

    def move(self, unit: int, start: int, end: int, light: int) -> None:
        """Move tests [start, end) of `unit` (its whole range, a prefix or a suffix) to shard `light`."""
        units = self.units
        heavy = self.shard_of_unit[unit]
        group_index = units.group_of[unit]
        heavy_after, light_after = self.loads_after(unit, start, end, light)
        self.loads[heavy], self.loads[light] = heavy_after, light_after
        counts = self.tests_in[group_index]
        counts[heavy] -= end - start
        if not counts[heavy]:
            del counts[heavy]
        counts[light] = counts.get(light, 0) + end - start
        if units.groups[group_index].has_payer(start, end):
            self.payer_shard[group_index] = light
        if (start, end) == (units.start[unit], units.end[unit]):
            self.members[heavy].remove(unit)
            moved = unit
            self.shard_of_unit[unit] = light
        else:
            if start == units.start[unit]:
                units.start[unit] = end
            else:
                units.end[unit] = start
            moved = units.add(group_index, start, end)
            self.shard_of_unit.append(light)
        self.members[light].append(moved)


_Move = tuple[bool, float, int, int, int, int]  # (new split?, pair max, unit, start, end, light)


def _cuts_near(group: _Group, start: int, end: int, transfer: float) -> list[tuple[int, int]]:
    """Prefix and suffix ranges of [start, end) whose seconds are nearest to `transfer`, plus the whole range."""
    ranges = [(start, end)]
    if end - start < 2:
        return ranges
    prefix = group.prefix
    # prefix runs [start, i): weight prefix[i] - prefix[start]
    wanted = prefix[start] + transfer
    position = _bisect(prefix, wanted, start + 1, end)
    for boundary in (position - 1, position):
        if start < boundary < end:
            ranges.append((start, boundary))
    # suffix runs [i, end): weight prefix[end] - prefix[i]
    wanted = prefix[end] - transfer
    position = _bisect(prefix, wanted, start + 1, end)
    for boundary in (position - 1, position):
        if start < boundary < end:
            ranges.append((boundary, end))
    return ranges


def _bisect(values: list[float], target: float, low: int, high: int) -> int:
    while low < high:
        middle = (low + high) // 2
        if values[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low


def _best_move(placement: _Placement, heavy: int, lights: list[int]) -> _Move | None:
    """The whole-unit move or cut out of the heaviest shard that lowers it most, preferring moves that split
    no new group; a move must lower the heavier of the two shards by more than the fixture seconds it adds."""
    units = placement.units
    loads = placement.loads
    best: _Move | None = None
    for light in lights:
        gap = loads[heavy] - loads[light]
        if gap <= 0:
            continue
        for unit in placement.members[heavy]:
            group_index = units.group_of[unit]
            group = units.groups[group_index]
            already_split = len(placement.tests_in[group_index]) > 1
            for start, end in _cuts_near(group, units.start[unit], units.end[unit], gap / 2):
                heavy_after, light_after = placement.loads_after(unit, start, end, light)
                pair_max = max(heavy_after, light_after)
                added = heavy_after + light_after - loads[heavy] - loads[light]
                if pair_max + max(added, 0.0) >= loads[heavy] * (1 - 1e-9):
                    continue
                whole_unit = (start, end) == (units.start[unit], units.end[unit])
                creates_split = not already_split and not (
                    whole_unit and placement.tests_in[group_index].get(heavy, 0) == end - start
                )
                candidate = (creates_split, pair_max, unit, start, end, light)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
    return best


def repair(placement: _Placement, goal: float) -> None:
    """Cut pieces off units in the heaviest shard into the lightest ones until the makespan reaches `goal`."""
    shards = len(placement.loads)
    for _ in range(AUTO_MOVES_PER_SHARD * shards):
        loads = placement.loads
        heavy = max(range(shards), key=lambda s: (loads[s], -s))
        if loads[heavy] <= goal:
            return
        lights = sorted(range(shards), key=lambda s: (loads[s], s))[:4]
        move = _best_move(placement, heavy, [s for s in lights if s != heavy])
        if move is None:
            return
        _, _, unit, start, end, light = move
        placement.move(unit, start, end, light)


class GroupedAssignment(NamedTuple):
    shard_of_test: list[int]
    split_groups: int


def assign_grouped(
    groups: list[_Group],
    test_count: int,
    shards: int,
    target: float,
    *,
    auto_goal: float | None = None,
) -> GroupedAssignment:
    """Pack groups into shards; with `auto_goal`, weigh fixture costs and cut further pieces until the
    makespan is within the goal (or no cut pays for itself)."""
    units = split_oversized(groups, target, weigh_cost=auto_goal is not None)
    unit_count = len(units.group_of)
    shard_of_unit = assign([units.key(u) for u in range(unit_count)],
                           [units.packing_weight(u) for u in range(unit_count)], shards)
    placement = _Placement(units, shard_of_unit, shards)
    if auto_goal is not None:
        repair(placement, auto_goal)
    shard_of_test = [0] * test_count
    for unit, shard in enumerate(placement.shard_of_unit):
        group = units.groups[units.group_of[unit]]
        for position in group.members[units.start[unit]:units.end[unit]]:
            shard_of_test[position] = shard
    return GroupedAssignment(shard_of_test, placement.split_groups())
