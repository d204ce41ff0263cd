"""Choosing how many shards a CI run needs to finish within a target wall time (pure: no files, pytest or CI).

A shard job costs its tests plus a fixed overhead (machine start, checkout, install, collection), so N shards
finish in `slowest shard + overhead` and use `sum of shards + N * overhead` of machine time. The answer is the
smallest N whose *planned* slowest shard fits: more shards than that only buy machine time.

The lower bound of the planner (`partition.lower_bound`, never above what any plan can reach, and non-increasing
in N) finds the first N worth planning without planning every N; the real plan decides, since a planned shard can
sit a little above the bound (and carries the fixture cost of split modules).

When no N up to the limit fits, the answer is the N with the best wall time: past `total / longest` shards
(`useful_shards`) the longest test alone sets it, and the tests longer than the time left after the overhead are
the ones that make the target impossible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.core.table import seconds_text
from sharder.durations.costs import SuiteCosts
from sharder.planning.estimate import estimate_unknown
from sharder.planning.partition import lower_bound, useful_shards
from sharder.planning.planner import make_plan

# GitHub Actions runs at most 256 jobs from one matrix.
MATRIX_JOB_LIMIT = 256
# GitHub's free plan runs 20 jobs at once; more shards than that queue, so by default the search stops there.
DEFAULT_MAX_SHARDS = 20
# When nothing fits: an N whose wall time is within 1% of the best found is as good, and fewer jobs cost less.
BEST_TOLERANCE = 0.01
# Plans tried past the first N the bound allows, when the plans keep landing above the target.
MAX_EXTRA_PLANS = 16


@dataclass(frozen=True)
class ShardForecast:
    """What N shards are predicted to cost, from the plan the planner would make for N."""

    shards: int
    slowest_seconds: float  # the slowest shard's tests (and repeated fixtures), without the job overhead
    busy_seconds: float  # all shards' tests together
    overhead_seconds: float  # per job

    @property
    def wall_seconds(self) -> float:
        return self.slowest_seconds + self.overhead_seconds

    @property
    def machine_seconds(self) -> float:
        return self.busy_seconds + self.shards * self.overhead_seconds


@dataclass(frozen=True)
class ShardChoice:
    shards: int
    fits: bool
    target_seconds: float
    overhead_seconds: float
    max_shards: int
    total_seconds: float
    tests: int
    useful_shards: float  # total / longest: past this, the longest test sets the wall time
    forecasts: tuple[ShardForecast, ...]  # every N that was planned, ascending
    blockers: tuple[tuple[str, float], ...]  # tests that alone take longer than target - overhead, longest first
    reason: str  # one sentence: why this N

    @property
    def chosen(self) -> ShardForecast:
        return next(f for f in self.forecasts if f.shards == self.shards)


Forecaster = Callable[[int], ShardForecast]


@dataclass(frozen=True)
class SuiteTimes:
    """Every test's seconds (recorded, or estimated from its relatives) in collection order; with `costs` (the
    store's per-process and per-file costs) each N is forecast by its predicted walls, not its test time."""

    ids: tuple[str, ...]
    seconds: tuple[float, ...]
    setup_seconds: Mapping[str, float]
    costs: SuiteCosts | None = None
    group_by: str = "test"

    @classmethod
    def of(cls, node_ids: Sequence[str], known_seconds: Mapping[str, float],
           setup_seconds: Mapping[str, float] | None = None, *, costs: SuiteCosts | None = None,
           group_by: str = "test") -> SuiteTimes:
        ids = tuple(dict.fromkeys(node_ids))
        estimates = estimate_unknown(list(ids), known_seconds)
        seconds = tuple(estimates[n] if n in estimates else known_seconds[n] for n in ids)
        return cls(ids, seconds, setup_seconds or {}, costs, group_by)

    def forecaster(self, overhead_seconds: float) -> Forecaster:
        """Forecasts from real plans (made as `sharder plan` makes them by default), each N planned once. With
        costs, a shard's time is its predicted wall: what its process pays to start and collect shrinks with its
        footprint, but never goes away, so past some N more shards are only dearer, or slower."""
        known = dict(zip(self.ids, self.seconds, strict=True))
        cache: dict[int, ShardForecast] = {}

        def forecast(shards: int) -> ShardForecast:
            if shards not in cache:
                plan = make_plan(self.ids, known, shards, setup_seconds=self.setup_seconds, costs=self.costs,
                                 group_by=self.group_by)
                if plan.predicts_wall:
                    walls = [b.predicted_wall_seconds or 0.0 for b in plan.bins]
                    cache[shards] = ShardForecast(shards, max(walls, default=0.0), math.fsum(walls), overhead_seconds)
                else:
                    cache[shards] = ShardForecast(shards, plan.makespan,
                                                  math.fsum(b.predicted_seconds for b in plan.bins), overhead_seconds)
            return cache[shards]

        return forecast


