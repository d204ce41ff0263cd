"""What a run's reports teach the durations store (`sharder rebalance`): which observations to keep, whether the
run may prune, and whether the store has seen these reports before.

Observations: only a test's last passing attempt (`sharder.durations.trust`); failed, errored, xfailed, skipped and
timed-out tests are counted by reason and left out, so a red run where every test errored in a millisecond does
not rewrite the store (nor win its "other hardware" vote) with 1 ms timings.

Pruning (dropping tests the durations file knows but the run did not) happens only when the reports cover the
whole plan (every shard reported, no planned test missing) and the plan, given with `--plan`, was made from a
collection of the whole suite (`Plan.selected_by == ()`). A partial run (a shard died, one shard's report) says
nothing about the tests it did not run, nor a plan made with `-k`, `-m`, paths or `--pyargs` about the tests
outside its selection, so they keep their timings.

Outcomes: every test's last passed or failed attempt is remembered with the time of the rebalance (the store's
`outcomes`, for `sharder run --order failed-first`), a failed one too, though its time is not learned.

Idempotence: each report's (and progress log's) identity is remembered in the store (`Attempt.origin`, the
store's `absorbed`); what the store absorbed before is not counted again.

A shard that ran more than once (every CI attempt's reports merged) teaches from its latest run only: an earlier,
superseded run teaches nothing (its times may be a failed, dying or cancelled run's), and a test whose time the
store already learned from an earlier run of the same shard (the first attempt's report job rebalanced and saved
the store) is not learned again from the re-run: one CI run, one observation per test.

How far the plan in use has drifted is `sharder.planning.forecast`'s question; this module only asks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sharder.durations import store
from sharder.durations.costs import costs_of_session
from sharder.durations.history import LastUpdate, absorbed_after
from sharder.durations.outcomes import last_outcomes, now, with_outcomes
from sharder.durations.skips import last_skips
from sharder.durations.trust import NotUsed, unused_reason
from sharder.planning.forecast import Forecast, forecast
from sharder.reports.inputs import AnyAttempt
from sharder.reports.junit_cases import is_collection_skip
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
    not_used: NotUsed = field(default_factory=NotUsed)
    inputs: int = 0  # reports and progress logs that gave the attempts
    absorbed_before: int = 0  # of those, how many the store had already absorbed (their attempts are not counted)

    @property
    def nothing_new(self) -> bool:
        """Every input was absorbed before: applying them again changes nothing."""
        return self.inputs > 0 and self.absorbed_before == self.inputs


def observations(attempts: Sequence[AnyAttempt]) -> tuple[dict[str, store.Observation], NotUsed]:
    """One observation per test, its last attempt that passed with a usable time, and the tests left out, by the
    reason of their last attempt.

    A case the report gave no time for is no observation: counted as 0 s it would halve a good duration
    through the moving average. A case with no name has a made-up id that no plan will ever collect."""
    observed: dict[str, store.Observation] = {}
    last_reason: dict[str, str] = {}
    for attempt in attempts:
        reason = unused_reason(attempt.outcome, message=attempt.message, timed=attempt.timed, named=attempt.named)
        if reason is None:
            observed[attempt.node_id] = store.Observation(attempt.seconds, attempt.setup_seconds, attempt.peak_rss_mb)
        else:
            last_reason[attempt.node_id] = reason
    return observed, NotUsed(reason for node_id, reason in last_reason.items() if node_id not in observed)


def _latest_runs_only(fresh: list[AnyAttempt], every: Sequence[AnyAttempt], known: set[str]) -> list[AnyAttempt]:
    """The fresh attempts of each shard's latest run, without the tests an absorbed earlier run of the same shard
    already taught the store (by the observation rule itself: a last passing attempt with a usable time)."""
    if not any(attempt.superseded for attempt in every):
        return fresh
    learned_before = set(observations([a for a in every if a.superseded and a.origin in known])[0])
    return [a for a in fresh if not a.superseded and a.node_id not in learned_before]


def covers_whole_plan(result: MergeResult) -> tuple[bool, str]:
    """Whether the reports are all of their plan's run, and a sentence saying why (not)."""
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


def may_prune(result: MergeResult) -> tuple[bool, str]:
    """Whether tests the store knows and the run did not are gone from the suite: the reports cover the whole
    plan, and the plan was made from a collection of the whole suite. A sentence saying why (not)."""
    complete, note = covers_whole_plan(result)
    if not complete:
        return False, note
    plan = result.identity.plan
    if plan is None:
        return False, ("no --plan given: the reports cover their plan, but only plan.json says whether it was made "
                       "from the whole suite")
    if plan.selected_by is None:
        return False, "the plan does not say whether it was made from the whole suite (an older sharder made it)"
    if plan.selected_by:
        return False, (f"the plan was made from a selection ({', '.join(map(_one_line, plan.selected_by))}): tests "
                       "outside it keep their timings")
    return True, note


