"""`sharder plan`: collect (or read) the test ids, plan N shards, write plan.json, show the table."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sharder.commands.common import (
    add_durations_option,
    add_store_option,
    shard_count_arg,
    tests_timings_and_scope,
    timings_source,
)
from sharder.core.log_text import json_line, log_safe
from sharder.core.table import format_table
from sharder.planning.plan import TIMINGS_KEY, Plan, ShardBin, write_plan
from sharder.planning.planner import GROUP_BY_CHOICES
from sharder.stores.location import durations_path
from sharder.stores.timings_source import timings_record, untimed_note

if TYPE_CHECKING:
    from sharder.planning.memory import HeavyTest


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="split the suite into N balanced shards and write plan.json",
        description="Collect the tests (pytest --collect-only with the arguments after --), estimate the ones "
        "with no recorded duration, and split them into N shards.",
    )
    parser.add_argument("--shards", type=shard_count_arg, required=True, metavar="N", help="number of shards")
    add_durations_option(parser)
    add_store_option(parser)
    parser.add_argument("-o", "--output", default="plan.json", metavar="PATH", help="where to write the plan")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    parser.add_argument("--from-durations", action="store_true",
                        help="plan the ids of the durations file itself, without collecting (a what-if)")
    parser.add_argument("--group-by", choices=GROUP_BY_CHOICES, default="test",
                        help="keep each class or module in one shard, splitting only those too big for N; "
                        "auto: modules, split only where the gain outweighs the fixture setup it repeats")
    parser.set_defaults(func=run)


def plan_summary(plan: Plan, heaviest: Mapping[int, HeavyTest] | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "shards": plan.shards,
        "tests": plan.total_tests,
        "group_by": plan.group_by,
        "lower_bound": round(plan.lower_bound_seconds, 3),
        "makespan": round(plan.makespan, 3),
        "imbalance": round(plan.imbalance, 5) if _bound_measurable(plan) else None,
        "useful_shards": round(plan.useful_shards, 2) if math.isfinite(plan.useful_shards) else None,
        "split_units": plan.split_units,
        "fixture_cost_seconds": round(plan.fixture_cost_seconds, 3),
        "plan_id": plan.plan_id,
        "bins": [
            {"shard": b.shard, "tests": len(b.tests), "predicted_seconds": round(b.predicted_seconds, 3),
             "estimated_tests": b.estimated_tests}
            for b in plan.bins
        ],
    }
    for shard_bin in summary["bins"]:  # recorded peaks only; absent when nothing was measured
        heavy = (heaviest or {}).get(shard_bin["shard"])
        if heavy is not None:
            shard_bin["heaviest_test"] = {"id": heavy.node_id, "peak_rss_mb": round(heavy.peak_rss_mb, 1)}
    return summary


def _table_entries(plan: Plan) -> list[ShardBin | tuple[int, int]]:
    """The table's lines in shard order: a bin, or (first, last) for a run of two or more empty shards."""
    entries: list[ShardBin | tuple[int, int]] = []
    run: list[ShardBin] = []

    def end_run() -> None:
        if len(run) > 1:
            entries.append((run[0].shard, run[-1].shard))
        else:
            entries.extend(run)
        run.clear()

    for shard_bin in plan.bins:
        if not shard_bin.tests and not shard_bin.predicted_seconds:
            run.append(shard_bin)
            continue
        end_run()
        entries.append(shard_bin)
    end_run()
    return entries