def check_limits(target_seconds: float, overhead_seconds: float, max_shards: int) -> None:
    if not target_seconds > 0:
        raise SharderError("the target must be longer than 0s")
    if overhead_seconds < 0:
        raise SharderError("the job overhead cannot be negative")
    if not 1 <= max_shards <= MATRIX_JOB_LIMIT:
        raise SharderError(f"--max-shards must be between 1 and {MATRIX_JOB_LIMIT} (GitHub's matrix job limit), "
                           f"got {max_shards}")


def _first_at_or_below(bound: Callable[[int], float], limit: float, max_shards: int) -> int | None:
    """The smallest N in 1..max_shards with bound(N) <= limit (bound is non-increasing in N), or None."""
    if bound(max_shards) > limit:
        return None
    low, high = 1, max_shards
    while low < high:
        middle = (low + high) // 2
        if bound(middle) <= limit:
            high = middle
        else:
            low = middle + 1
    return low


def choose_shards(
    suite: SuiteTimes,
    *,
    target_seconds: float,
    overhead_seconds: float = 0.0,
    max_shards: int = DEFAULT_MAX_SHARDS,
    forecast: Forecaster | None = None,
    max_machine_seconds: float | None = None,
) -> ShardChoice:
    """The smallest N (1..max_shards) whose planned wall time fits the target, else the best N, with reasons.

    With `max_machine_seconds` (a runner-minutes budget) every N up to max_shards is planned, and the choice is
    among the N within the budget: the smallest that fits the target, else the fastest."""
    check_limits(target_seconds, overhead_seconds, max_shards)
    predict = forecast or suite.forecaster(overhead_seconds)
    if max_machine_seconds is not None:
        return _within_budget(suite, predict, target_seconds, overhead_seconds, max_shards, max_machine_seconds)
    weights = suite.seconds
    bounds: dict[int, float] = {}

    def bound(shards: int) -> float:
        if shards not in bounds:
            bounds[shards] = lower_bound(weights, shards)
        return bounds[shards]

    budget = target_seconds - overhead_seconds
    tried: dict[int, ShardForecast] = {}
    first = _first_at_or_below(bound, budget, max_shards) if budget >= 0 else None
    if first is not None:
        for shards in range(first, min(max_shards, first + MAX_EXTRA_PLANS) + 1):
            tried[shards] = predict(shards)
            if tried[shards].wall_seconds <= target_seconds:
                return _choice(suite, shards, True, tried, predict, target_seconds, overhead_seconds, max_shards,
                               _fit_reason(tried[shards], target_seconds, first_planned=first))
    best = _best_shards(bound, predict, tried, max_shards)
    return _choice(suite, best, False, tried, predict, target_seconds, overhead_seconds, max_shards,
                   _miss_reason(suite, tried[best], target_seconds, overhead_seconds, max_shards))


def _within_budget(suite: SuiteTimes, predict: Forecaster, target_seconds: float, overhead_seconds: float,
                   max_shards: int, budget_seconds: float) -> ShardChoice:
    if not budget_seconds > 0:
        raise SharderError("the runner-minutes budget must be more than 0")
    tried = {shards: predict(shards) for shards in range(1, max_shards + 1)}
    affordable = [f for f in tried.values() if f.machine_seconds <= budget_seconds]
    if not affordable:
        cheapest = min(tried.values(), key=lambda f: (f.machine_seconds, f.shards))
        return _choice(suite, cheapest.shards, False, tried, predict, target_seconds, overhead_seconds, max_shards,
                       f"no shard count fits the budget of {seconds_text(budget_seconds)} runner time; choosing "
                       f"{_shards_text(cheapest.shards)}, the cheapest ({seconds_text(cheapest.machine_seconds)})")
    fitting = [f for f in affordable if f.wall_seconds <= target_seconds]
    if fitting:
        chosen = min(fitting, key=lambda f: f.shards)
        return _choice(suite, chosen.shards, True, tried, predict, target_seconds, overhead_seconds, max_shards,
                       f"{_shards_text(chosen.shards)}: the smallest count within the budget of "
                       f"{seconds_text(budget_seconds)} runner time whose predicted wall time "
                       f"({seconds_text(chosen.wall_seconds)}) fits the target ({seconds_text(target_seconds)})")
    fastest = min(affordable, key=lambda f: (f.wall_seconds, f.shards))
    return _choice(suite, fastest.shards, False, tried, predict, target_seconds, overhead_seconds, max_shards,
                   f"no shard count within the budget of {seconds_text(budget_seconds)} runner time fits the target "
                   f"({seconds_text(target_seconds)}); choosing {_shards_text(fastest.shards)}, the fastest within it "
                   f"({seconds_text(fastest.wall_seconds)}, {seconds_text(fastest.machine_seconds)} of runner time)")


