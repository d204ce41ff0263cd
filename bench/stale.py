"""Benchmark: planning from stale durations, replayed over committed histories as a CI would live them.

Each `<shared>/bench/history/<project>/` holds successive committed versions of a project's durations file. For
every consecutive pair (k, k+1) and every N, the plan is made before version k+1 runs, from what CI knows then,
and scored on what version k+1 really took (its durations, its test set):
- `sharder`: a durations store fed through sharder's own update (`sharder.durations.store.updated`, what
  `sharder rebalance` calls) with every version up to k, pruned to each version's tests; version k+1's tests are
  planned from it, new ones estimated by the planner.
- `least_dur`: pytest-split's `least_duration` with version k's file as committed (pytest-split users commit the
  latest `.test_durations`), new tests at its average.
- `oracle`: sharder's planner given version k+1's real durations: what is left is packing, so the gap between it
  and the others is the price of staleness itself.
- `luck band`: sharder's result over `--luck` plans made from the same store with every recorded time jittered by
  +-1% (far below the tests' own noise): equally good plans. Where least_dur falls inside the band, the difference
  between the two is luck, not estimation.
The score is the real slowest shard (each test at its version k+1 seconds) over the lower bound of version k+1's
real durations; reported as the geometric mean and the worst over all pairs, per N, with the pairs each planner
won and a bootstrap 95% interval of the time sharder saves: an interval that straddles 0 says the history holds
too few pairs to tell the two apart at that N.

`--variants` adds one line per estimation or hedging idea (mean log-gap to least_duration over the N measured):
the evidence behind what sharder keeps and what it dropped.

    python bench/stale.py [--shared DIR] [--shards 2-64] [--projects pgmpy] [--luck 6] [--variants]
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from reference import bench_parser, geometric_mean, history_projects, load_flat, makespan, pytest_split_bins

from sharder.core.nodeid import module_of
from sharder.core.table import format_table
from sharder.durations import store
from sharder.planning.estimate import SIBLING_PRIOR_TESTS, estimate_unknown
from sharder.planning.partition import _improve as improve
from sharder.planning.partition import lower_bound, partition
from sharder.planning.planner import make_plan

JITTER = 0.01


@dataclass
class Pair:
    """What CI knows before version k+1 runs, and what version k+1 then took."""

    node_ids: list[str]
    recorded: store.Durations  # sharder's store after versions 0..k
    history: dict[str, list[float]]  # per test still collected: its times in versions 0..k
    previous: dict[str, float]  # version k's file as committed
    actual: dict[str, float]  # version k+1

    def ratio(self, bins: Sequence[Sequence[str]], shards: int) -> float:
        return makespan(bins, self.actual) / lower_bound(list(self.actual.values()), shards)


def fed(recorded: store.Durations, version: dict[str, float]) -> store.Durations:
    """The store after a complete CI run of `version`: every test observed, the ones gone pruned."""
    observed = {node_id: store.Observation(seconds) for node_id, seconds in version.items()}
    return store.updated(recorded, observed, keep_only=version.keys())


def pairs(versions: list[dict[str, float]]) -> Iterator[Pair]:
    recorded = fed(store.Durations(tests={}), versions[0])
    history = {node_id: [seconds] for node_id, seconds in versions[0].items()}
    for previous, current in pairwise(versions):
        yield Pair(list(current), recorded, {t: history[t] for t in current if t in history}, previous, current)
        recorded = fed(recorded, current)
        history = {t: [*history.get(t, []), seconds] for t, seconds in current.items()}


def _plan(node_ids: list[str], seconds: dict[str, float], shards: int) -> list[list[str]]:
    return [list(b.tests) for b in make_plan(node_ids, seconds, shards).bins]


def sharder_bins(pair: Pair, shards: int) -> list[list[str]]:
    plan = make_plan(pair.node_ids, pair.recorded.seconds(), shards, setup_seconds=pair.recorded.setup_seconds())
    return [list(b.tests) for b in plan.bins]


def jittered_bins(pair: Pair, shards: int, rng: random.Random) -> list[list[str]]:
    seconds = {t: s * (1 + JITTER * (2 * rng.random() - 1)) for t, s in pair.recorded.seconds().items()}
    return _plan(pair.node_ids, seconds, shards)


# --- variants: the ideas measured against the store as it is -------------------------------------------------------

Variant = Callable[[Pair, int], list[list[str]]]


def _ema(values: list[float], weight: float) -> float:
    estimate = values[0]
    for value in values[1:]:
        estimate += weight * (value - estimate)
    return estimate


def from_history(estimate: Callable[[list[float]], float], prior_tests: float = SIBLING_PRIOR_TESTS) -> Variant:
    """Known tests at `estimate(their history)`, new ones at sharder's sibling estimate (with `prior_tests`)."""

    def bins(pair: Pair, shards: int) -> list[list[str]]:
        known = {t: estimate(h) for t, h in pair.history.items()}
        known.update(estimate_unknown(pair.node_ids, known, prior_tests=prior_tests))
        return _plan(pair.node_ids, known, shards)

    return bins


