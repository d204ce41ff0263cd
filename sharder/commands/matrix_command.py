"""`sharder matrix`: the shard list a CI matrix needs, for a given N or for the smallest N that meets a target.

stdout carries the matrix JSON (`{"shard": ["1/4", "2/4", "3/4", "4/4"]}`) and nothing else, so a shell can
capture it; the explanation goes to stderr. In GitHub Actions (`$GITHUB_OUTPUT` set) it is also written as the
step outputs `matrix` and `shards`, for `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from sharder.commands.common import add_durations_option, add_store_option, tests_and_timings, timings_source
from sharder.core.durationtext import duration_argument
from sharder.core.errors import SharderError
from sharder.core.shardspec import parse_shard_count
from sharder.stores.location import durations_path

if TYPE_CHECKING:
    from sharder.planning.shard_count import ShardChoice, SuiteTimes

EPILOG = """\
With --target, the tests are collected (pytest --collect-only with the arguments after --) or read from the
durations file (--from-durations), planned for each candidate N as `sharder plan` would, and the smallest N whose
slowest shard plus --job-overhead fits the target is chosen. A table of N, predicted wall time and total machine
time goes to stderr. If no N up to --max-shards fits, the tests that make the target impossible are named and
the N with the best wall time is chosen.

Durations: 10m, 1h30m, 90s, 2.5m; a bare number is seconds.
"""

BLOCKERS_SHOWN = 5


def matrix_count_arg(text: str) -> int:
    from sharder.planning.shard_count import MATRIX_JOB_LIMIT

    try:
        count = parse_shard_count(text)
    except SharderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if count > MATRIX_JOB_LIMIT:
        raise argparse.ArgumentTypeError(f"{count} is more than GitHub's {MATRIX_JOB_LIMIT} jobs per matrix")
    return count


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "matrix", help="print the CI matrix for N shards, or for the fewest shards that meet a target time",
        description="Print the shard matrix for a CI workflow (and append `matrix` and `shards` to "
        "$GITHUB_OUTPUT when it is set).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    how_many = parser.add_mutually_exclusive_group(required=True)
    how_many.add_argument("--shards", type=matrix_count_arg, metavar="N", help="exactly N shards")
    how_many.add_argument("--target", type=duration_argument, metavar="DURATION",
                          help="the wall time to meet, e.g. 10m: choose the fewest shards that do")
    parser.add_argument("--job-overhead", type=duration_argument, metavar="DURATION",
                        help="with --target: fixed cost of each shard job (start, checkout, install), default 0")
    parser.add_argument("--max-shards", type=matrix_count_arg, metavar="M",
                        help="with --target: never more than M shards (default 20, GitHub's free concurrency)")
    add_durations_option(parser)
    add_store_option(parser)
    parser.add_argument("--from-durations", action="store_true",
                        help="with --target: the tests of the durations file, without collecting")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON object (matrix, shards, and with --target the forecasts) on stdout")
    parser.set_defaults(func=run)


def matrix_of(shards: int) -> dict[str, list[str]]:
    return {"shard": [f"{index}/{shards}" for index in range(1, shards + 1)]}


def _check_options(args: argparse.Namespace) -> None:
    if args.target is not None:
        return
    needs_target = [name for name, given in (
        ("--job-overhead", args.job_overhead is not None), ("--max-shards", args.max_shards is not None),
        ("--durations", args.durations is not None), ("--store", args.store is not None),
        ("--from-durations", args.from_durations),
        ("pytest arguments after --", bool(args.pytest_args) and args.pytest_args_source == "the command line"),
    ) if given]
    if needs_target:
        raise SharderError(f"{', '.join(needs_target)} only go{'es' if len(needs_target) == 1 else ''} with "
                           "--target; --shards N needs no timings")


def _suite_times(args: argparse.Namespace) -> tuple[SuiteTimes, str | None]:
    """The tests with their seconds, and a warning when the timings are mostly guesses."""
    from sharder.planning.shard_count import SuiteTimes
    from sharder.stores.timings_source import untimed_note

    source = timings_source(args)
    path = source.path or durations_path(args.durations)
    ids, recorded = tests_and_timings(path, from_durations=args.from_durations, pytest_args=args.pytest_args)
    unknown = sum(1 for node_id in ids if node_id not in recorded.seconds)
    warning = source.describe()
    if ids and unknown == len(ids):
        warning = untimed_note(source, len(ids)) + " (until then the --target arithmetic is a guess)"
    elif unknown:
        warning += f"; {unknown} of {len(ids)} tests have no recorded duration, estimated from their neighbours"
    return SuiteTimes.of(ids, recorded.seconds, recorded.setup_seconds), warning


def _seconds(value: float) -> str:
    from sharder.core.table import seconds_text

    return seconds_text(value)


def render_choice(choice: ShardChoice) -> str:
    from sharder.core.table import format_table

    useful = f"{choice.useful_shards:.1f}" if math.isfinite(choice.useful_shards) else "unbounded"
    head = (f"target {_seconds(choice.target_seconds)} with {_seconds(choice.overhead_seconds)} of overhead per "
            f"shard job; {choice.tests} tests, {_seconds(choice.total_seconds)} in all, useful shards {useful} "
            "(total / longest)")
    rows = [
        (f.shards, _seconds(f.slowest_seconds), _seconds(f.wall_seconds), _seconds(f.machine_seconds),
         ("<- chosen" if f.shards == choice.shards else "fits" if f.wall_seconds <= choice.target_seconds else ""))
        for f in choice.forecasts
    ]
    lines = [head, format_table(("shards", "slowest shard", "wall time", "machine time", ""), rows)]
    if choice.blockers:
        from sharder.core.log_text import log_safe

        named = ", ".join(f"{log_safe(node_id)} ({_seconds(seconds)})"
                          for node_id, seconds in choice.blockers[:BLOCKERS_SHOWN])
        more = len(choice.blockers) - BLOCKERS_SHOWN
        lines.append(f"tests longer than the target minus the overhead, longest first: {named}"
                     f"{f' and {more} more' if more > 0 else ''}; split them or raise the target")
    lines.append(("chose " if choice.fits else "") + choice.reason)
    return "\n".join(lines)


def choice_json(choice: ShardChoice) -> dict[str, Any]:
    return {
        "shards": choice.shards,
        "matrix": matrix_of(choice.shards),
        "fits": choice.fits,
        "target_seconds": choice.target_seconds,
        "job_overhead_seconds": choice.overhead_seconds,
        "max_shards": choice.max_shards,
        "tests": choice.tests,
        "total_seconds": round(choice.total_seconds, 3),
        "useful_shards": round(choice.useful_shards, 2) if math.isfinite(choice.useful_shards) else None,
        "reason": choice.reason,
        "forecasts": [
            {"shards": f.shards, "slowest_seconds": round(f.slowest_seconds, 3),
             "wall_seconds": round(f.wall_seconds, 3), "machine_seconds": round(f.machine_seconds, 3)}
            for f in choice.forecasts
        ],
        "blockers": [{"nodeid": node_id, "seconds": round(seconds, 3)} for node_id, seconds in choice.blockers],
    }


def run(args: argparse.Namespace) -> int:
    from sharder.ci.providers import append_github_output
    from sharder.core.log_text import json_line

    _check_options(args)
    if args.target is None:
        shards = args.shards
        document: dict[str, Any] = {"shards": shards, "matrix": matrix_of(shards)}
    else:
        from sharder.planning.shard_count import DEFAULT_MAX_SHARDS, check_limits, choose_shards

        overhead = args.job_overhead or 0.0
        max_shards = args.max_shards or DEFAULT_MAX_SHARDS
        check_limits(args.target, overhead, max_shards)  # before a collection that may take a while
        suite, warning = _suite_times(args)
        if warning:
            print(f"sharder matrix: {warning}", file=sys.stderr)
        choice = choose_shards(suite, target_seconds=args.target, overhead_seconds=overhead, max_shards=max_shards)
        print(render_choice(choice), file=sys.stderr, flush=True)
        shards = choice.shards
        document = choice_json(choice)
    matrix_text = json.dumps(matrix_of(shards), separators=(",", ":"))
    written = append_github_output({"matrix": matrix_text, "shards": str(shards)})
    if written:
        print(f"sharder matrix: {shards} shards written to $GITHUB_OUTPUT as `matrix` and `shards`", file=sys.stderr)
    # --json names the blocking tests: the suite's ids, printed with no workflow command in them
    print(json_line(document) if args.json else matrix_text, flush=True)
    return 0