def more_shards_note(forecasts: Sequence[ShardForecast], index: int) -> str:
    """What N shards give over the next smaller N planned: nothing to say, "slower", or "only dearer" (under
    BEST_TOLERANCE faster for more runner time)."""
    if index == 0:
        return ""
    before, now = forecasts[index - 1], forecasts[index]
    if now.wall_seconds > before.wall_seconds * (1 + 1e-9):
        return f"slower than {before.shards}"
    if now.wall_seconds >= before.wall_seconds * (1 - BEST_TOLERANCE) and now.machine_seconds > before.machine_seconds:
        return f"only dearer than {before.shards}"
    return ""


def _best_shards(bound: Callable[[int], float], predict: Forecaster, tried: dict[int, ShardForecast],
                 max_shards: int) -> int:
    """The smallest N whose planned wall time is within BEST_TOLERANCE of the best reachable (planned) one."""
    floor = bound(max_shards)  # no N <= max_shards can beat this
    start = _first_at_or_below(bound, floor * (1 + BEST_TOLERANCE), max_shards) or max_shards
    for shards in range(start, min(max_shards, start + MAX_EXTRA_PLANS) + 1):
        if shards not in tried:
            tried[shards] = predict(shards)
        if tried[shards].slowest_seconds <= floor * (1 + BEST_TOLERANCE):
            break
    fastest = min(f.slowest_seconds for f in tried.values())
    return min(n for n, f in tried.items() if f.slowest_seconds <= fastest * (1 + BEST_TOLERANCE))


def _choice(suite: SuiteTimes, shards: int, fits: bool, tried: dict[int, ShardForecast], predict: Forecaster,
            target_seconds: float, overhead_seconds: float, max_shards: int, reason: str) -> ShardChoice:
    # The table shows the chosen N in context: one shard (the serial cost), two below and two above.
    for neighbour in {1, *range(max(1, shards - 2), min(max_shards, shards + 2) + 1)}:
        if neighbour not in tried:
            tried[neighbour] = predict(neighbour)
    budget = target_seconds - overhead_seconds
    too_long = ((node_id, s) for node_id, s in zip(suite.ids, suite.seconds, strict=True) if s > budget)
    blockers = sorted(too_long, key=lambda pair: (-pair[1], pair[0]))
    return ShardChoice(
        shards=shards, fits=fits, target_seconds=target_seconds, overhead_seconds=overhead_seconds,
        max_shards=max_shards, total_seconds=math.fsum(suite.seconds), tests=len(suite.ids),
        useful_shards=useful_shards(suite.seconds), forecasts=tuple(tried[n] for n in sorted(tried)),
        blockers=tuple(blockers) if budget > 0 else (), reason=reason,
    )


def _shards_text(count: int) -> str:
    return f"{count} shard{'' if count == 1 else 's'}"


def _fit_reason(chosen: ShardForecast, target_seconds: float, *, first_planned: int) -> str:
    if chosen.shards == 1:
        fewer = "one shard is enough"
    elif chosen.shards == first_planned:
        fewer = "with fewer, even a perfect split of the tests would take longer"
    else:
        fewer = "fewer are planned to take longer"
    return (f"{_shards_text(chosen.shards)}: the smallest count whose predicted wall time "
            f"({seconds_text(chosen.wall_seconds)}) fits the target ({seconds_text(target_seconds)}); {fewer}")


def _miss_reason(suite: SuiteTimes, best: ShardForecast, target_seconds: float, overhead_seconds: float,
                 max_shards: int) -> str:
    budget = target_seconds - overhead_seconds
    longer = sum(1 for s in suite.seconds if s > budget)
    whys = []
    if budget <= 0:
        whys.append(f"the job overhead alone ({seconds_text(overhead_seconds)}) uses up the target "
                    f"({seconds_text(target_seconds)})")
    else:
        if longer:
            whys.append(f"{longer} test{'s' if longer > 1 else ''} alone take{'' if longer > 1 else 's'} longer "
                        f"than the {seconds_text(budget)} left after the job overhead")
        if not longer or math.fsum(suite.seconds) / max_shards > budget:
            whys.append(f"{_shards_text(max_shards)} (--max-shards) are not enough for "
                        f"{seconds_text(math.fsum(suite.seconds))} of tests")
    return (f"no shard count up to {max_shards} fits the target: {'; and '.join(whys)}; choosing "
            f"{_shards_text(best.shards)}, the fewest with the best predicted wall time "
            f"({seconds_text(best.wall_seconds)})")