def store_with_prior(prior_tests: float) -> Variant:
    """Known tests from the store, new ones at sibling estimates shrunk with `prior_tests`."""

    def bins(pair: Pair, shards: int) -> list[list[str]]:
        known = pair.recorded.seconds()
        known.update(estimate_unknown(pair.node_ids, known, prior_tests=prior_tests))
        return _plan(pair.node_ids, known, shards)

    return bins


def new_at_average(pair: Pair, shards: int) -> list[list[str]]:
    """Known tests from the store, new ones at the suite average (pytest-split's estimate)."""
    known = pair.recorded.seconds()
    average = math.fsum(known.values()) / len(known)
    return _plan(pair.node_ids, {t: known.get(t, average) for t in pair.node_ids}, shards)


def _store_seconds(pair: Pair) -> tuple[dict[str, float], dict[str, float]]:
    """(every test's planning seconds, the new tests' estimates)."""
    known = pair.recorded.seconds()
    estimates = estimate_unknown(pair.node_ids, known)
    return {t: estimates.get(t, known.get(t, 0.0)) for t in pair.node_ids}, estimates


def variance_hedged(kappa: float) -> Variant:
    """Pack on mean + kappa * sigma_t^2 / (2 sqrt(mean shard variance)): a linearised `mean + kappa * shard sd`,
    so shards holding noisy tests get slack. sigma_t from the test's history (half the mean squared step), new
    tests at sigma = their estimate."""

    def bins(pair: Pair, shards: int) -> list[list[str]]:
        seconds, _ = _store_seconds(pair)
        variance = {}
        for node_id in pair.node_ids:
            values = pair.history.get(node_id, [])
            steps = [(b - a) ** 2 for a, b in pairwise(values)]
            variance[node_id] = statistics.fmean(steps) / 2 if steps else seconds[node_id] ** 2
        shard_sd = math.sqrt(math.fsum(variance.values()) / shards)
        scale = kappa / (2 * shard_sd) if shard_sd > 0 else 0.0
        weights = [seconds[t] + scale * variance[t] for t in pair.node_ids]
        return [[pair.node_ids[i] for i in members] for members in partition(pair.node_ids, weights, shards)]

    return bins


def new_tests_spread_first(pair: Pair, shards: int) -> list[list[str]]:
    """Hedge: the unrecorded tests are packed first, so every shard holds an equal share of the guesses."""
    seconds, estimates = _store_seconds(pair)
    loads = [0.0] * shards
    bins: list[list[str]] = [[] for _ in range(shards)]
    for group in (sorted(estimates), sorted(t for t in pair.node_ids if t not in estimates)):
        for node_id in sorted(group, key=lambda t: -seconds[t]):
            lightest = min(range(shards), key=loads.__getitem__)
            bins[lightest].append(node_id)
            loads[lightest] += seconds[node_id]
    return bins


def modules_spread(pair: Pair, shards: int) -> list[list[str]]:
    """Hedge against errors shared by a module (about 15% of onegov-cloud's variance of log(k+1 / k)): LPT, but
    among the shards within half the unit's weight of the lightest, the one holding least of its module so far;
    then sharder's local search for balance."""
    seconds, _ = _store_seconds(pair)
    order = sorted(pair.node_ids, key=lambda t: (-seconds[t], t))
    loads = [0.0] * shards
    module_share: dict[str, list[float]] = {}
    bins: list[list[str]] = [[] for _ in range(shards)]
    for node_id in order:
        weight, share = seconds[node_id], module_share.setdefault(module_of(node_id), [0.0] * shards)
        lightest = min(loads)
        shard = min((s for s in range(shards) if loads[s] <= lightest + weight / 2),
                    key=lambda s: (share[s], loads[s], s))
        bins[shard].append(node_id)
        loads[shard] += weight
        share[shard] += weight
    weights = [seconds[t] for t in order]
    shard_of = {t: s for s, members in enumerate(bins) for t in members}
    ordered = [shard_of[t] for t in order]
    improve(weights, ordered, loads, lower_bound(weights, shards))
    result: list[list[str]] = [[] for _ in range(shards)]
    for node_id, shard in zip(order, ordered, strict=True):
        result[shard].append(node_id)
    return result