def render_plan_table(plan: Plan, heaviest: Mapping[int, HeavyTest] | None = None) -> str:
    """One row per shard, but a run of empty shards is one line (`shards 11-999999: empty`): a plan of far more
    shards than tests printed a million rows of zeros."""
    memory: tuple[str, ...] = ("heaviest test (recorded peak)",) if heaviest else ()
    entries = _table_entries(plan)
    rows = [(f"{b.shard}/{plan.shards}", len(b.tests), f"{b.predicted_seconds:.1f}", b.estimated_tests)
            + ((_heavy_cell(heaviest.get(b.shard)),) if heaviest else ())
            for b in entries if isinstance(b, ShardBin)]
    table = format_table(("shard", "tests", "predicted s", "estimated", *memory), rows).split("\n")
    body = iter(table[1:])
    lines = [table[0]]
    lines += [f"shards {entry[0]}-{entry[1]}: empty" if isinstance(entry, tuple) else next(body) for entry in entries]
    lines.append("")
    useful = plan.useful_shards
    useful_text = f"{useful:.1f}" if math.isfinite(useful) else "unbounded"
    lines.append(
        f"makespan {plan.makespan:.1f} s, lower bound {plan.lower_bound_seconds:.1f} s, "
        f"imbalance {_imbalance_text(plan)}, useful shards {useful_text}"
    )
    if plan.split_units:
        unit = "class" if plan.group_by == "class" else "module"
        lines.append(f"{plan.split_units} {unit} groups were split over several shards (too big for one shard"
                     f"{', or worth the fixture cost' if plan.group_by == 'auto' else ''})")
    if round(plan.fixture_cost_seconds, 1):  # sub-0.05 s repeats are noise, not worth a line
        lines.append(f"fixture cost of splitting: {plan.fixture_cost_seconds:.1f} s of module setup repeated in "
                     "extra shards (included in the predicted seconds)")
    if math.isfinite(useful) and plan.shards > useful:
        lines.append(
            f"note: {plan.shards} shards exceed the useful count {useful:.1f}: the longest "
            f"{'test' if plan.group_by == 'test' else 'unit'} alone sets the wall time; more shards will not help"
        )
    return "\n".join(lines)


# Below this lower bound (a millisecond, what pytest's reports resolve) a ratio to it is rounding noise: two
# subnormal seconds "50% over" one say nothing about the balance.
MEASURABLE_BOUND_SECONDS = 0.001


def _bound_measurable(plan: Plan) -> bool:
    return plan.lower_bound_seconds >= MEASURABLE_BOUND_SECONDS


def _imbalance_text(plan: Plan) -> str:
    if not _bound_measurable(plan):
        return "n/a (the lower bound is under a millisecond)"
    return f"{100 * (plan.imbalance - 1):.2f}% over the bound"


def _heavy_cell(heavy: HeavyTest | None) -> str:
    # The id is the suite's: on one line and with no workflow command in it, as every id sharder prints.
    return f"{heavy.peak_rss_mb:.0f} MB {log_safe(heavy.node_id)}" if heavy is not None else "-"


def run(args: argparse.Namespace) -> int:
    from sharder.planning.memory import heaviest_by_shard
    from sharder.planning.planner import make_plan

    source = timings_source(args)
    path = source.path or durations_path(args.durations)
    ids, recorded, narrowed = tests_timings_and_scope(path, from_durations=args.from_durations,
                                                      pytest_args=args.pytest_args)
    plan = make_plan(ids, recorded.seconds, args.shards, group_by=args.group_by,
                     durations_sha256=recorded.sha256, setup_seconds=recorded.setup_seconds)
    # Whether the plan covers the whole suite: only then may a rebalance of its reports prune the store.
    plan = replace(plan, selected_by=tuple(narrowed))
    covered = sum(1 for node_id in ids if node_id in recorded.seconds)
    plan.extra[TIMINGS_KEY] = timings_record(source, covered=covered, planned=len(ids))
    write_plan(args.output, plan)
    # Said on every plan (once it is written: a refusal stays one line): months of silent test-count splits are
    # how users lose their balance.
    said = untimed_note(source, len(ids)) if ids and not covered else \
        f"{source.describe()}; {covered} of {len(ids)} planned tests have a recorded time"
    print(f"sharder plan: {said}", file=sys.stderr)
    # The peaks come with the timings: reading and searching a 28 MB file again for them cost 0.02 s.
    heavy = heaviest_by_shard(plan, recorded.peak_rss_mb)
    table = render_plan_table(plan, heavy) + f"\nplan written to {args.output} ({plan.total_tests} tests)"
    if args.json:
        print(table, file=sys.stderr)
        print(json_line(plan_summary(plan, heavy), ensure_ascii=True))
    else:
        print(table)
    return 0