def _one_line(text: str) -> str:
    """plan.json's text as it is, but with any control character escaped: a line break in a file passed between
    CI jobs would otherwise start a line of sharder's output that a CI runner reads as a command."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def rebalance(
    recorded: store.Durations,
    result: MergeResult,
    *,
    shards: int | None = None,
    group_by: str | None = None,
) -> Rebalance:
    origins = list(dict.fromkeys(attempt.origin for attempt in result.attempts if attempt.origin))
    known = set(recorded.absorbed)
    seen_before = sum(1 for origin in origins if origin in known)
    fresh = [attempt for attempt in result.attempts if attempt.origin not in known]
    learnable = _latest_runs_only(fresh, result.attempts, known)
    observed, not_used = observations(learnable)
    skipped = last_skips((a.node_id, a.outcome, a.seconds,
                          a.timed and a.named and not is_collection_skip(a.outcome, a.message)) for a in learnable)
    plan = result.identity.plan
    prunable, prune_note = may_prune(result)
    if origins and seen_before == len(origins):
        prunable, prune_note = False, "nothing new to learn"
    keep_only: set[str] | None = None
    if prunable:
        keep_only = set(result.tests) | (set(plan.all_tests()) if plan is not None else set())
    updated = store.updated(recorded, observed, keep_only=keep_only, skipped=skipped)
    if not (origins and seen_before == len(origins)):
        # What each shard paid besides its tests (its progress log's `costs` event) teaches the store's costs too.
        for shard in result.shards:
            if shard.timeline is not None and shard.timeline.tests:
                updated = store.updated(updated, {}, costs=costs_of_session(shard.timeline))
    new_tests = sum(1 for node_id in observed if node_id not in recorded.tests)
    pruned = len(recorded.tests) - (len(updated.tests) - new_tests)
    seen = last_outcomes((attempt.node_id, attempt.outcome) for attempt in fresh if attempt.named)
    updated = replace(
        updated,
        outcomes=with_outcomes(updated.outcomes, seen, now()),
        absorbed=absorbed_after(recorded.absorbed, origins),
        last_update=LastUpdate("rebalance", len(observed), pruned, plan.selected_by if plan is not None else None),
    )
    count = shards or result.identity.shards
    outlook: Forecast | None = None
    forecast_note = ""
    if count is None:
        forecast_note = "no shard count known: pass --shards N (or --plan) to compare predicted makespans"
    else:
        ids = plan.all_tests() if plan is not None else list(result.tests)
        if plan is None and not covers_whole_plan(result)[0]:
            forecast_note = f"predicted over the {len(ids)} tests these reports hold (pass --plan for the whole plan)"
        grouping = group_by or (plan.group_by if plan is not None else "test")
        outlook = forecast(ids, recorded.seconds(), updated.seconds(), count, group_by=grouping, in_use=plan)
    return Rebalance(updated, len(observed), new_tests, pruned, prune_note, outlook, forecast_note, not_used,
                     len(origins), seen_before)


def nothing_learned(outcome: Rebalance) -> str:
    """Why a rebalance that observed nothing changes nothing (for the one-line error)."""
    left_out = outcome.not_used.describe("case")
    detail = f" ({left_out})" if left_out else " (only skips, or nothing)"
    return f"the reports hold no test that passed with a usable time{detail}; durations left as they are"


def _these(count: int) -> str:
    return "this report" if count == 1 else f"these {count} reports"


def render(outcome: Rebalance, *, path: str, written: bool, threshold: float | None) -> list[str]:
    if outcome.nothing_new:
        lines = [f"sharder rebalance: {path} absorbed {_these(outcome.inputs)} before; nothing changed"]
    else:
        lines = [f"sharder rebalance: {outcome.observed} test timings observed"]
        if outcome.not_used:
            lines.append(f"sharder rebalance: {outcome.not_used.describe('case')} (only a passed test's time is learned)")
        if outcome.absorbed_before:
            lines.append(f"sharder rebalance: {outcome.absorbed_before} of {_these(outcome.inputs)} were "
                         f"absorbed into {path} before; their cases were not counted again")
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
    if not store.remembers_history(path) and not outcome.nothing_new:
        lines.append(f"note: {path} is in pytest-split's format, which cannot remember the reports it absorbed: "
                     "rebalancing these reports again would count them again (durations.json can)")
    lines.append(f"{'wrote' if written else 'did not write'} {path}")
    return lines
