"""Benchmark: makespan over the lower bound on real durations files, sharder beside pytest-split, in one run.

For every file in `<shared>/bench/durations/` and every N, the slowest shard over the ungrouped lower bound
(`max(total/N, longest test, p_N + p_(N+1))`, tests free) for:
- `sharder`: `--group-by test`;
- `least_dur` and `chunks`: pytest-split's `least_duration` and `duration_based_chunks`, called from the
  installed pytest-split with stand-in items;
- `whole mod`: whole modules packed by sharder's partitioner with no splitting (what file-level grouping, e.g.
  pytest-xdist's loadfile, can at best reach);
- `module` / `auto`: `--group-by module` and `--group-by auto`, with how many modules each split.

A second table replays the grouped modes with a simulated fixture cost: every module's first test (by id) pays a
one-off setup of `--fixture-share` of the module's time, recorded as that test's setup time, and every further
shard the module lands in pays it again. There the score is the real slowest shard including those repeats, over
the same bound, so a plan that scatters modules is charged what it costs.

Then the whole-process time of `sharder plan --from-durations` on a generated 200,000-test file (plan_speed.py).

    python bench/balance.py [--shared DIR] [--shards 2-64] [--fixture-share 0.05] [--no-speed]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plan_speed import run_speed_benchmark
from reference import (
    PYTEST_SPLIT_ALGORITHMS,
    bench_parser,
    geometric_mean,
    load_flat,
    makespan,
    pytest_split_bins,
)

from sharder.core.nodeid import module_of
from sharder.core.table import format_table
from sharder.planning.partition import lower_bound, partition, useful_shards
from sharder.planning.planner import make_plan

AUTO_GOAL = 1.10  # issue 7: auto within 10% of the ungrouped bound wherever N is below the useful shard count


@dataclass
class Row:
    shards: int
    bound: float
    ratios: dict[str, float]
    splits: dict[str, int]


def _modules(node_ids: Sequence[str]) -> dict[str, list[str]]:
    modules: dict[str, list[str]] = {}
    for node_id in node_ids:
        modules.setdefault(module_of(node_id), []).append(node_id)
    return modules


def whole_module_makespan(durations: Mapping[str, float], shards: int) -> float:
    modules = _modules(list(durations))
    keys = sorted(modules)
    weights = [math.fsum(durations[t] for t in modules[k]) for k in keys]
    return max(math.fsum(weights[i] for i in members) for members in partition(keys, weights, shards))


def static_row(durations: dict[str, float], shards: int) -> Row:
    ids = list(durations)
    bound = lower_bound(list(durations.values()), shards)
    ratios: dict[str, float] = {}
    splits: dict[str, int] = {}
    for mode, column in (("test", "sharder"), ("module", "module"), ("auto", "auto")):
        plan = make_plan(ids, durations, shards, group_by=mode)
        ratios[column] = makespan([b.tests for b in plan.bins], durations) / bound
        splits[column] = plan.split_units
    for algorithm in PYTEST_SPLIT_ALGORITHMS:
        ratios[algorithm] = makespan(pytest_split_bins(algorithm, ids, durations, shards), durations) / bound
    ratios["whole mod"] = whole_module_makespan(durations, shards) / bound
    return Row(shards, bound, ratios, splits)


@dataclass
class SimulatedSuite:
    """Recorded seconds and setup times of a suite whose modules each pay a one-off fixture in every shard."""

    seconds: dict[str, float]
    setup: dict[str, float]
    cost: dict[str, float]  # module -> one-off seconds
    payer: dict[str, str]  # module -> the test whose recorded time includes it

    def real_makespan(self, bins: Sequence[Sequence[str]]) -> tuple[float, float]:
        """(slowest shard, fixture seconds repeated): an independent scoring of the planner's cost model."""
        charges = []
        for shard in bins:
            present = {module_of(t) for t in shard}
            held = set(shard)
            charges.append(math.fsum(self.cost[m] for m in present if m in self.cost and self.payer[m] not in held))
        return makespan(bins, self.seconds, charges), math.fsum(charges)


def simulate(durations: Mapping[str, float], share: float) -> SimulatedSuite:
    seconds = dict(durations)
    setup = dict.fromkeys(durations, 0.0)
    cost: dict[str, float] = {}
    payer: dict[str, str] = {}
    for module, members in _modules(list(durations)).items():
        if len(members) < 2:
            continue
        first = min(members)
        cost[module] = share * math.fsum(durations[t] for t in members)
        payer[module] = first
        seconds[first] += cost[module]
        setup[first] = cost[module]
    return SimulatedSuite(seconds, setup, cost, payer)


def fixture_row(suite: SimulatedSuite, shards: int) -> Row:
    ids = sorted(suite.seconds)
    bound = lower_bound(list(suite.seconds.values()), shards)
    ratios: dict[str, float] = {}
    splits: dict[str, int] = {}
    for mode, column in (("test", "sharder"), ("module", "module"), ("auto", "auto")):
        plan = make_plan(ids, suite.seconds, shards, group_by=mode, setup_seconds=suite.setup)
        real, repeated = suite.real_makespan([b.tests for b in plan.bins])
        ratios[column] = real / bound
        ratios[f"{column} fix s"] = repeated
        splits[column] = plan.split_units
    least = pytest_split_bins("least_duration", ids, suite.seconds, shards)
    ratios["least_duration"], ratios["least_duration fix s"] = suite.real_makespan(least)
    ratios["least_duration"] /= bound
    return Row(shards, bound, ratios, splits)


