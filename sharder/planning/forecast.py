"""How much a plan has drifted: the slowest shard of fresh plans under old and new timings, and of the plan in use
under the new ones (for `sharder rebalance` and its `--check`).

Drift is measured against what re-planning would achieve, not against the lower bound: a suite whose longest
test dominates can never reach the bound, and a check that always fires is one people learn to ignore.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sharder.planning.estimate import estimate_unknown
from sharder.planning.plan import Plan
from sharder.planning.planner import make_plan


@dataclass
class Forecast:
    """Predicted slowest shard for the same N: fresh plans under the old and the new timings, and the plan in
    use (the --plan file, else what the old timings plan) scored under the new timings."""

    shards: int
    tests: int
    old_makespan: float
    new_makespan: float
    current_makespan: float

    @property
    def drift(self) -> float:
        """How much slower the plan in use is predicted to be than a fresh plan (0.10 = 10%)."""
        return self.current_makespan / self.new_makespan - 1 if self.new_makespan > 0 else 0.0


def plan_under(plan: Plan, seconds: Mapping[str, float]) -> float:
    """The plan's slowest shard if its tests took `seconds` (unknown tests estimated as the planner would)."""
    ids = plan.all_tests()
    estimates = estimate_unknown(ids, dict(seconds))
    return max(
        (math.fsum(estimates[t] if t in estimates else seconds[t] for t in shard_bin.tests) for shard_bin in plan.bins),
        default=0.0,
    )


def forecast(
    ids: Sequence[str],
    old_seconds: dict[str, float],
    new_seconds: dict[str, float],
    shards: int,
    *,
    group_by: str,
    in_use: Plan | None,
) -> Forecast:
    """Plan `ids` into `shards` under both timings; the plan in use is `in_use` when it has that many shards,
    else the plan the old timings give."""
    old_plan = make_plan(list(ids), old_seconds, shards, group_by=group_by)
    new_plan = make_plan(list(ids), new_seconds, shards, group_by=group_by)
    current = in_use if in_use is not None and in_use.shards == shards else old_plan
    return Forecast(shards, len(ids), old_plan.makespan, new_plan.makespan, plan_under(current, new_seconds))
