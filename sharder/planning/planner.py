"""From collected test ids and recorded durations to a Plan: estimate, group into units, partition.

Pure: the caller supplies the ids (from pytest collection or a durations file) and the timings.

Groupings (`group_by`):
- `test`: every test is a unit; the best balance, but a module's fixtures are built in every shard it reaches.
- `class` / `module`: each class or module stays in one shard, except one heavier than a shard's fair share,
  which is cut into the fewest pieces that fit (whole modules would cap the useful shard count).
- `auto`: modules, but each split is weighed: a module too big for a shard stays whole when its fixture cost
  (from recorded setup times) outweighs what splitting gains, and more modules are cut only while the makespan
  is more than `AUTO_TOLERANCE` above the ungrouped bound and the cut pays for its fixtures.

Every plan reports the fixture seconds its splits add (`fixture_cost_seconds`), in every mode: a test-level plan
that spreads a module with an expensive fixture over eight shards pays that fixture eight times.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from sharder.core.errors import SharderError
from sharder.core.nodeid import class_of, module_of
from sharder.durations.costs import SuiteCosts
from sharder.planning.grouping import (
    AUTO_TOLERANCE,
    assign_grouped,
    fixture_costs,
    keys_in_order,
    make_groups,
    split_charges,
)
from sharder.planning.partition import assign, lower_bound, useful_shards
from sharder.planning.plan import GROUPINGS, Plan, ShardBin
from sharder.planning.wall import WallModel, import_charges

GROUP_BY_CHOICES = GROUPINGS  # one list, so the plan reader refuses exactly the groupings the planner does not make
# The grouping `sharder plan`, `matrix`, `local` and the plugin use unless told otherwise; bench/wall.py decides
# it. At N = 4 on a quiet machine the slowest shard took, as a multiple of serial/N: networkx (5,966 tests in 218
# files) `auto` 1.13, `test` 1.34, pytest-split 1.39, since a test-level split imports most files in every shard;
# scipy.optimize (3,849 tests, light imports, a few heavy files) `auto` 1.22, `test` 1.10, pytest-split 1.19.
# `auto` has the better worst case and mean; on the static histories of bench/balance.py it stays within 1.2% of
# the ungrouped bound.
DEFAULT_GROUP_BY = "auto"

_GROUP_KEYS: dict[str, Callable[[str], str]] = {
    "class": class_of,
    "module": module_of,
    "auto": module_of,
}


def _assign_tests(
    ids: list[str], seconds: list[float], total: float, shards: int, group_by: str, setup_seconds: Mapping[str, float],
    imports: Mapping[str, float],
) -> tuple[list[int], list[float], int]:
    """Shard of each test, the fixture charge of each shard, and how many groups were split.

    `imports` (by module) are weighed where the units are modules (`module`, `auto`): a module's import is part of
    its weight, and every piece of a split module pays it again. `test` and `class` plans are made as before and
    pay the imports their split brings (`import_charges`, in the predicted wall)."""
    costs = fixture_costs(ids, setup_seconds)
    if group_by == "test":
        shard_of_test = assign(ids, seconds, shards)
        return shard_of_test, split_charges(shard_of_test, shards, costs), 0
    weighed = imports if group_by != "class" else {}
    groups = make_groups(ids, seconds, _GROUP_KEYS[group_by], costs, charge_pieces=group_by != "class",
                         import_costs=weighed)
    imported = math.fsum(weighed.values())  # each module at least once, somewhere
    target = max((total + imported) / shards, max(seconds, default=0.0))
    goal = None
    if group_by == "auto":
        goal = max(lower_bound(seconds, shards, total=total), (total + imported) / shards) * (1 + AUTO_TOLERANCE)
    grouped = assign_grouped(groups, len(ids), shards, target, auto_goal=goal)
    return grouped.shard_of_test, split_charges(grouped.shard_of_test, shards, costs), grouped.split_groups


def make_plan(
    node_ids: Sequence[str],
    known_seconds: Mapping[str, float],
    shards: int,
    *,
    group_by: str = "test",
    durations_sha256: str = "",
    setup_seconds: Mapping[str, float] | None = None,
    costs: SuiteCosts | None = None,
) -> Plan:
    """Split `node_ids` into `shards` bins; every id lands in exactly one bin, in collection order within it.

    `setup_seconds` (recorded setup time per test, optional) lets the planner estimate module fixture costs.
    `costs` (the store's per-process and per-file costs, optional) make it plan and predict each shard's wall
    (`sharder.planning.wall`): without them the plan is of test time only, as before.
    """
    if shards < 1:
        raise SharderError(f"shard count must be at least 1, got {shards}")
    if group_by not in GROUP_BY_CHOICES:
        raise SharderError(f"unknown grouping {group_by!r}; choose one of {', '.join(GROUP_BY_CHOICES)}")
    own_ids = keys_in_order(known_seconds, node_ids)  # a plan of a durations file's own ids: unique, all known
    ids = list(node_ids) if own_ids else list(dict.fromkeys(node_ids))
    estimates: dict[str, float] = {}
    # Times recorded from another runner's JUnit XML are keyed `classname::name`: match them to these ids. Both
    # that and the estimates concern only ids without a time, so a C-level scan first spares a plan where every
    # id has one their Python-level passes.
    if not own_ids and not all(map(known_seconds.__contains__, ids)):
        # imported here: a plan where every id has a time needs neither (nor `statistics`, 2-3 ms of import)
        from sharder.durations.foreign_ids import adopt_foreign_keys
        from sharder.planning.estimate import estimate_unknown

        known_seconds = adopt_foreign_keys(ids, known_seconds)
        estimates = estimate_unknown(ids, known_seconds)
    if setup_seconds and not keys_in_order(setup_seconds, ids) and not all(map(setup_seconds.__contains__, ids)):
        from sharder.durations.foreign_ids import adopt_foreign_keys

        setup_seconds = adopt_foreign_keys(ids, setup_seconds)
    if estimates:
        seconds = [estimates[n] if n in estimates else known_seconds[n] for n in ids]
    elif own_ids:  # the ids are its keys, in order
        seconds = list(known_seconds.values())
    else:
        seconds = list(map(known_seconds.__getitem__, ids))
    total = math.fsum(seconds)
    # At most one shard per test can hold anything: the rest are empty, and planning over them would cost
    # O(shards) per step for nothing (`--shards 999999` on 10 tests took a minute). Planning over `used`
    # shards gives the same assignment (see partition.assign), and the same bound: with N >= tests it is the
    # longest test whatever N is.
    used = max(1, min(shards, len(ids)))
    model = WallModel.of(costs) if costs is not None else None
    files = list(map(module_of, ids)) if model is not None else []
    imports = model.imports_of(dict.fromkeys(files)) if model is not None else {}
    weighed = [s + model.per_test_seconds for s in seconds] if model is not None and model.per_test_seconds else seconds
    shard_of_test, charges, split = _assign_tests(ids, weighed, math.fsum(weighed), used, group_by,
                                                  setup_seconds or {}, imports)
    walls: list[float] | None = None
    if model is not None:
        imported = import_charges(files, shard_of_test, used, imports)
        walls = [model.fixed_seconds + imported[index] + charges[index] for index in range(used)]
    # A stable sort by shard keeps collection order inside each shard, at C speed. Ids and seconds are gathered in
    # that order once and each shard takes a slice: half the time of gathering them shard by shard.
    by_shard = sorted(range(len(ids)), key=shard_of_test.__getitem__)
    ids_by_shard = list(map(ids.__getitem__, by_shard))
    seconds_by_shard = list(map(seconds.__getitem__, by_shard))
    sizes = Counter(shard_of_test)
    shard_bins: list[ShardBin] = []
    start = 0
    for index in range(used):
        end = start + sizes[index]
        tests = tuple(ids_by_shard[start:end])
        tests_seconds = math.fsum(seconds_by_shard[start:end])
        wall = None
        if walls is not None and model is not None and tests:
            wall = walls[index] + tests_seconds + model.per_test_seconds * len(tests)
        shard_bins.append(ShardBin(
            shard=index + 1,
            predicted_seconds=tests_seconds + charges[index],
            tests=tests,
            estimated_tests=sum(map(estimates.__contains__, tests)) if estimates else 0,
            predicted_wall_seconds=wall,
        ))
        start = end
    shard_bins.extend(ShardBin(shard, 0.0, ()) for shard in range(used + 1, shards + 1))
    bins = tuple(shard_bins)
    return Plan(
        shards=shards,
        group_by=group_by,
        lower_bound_seconds=lower_bound(seconds, shards, total=total),
        useful_shards=useful_shards(seconds, total=total),
        durations_sha256=durations_sha256,
        bins=bins,
        split_units=split,
        fixture_cost_seconds=math.fsum(charges),
        fixed_seconds=model.fixed_seconds if model is not None else None,
    )