def backtest_selected(candidates: int, runs: int) -> Variant:
    """Of `candidates` equally good plans (sharder's, and jittered by 1%), the one whose slowest shard would have
    been lowest on the last `runs` recorded runs (each test at its time then; estimates for tests without one):
    the past runs as samples of the noise, volatile tests and module-wide shifts included."""

    def bins(pair: Pair, shards: int) -> list[list[str]]:
        seconds, _ = _store_seconds(pair)
        rng = random.Random(f"backtest/{len(pair.node_ids)}/{shards}")
        plans = [_plan(pair.node_ids, seconds, shards)]
        plans += [jittered_bins(pair, shards, rng) for _ in range(candidates - 1)]
        scenarios = [{t: h[-back] for t, h in pair.history.items() if len(h) >= back} for back in range(1, runs + 1)]

        def regret(plan: list[list[str]]) -> float:
            total = 0.0
            for scenario in scenarios:
                loads = [math.fsum(scenario.get(t, seconds[t]) for t in members) for members in plan]
                total += math.log(max(loads) * shards / math.fsum(loads))
            return total

        return min(plans, key=regret)

    return bins


VARIANTS: dict[str, Variant] = {
    "sharder (store: EMA 0.5 + regime reset)": sharder_bins,
    "before: EMA 0.5, no regime reset, sibling means": from_history(lambda h: _ema(h, 0.5), prior_tests=0),
    "EMA 0.5, no regime reset": from_history(lambda h: _ema(h, 0.5)),
    "store, plain sibling means (no shrinking)": store_with_prior(0),
    "EMA 0.3": from_history(lambda h: _ema(h, 0.3)),
    "EMA 0.7": from_history(lambda h: _ema(h, 0.7)),
    "last value": from_history(lambda h: h[-1]),
    "median of the last 3": from_history(lambda h: statistics.median(h[-3:])),
    "max of the last 2 (robust upward)": from_history(lambda h: max(h[-2:])),
    "new tests at the suite average": new_at_average,
    "hedge: variance-weighted, kappa 1": variance_hedged(1.0),
    "hedge: new tests spread first": new_tests_spread_first,
    "hedge: modules spread across shards": modules_spread,
    "hedge: best of 8 plans on the last 3 runs": backtest_selected(8, 3),
    "oracle (k+1 durations known)": lambda pair, shards: _plan(pair.node_ids, pair.actual, shards),
}


# --- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    project: str
    pairs: int
    ratios: dict[str, dict[int, list[float]]]  # column -> N -> one ratio per pair
    luck: dict[int, list[float]]  # N -> geometric mean of each jittered run


def replay(project: str, versions: list[dict[str, float]], counts: Sequence[int], luck: int,
           variants: dict[str, Variant]) -> Result:
    columns: dict[str, Variant] = {
        "sharder": sharder_bins,
        "least_dur": lambda pair, n: pytest_split_bins("least_duration", pair.node_ids, pair.previous, n),
        "oracle": VARIANTS["oracle (k+1 durations known)"],
        **variants,
    }
    ratios: dict[str, dict[int, list[float]]] = {name: {n: [] for n in counts} for name in columns}
    jittered: list[dict[int, list[float]]] = [{n: [] for n in counts} for _ in range(luck)]
    count = 0
    for pair in pairs(versions):
        count += 1
        for shards in counts:
            for name, planner in columns.items():
                ratios[name][shards].append(pair.ratio(planner(pair, shards), shards))
            for seed, runs in enumerate(jittered):
                rng = random.Random(f"{project}/{count}/{shards}/{seed}")
                runs[shards].append(pair.ratio(jittered_bins(pair, shards, rng), shards))
    band = {n: [geometric_mean(runs[n]) for runs in jittered] for n in counts}
    return Result(project, count, ratios, band)


BOOTSTRAP_SAMPLES = 2000


