"""What a run's reports teach the durations store (`sharder rebalance`): which observations to keep, and whether
the run may prune.

Pruning (dropping tests the durations file knows but the run did not) happens only when the reports cover the
whole plan: every shard reported and no planned test is missing. A partial run (a shard died, a `-k` run, one
shard's report) says nothing about the tests it did not run, so they keep their timings.

How far the plan in use has drifted is `sharder.planning.forecast`'s question; this module only asks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sharder.durations import store
from sharder.planning.forecast import Forecast, forecast
from sharder.reports.inputs import Attempt
from sharder.reports.verdict import MergeResult


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
    outlook: Forecast | None = None
    forecast_note = ""
    if count is None:
        forecast_note = "no shard count known: pass --shards N (or --plan) to compare predicted makespans"
    else:
        ids = plan.all_tests() if plan is not None else list(result.tests)
        if plan is None and not complete:
            forecast_note = f"predicted over the {len(ids)} tests these reports hold (pass --plan for the whole plan)"
        grouping = group_by or (plan.group_by if plan is not None else "test")
        outlook = forecast(ids, recorded.seconds(), updated.seconds(), count, group_by=grouping, in_use=plan)
    return Rebalance(updated, len(observed), new_tests, pruned, prune_note, outlook, forecast_note)


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
