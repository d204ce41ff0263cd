"""Each shard's own speed, taken out of what its run teaches the store.

The shards of one CI run run on different machines (runners of one label differ in CPU and neighbours), or on one
machine whose speed drifts: on this project's 2-core VM the same serial run of networkx took 141.6 to 197.0 s
within an hour, and one shard's tests ran a median 1.54x their record while the other shards' ran 1.06-1.07x.
Learned as they are, every test of the slow shard looks slower, the next plan moves work away from them, and the
shard that receives them is the next run's slowest: the plan chases noise the next run does not repeat (on
scipy.optimize the replanned round's slowest shard went from 1.136x to 1.297x serial/N).

So each shard's observations are rescaled by how its median test compared with the store, relative to the run as
a whole. What stays is each test's time relative to the others that ran in the same process, and the run's common
speed: a real change (new runners, a slower Python, every shard at once) still moves the store, and the store's
"other hardware" vote still sees it. Only tests at or above the vote's floor vote, as in that vote (a
millisecond-rounded time of a sub-millisecond test is noise), and a shard with fewer than SPEED_VOTERS_MIN of them
is left as it is: too few to tell its speed from its tests' own changes.

Pure: node ids, recorded timings and observations, no reports.
"""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Mapping
from dataclasses import replace

from sharder.durations.costs import SuiteCosts
from sharder.durations.store import REGIME_VOTE_MIN_SECONDS, Observation, TestTiming

# How many timed tests a shard needs before its median says how fast its machine was.
SPEED_VOTERS_MIN = 20


def _ratio(old: TestTiming | None, seen: Observation) -> float | None:
    if old is None or old.seconds <= 0 or max(old.seconds, seen.seconds) < REGIME_VOTE_MIN_SECONDS:
        return None
    return seen.seconds / old.seconds


def speed_factors(
    tests: Mapping[str, TestTiming], observations: Mapping[str, Observation], group_of: Mapping[str, Hashable],
) -> dict[Hashable, float]:
    """For each group (a shard) with enough voters: what its observations are multiplied by to run at the run's
    common speed (the median ratio over all voters / the group's own median ratio). 1.0 for none, or one group."""
    by_group: dict[Hashable, list[float]] = {}
    for node_id, seen in observations.items():
        ratio = _ratio(tests.get(node_id), seen)
        if ratio is not None and node_id in group_of:
            by_group.setdefault(group_of[node_id], []).append(ratio)
    voting = {group: ratios for group, ratios in by_group.items() if len(ratios) >= SPEED_VOTERS_MIN}
    if len(voting) < 2:
        return {}
    common = statistics.median(ratio for ratios in voting.values() for ratio in ratios)
    factors = {group: common / statistics.median(ratios) for group, ratios in voting.items()}
    return {group: factor for group, factor in factors.items() if factor > 0}


def at_common_speed(
    observations: Mapping[str, Observation], group_of: Mapping[str, Hashable], factors: Mapping[Hashable, float],
) -> dict[str, Observation]:
    """`observations` with each group's times (test and setup) multiplied by its factor; memory is left alone."""
    if not factors:
        return dict(observations)
    scaled: dict[str, Observation] = {}
    for node_id, seen in observations.items():
        factor = factors.get(group_of[node_id], 1.0) if node_id in group_of else 1.0
        scaled[node_id] = seen if factor == 1.0 else replace(
            seen, seconds=seen.seconds * factor,
            setup_seconds=None if seen.setup_seconds is None else seen.setup_seconds * factor)
    return scaled


def costs_at_speed(costs: SuiteCosts, factor: float) -> SuiteCosts:
    """A session's costs as they would have been at the run's common speed."""
    if factor == 1.0:
        return costs
    return replace(costs, startup_seconds=costs.startup_seconds * factor,
                   collection_seconds=costs.collection_seconds * factor,
                   session_setup_seconds=costs.session_setup_seconds * factor,
                   teardown_seconds=costs.teardown_seconds * factor, per_test_seconds=costs.per_test_seconds * factor,
                   files={name: seconds * factor for name, seconds in costs.files.items()})