def _r(value: float) -> str:
    return f"{value:.4f}"


def static_table(name: str, rows: list[Row], useful: float) -> str:
    header = ("N", "bound s", "sharder", "least_dur", "chunks", "whole mod", "module", "split", "auto", "split")
    body = [
        (row.shards, f"{row.bound:.1f}", _r(row.ratios["sharder"]), _r(row.ratios["least_duration"]),
         _r(row.ratios["duration_based_chunks"]), _r(row.ratios["whole mod"]), _r(row.ratios["module"]),
         row.splits["module"], _r(row.ratios["auto"]), row.splits["auto"])
        for row in rows
    ]
    return f"{name} (useful N {useful:.1f})\n" + format_table(header, body)


def fixture_table(name: str, rows: list[Row]) -> str:
    header = ("N", "sharder", "fix s", "least_dur", "fix s", "module", "split", "fix s", "auto", "split", "fix s")
    body = [
        (row.shards, _r(row.ratios["sharder"]), f"{row.ratios['sharder fix s']:.0f}",
         _r(row.ratios["least_duration"]), f"{row.ratios['least_duration fix s']:.0f}",
         _r(row.ratios["module"]), row.splits["module"], f"{row.ratios['module fix s']:.0f}",
         _r(row.ratios["auto"]), row.splits["auto"], f"{row.ratios['auto fix s']:.0f}")
        for row in rows
    ]
    return f"{name}\n" + format_table(header, body)


def summary_table(results: dict[str, list[Row]], columns: Sequence[str]) -> str:
    body = []
    for column in columns:
        values = [row.ratios[column] for rows in results.values() for row in rows]
        body.append((column, _r(geometric_mean(values)), _r(max(values))))
    return format_table(("planner", "geo mean", "worst"), body)


def checks(results: dict[str, list[Row]], useful: dict[str, float]) -> list[str]:
    """The goals as flags: each line is a place where sharder misses one."""
    flags = []
    for name, rows in results.items():
        for row in rows:
            if row.ratios["sharder"] > row.ratios["least_duration"] * (1 + 1e-9):
                flags.append(f"{name} N={row.shards}: sharder {row.ratios['sharder']:.4f} worse than "
                             f"least_duration {row.ratios['least_duration']:.4f}")
            if row.shards < useful[name] and row.ratios["auto"] > AUTO_GOAL:
                flags.append(f"{name} N={row.shards}: auto {row.ratios['auto']:.4f} more than 10% over the bound "
                             f"below the useful shard count {useful[name]:.1f}")
    return flags


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--files", help="comma-separated file names to keep (default: all)")
    parser.add_argument("--fixture-share", type=float, default=0.05,
                        help="simulated one-off fixture cost per module, as a share of its time (0 skips)")
    parser.add_argument("--no-speed", action="store_true", help="skip the 200,000-test planning time")
    parser.add_argument("--speed-tests", type=int, default=200_000)
    args = parser.parse_args(argv)

    directory = args.shared / "bench" / "durations"
    paths = sorted(directory.glob("*.json"))
    if args.files:
        wanted = set(args.files.split(","))
        paths = [p for p in paths if p.name in wanted or p.stem in wanted]
    if not paths:
        print(f"balance: no durations files in {directory}", file=sys.stderr)
        return 2

    static: dict[str, list[Row]] = {}
    simulated: dict[str, list[Row]] = {}
    useful: dict[str, float] = {}
    for path in paths:
        durations = load_flat(path)
        useful[path.stem] = useful_shards(list(durations.values()))
        static[path.stem] = [static_row(durations, n) for n in args.shards]
        print(static_table(path.stem, static[path.stem], useful[path.stem]), end="\n\n", flush=True)
        if args.fixture_share > 0:
            suite = simulate(durations, args.fixture_share)
            simulated[path.stem] = [fixture_row(suite, n) for n in args.shards]

    print("All files and N, makespan / ungrouped lower bound")
    print(summary_table(static, ("sharder", "least_duration", "duration_based_chunks", "whole mod", "module", "auto")))
    total_splits = {c: sum(r.splits[c] for rows in static.values() for r in rows) for c in ("module", "auto")}
    print(f"modules split, summed over files and N: module {total_splits['module']}, auto {total_splits['auto']}")

    if simulated:
        print(f"\nWith a simulated module fixture cost of {args.fixture_share:.0%} of each module's time, paid again "
              "in every extra shard the module lands in (real makespan incl. repeats / bound; fix s = seconds of "
              "repeated fixtures)\n")
        for name, rows in simulated.items():
            print(fixture_table(name, rows), end="\n\n")
        print(summary_table(simulated, ("sharder", "least_duration", "module", "auto")))

    flags = checks(static, useful)
    print("\nFlags (sharder worse than least_duration anywhere; auto > 1.10 below useful N):",
          "none" if not flags else "")
    for flag in flags:
        print(f"  {flag}")

    if not args.no_speed:
        print()
        run_speed_benchmark(args.speed_tests)
    return 1 if flags else 0


if __name__ == "__main__":
    raise SystemExit(main())
