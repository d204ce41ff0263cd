"""Feeding a run's timings back into the durations file, and judging whether the current plan has drifted.

Pruning (dropping tests the durations file knows but the run did not) happens only when the reports cover the
whole plan: every shard reported and no planned test is missing. A partial run (a shard died, a `-k` run, one
shard's report) says nothing about the tests it did not run, so they keep their timings.

Drift is measured against what re-planning would achieve, not against the lower bound: a suite whose longest
test dominates can never reach the bound, and a check that always fires is one people learn to ignore.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sharder import durations as store
from sharder.estimate import estimate_unknown
from sharder.merge import MergeResult
from sharder.merge_inputs import Attempt
from sharder.plan import Plan
from sharder.planning import make_plan


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


@dataclass
class Rebalance:
    durations: store.Durations
    observed: int
    new_tests: int
    pruned: int
    prune_note: str
    forecast: Forecast | None
    forecast_note: str


def observations(attempts: Sequence[Attempt]) -> dict[str, store.Observation]:
    """One observation per test, its last attempt that really ran (a skip says nothing of what a run costs).

    A case the report gave no time for is no observation: counted as 0 s it would halve a good duration
    through the moving average. A case with no name has a made-up id that no plan will ever collect."""
    observed: dict[str, store.Observation] = {}
    for attempt in attempts:
        if attempt.outcome == "skipped" or not attempt.timed or not attempt.named:
            continue
        observed[attempt.node_id] = store.Observation(attempt.seconds, attempt.setup_seconds, attempt.peak_rss_mb)
    return observed


def covers_whole_plan(result: MergeResult) -> tuple[bool, str]:
    """Whether pruning is safe, and a sentence saying why (not)."""
    identity = result.identity
    if identity.shards is None or (identity.plan is None and identity.sizes is None):
        return False, "the reports carry no plan identity and no --plan was given, so nothing says they are complete"
    missing_shards = [shard.label for shard in result.problem_shards]
    if missing_shards:
        return False, f"shard {', '.join(missing_shards[:5])} sent no complete report"
    if result.missing_count:
        return False, f"{result.missing_count} planned tests never reported"
    if result.unreadable:
        return False, "a report could not be read"
    return True, "the reports cover the whole plan"


def plan_under(plan: Plan, seconds: dict[str, float]) -> float:
    """The plan's slowest shard if its tests took `seconds` (unknown tests estimated as the planner would)."""
    ids = plan.all_tests()
    estimates = estimate_unknown(ids, seconds)
    return max(
        (math.fsum(estimates[t] if t in estimates else seconds[t] for t in shard_bin.tests) for shard_bin in plan.bins),
        default=0.0,
    )


def rebalance(
    recorded: store.Durations,
    result: MergeResult,
    *,
    shards: int | None = None,
    group_by: str | None = None,
) -> Rebalance:
    observed = observations(result.attempts)
    complete, prune_note = covers_whole_plan(result)
    plan = result.identity.plan
    keep_only: set[str] | None = None
    if complete:
        keep_only = set(result.tests) | (set(plan.all_tests()) if plan is not None else set())
    updated = store.updated(recorded, observed, keep_only=keep_only)
    new_tests = sum(1 for node_id in observed if node_id not in recorded.tests)
    pruned = len(recorded.tests) - (len(updated.tests) - new_tests)
    count = shards or result.identity.shards
    forecast, forecast_note = None, ""
    if count is None:
        forecast_note = "no shard count known: pass --shards N (or --plan) to compare predicted makespans"
    else:
        ids = plan.all_tests() if plan is not None else list(result.tests)
        if plan is None and not complete:
            forecast_note = f"predicted over the {len(ids)} tests these reports hold (pass --plan for the whole plan)"
        grouping = group_by or (plan.group_by if plan is not None else "test")
        old_seconds, new_seconds = recorded.seconds(), updated.seconds()
        old_plan = make_plan(ids, old_seconds, count, group_by=grouping)
        new_plan = make_plan(ids, new_seconds, count, group_by=grouping)
        current = plan if plan is not None and plan.shards == count else old_plan
        forecast = Forecast(count, len(ids), old_plan.makespan, new_plan.makespan, plan_under(current, new_seconds))
    return Rebalance(updated, len(observed), new_tests, pruned, prune_note, forecast, forecast_note)


def render(outcome: Rebalance, *, path: str, written: bool, threshold: float | None) -> list[str]:
    lines = [f"sharder rebalance: {outcome.observed} test timings observed"]
    changes = f"{outcome.new_tests} new, {outcome.pruned or 'nothing'} pruned"
    lines.append(f"{path}: {len(outcome.durations.tests)} tests after the update ({changes}; {outcome.prune_note})")
    forecast = outcome.forecast
    if forecast is not None:
        change = (forecast.new_makespan / forecast.old_makespan - 1) * 100 if forecast.old_makespan else 0.0
        lines.append(
            f"predicted slowest shard for {forecast.shards} shards over {forecast.tests} tests: "
            f"{forecast.old_makespan:.1f} s with the old durations, {forecast.new_makespan:.1f} s with the new "
            f"({change:+.1f}%)"
        )
        limit = f" (threshold {threshold * 100:.0f}%)" if threshold is not None else ""
        lines.append(
            f"the plan in use under the new timings: slowest shard {forecast.current_makespan:.1f} s, "
            f"{forecast.drift * 100:+.1f}% over a fresh plan{limit}"
        )
    if outcome.forecast_note:
        lines.append(f"note: {outcome.forecast_note}")
    lines.append(f"{'wrote' if written else 'did not write'} {path}")
    return lines