def paired(ours: Sequence[float], theirs: Sequence[float], seed: str) -> tuple[int, int, float, float]:
    """Pairs where ours was lower and higher, and a 95% bootstrap interval (over the pairs) of the time saved,
    1 - geo(ours) / geo(theirs): whether a difference of geometric means is more than which pairs the history
    happened to hold."""
    gaps = [math.log(a / b) for a, b in zip(ours, theirs, strict=True)]
    rng = random.Random(seed)
    saved = sorted(1 - math.exp(statistics.fmean(rng.choices(gaps, k=len(gaps)))) for _ in range(BOOTSTRAP_SAMPLES))
    low, high = saved[int(0.025 * BOOTSTRAP_SAMPLES)], saved[int(0.975 * BOOTSTRAP_SAMPLES) - 1]
    return sum(g < -1e-12 for g in gaps), sum(g > 1e-12 for g in gaps), low, high


def main_table(result: Result) -> tuple[str, list[str]]:
    """The table, and the N where sharder is not lower than least_duration."""
    rows, flags = [], []
    for shards, ours in result.ratios["sharder"].items():
        theirs = result.ratios["least_dur"][shards]
        ours_mean, theirs_mean = geometric_mean(ours), geometric_mean(theirs)
        band = result.luck[shards]
        where = ""
        if band:
            low, high = min(band), max(band)
            where = "below" if theirs_mean < low else "above" if theirs_mean > high else "inside"
        lower, higher, low, high = paired(ours, theirs, f"{result.project}/{shards}")
        rows.append((shards, f"{ours_mean:.4f}", f"{max(ours):.4f}", f"{theirs_mean:.4f}", f"{max(theirs):.4f}",
                     f"{100 * (1 - ours_mean / theirs_mean):+.2f}%", f"{100 * low:+.2f}%..{100 * high:+.2f}%",
                     f"{lower}/{higher}",
                     f"{min(band):.4f}-{max(band):.4f}" if band else "-", where,
                     f"{geometric_mean(result.ratios['oracle'][shards]):.4f}"))
        if ours_mean >= theirs_mean and not ours_mean == theirs_mean == 1.0:
            flags.append(f"{result.project} N={shards}: geometric mean {ours_mean:.4f} vs least_duration "
                         f"{theirs_mean:.4f} (least_duration {where or 'n/a'} sharder's luck band)")
    header = ("N", "sharder geo", "worst", "least_dur geo", "worst", "saved", "saved 95% CI", "pairs won/lost",
              "sharder luck band", "least_dur is",
              "oracle geo")
    title = f"{result.project}: {result.pairs} pairs (plan from k, score on k+1), makespan / bound of k+1"
    return f"{title}\n{format_table(header, rows)}", flags


def variants_table(result: Result, names: Sequence[str]) -> str:
    reference = {n: geometric_mean(r) for n, r in result.ratios["least_dur"].items()}
    rows = []
    for name in names:
        gaps = [math.log(geometric_mean(r) / reference[n]) for n, r in result.ratios[name].items()]
        rows.append((name, f"{100 * statistics.fmean(gaps):+.3f}%", sum(g < -1e-12 for g in gaps),
                     sum(abs(g) <= 1e-12 for g in gaps), sum(g > 1e-12 for g in gaps),
                     f"{max(max(r) for r in result.ratios[name].values()):.4f}"))
    rows.append(("least_duration (reference)", "+0.000%", "-", "-", "-",
                 f"{max(max(r) for r in result.ratios['least_dur'].values()):.4f}"))
    header = ("variant", "mean log-gap", "N lower", "tied", "higher", "worst")
    return (f"{result.project}: variants against least_duration (negative gap = faster)\n"
            + format_table(header, rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--projects", help="comma-separated history names (default: all)")
    parser.add_argument("--luck", type=int, default=6, metavar="K", help="jittered plans for the luck band (0: none)")
    parser.add_argument("--variants", action="store_true", help="also measure the estimation and hedging ideas")
    args = parser.parse_args(argv)

    projects = history_projects(args.shared, args.projects, "stale")
    if not projects:
        return 2
    variants = {name: v for name, v in VARIANTS.items() if name != "sharder (store: EMA 0.5 + regime reset)"
                and not name.startswith("oracle")} if args.variants else {}
    all_flags: list[str] = []
    for project in projects:
        versions = [load_flat(path) for path in sorted(project.glob("*.json"))]
        result = replay(project.name, versions, args.shards, args.luck, variants)
        table, flags = main_table(result)
        print(table, end="\n\n", flush=True)
        if variants:
            print(variants_table(result, ["sharder", *variants, "oracle"]), end="\n\n", flush=True)
        all_flags.extend(flags)
    print("Flags (sharder not lower than least_duration):", "none" if not all_flags else "")
    for flag in all_flags:
        print(f"  {flag}")
    return 1 if all_flags else 0


if __name__ == "__main__":
    raise SystemExit(main())
