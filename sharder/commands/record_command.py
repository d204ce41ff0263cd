"""`sharder record`: run the suite (or read JUnit reports) and update the durations file."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from sharder.commands.common import add_durations_option, shard_count_arg
from sharder.core.errors import SharderError
from sharder.stores.location import durations_path


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "record", help="record per-test durations into durations.json",
        description="Run the whole suite with duration recording on, or read JUnit XML from any runner. Only "
        "tests that passed are recorded. A run of the whole suite also drops the tests it no longer collects; a run "
        "narrowed by -k, -m, paths, --pyargs... (after --) drops nothing, and JUnit reports never do. The file "
        "remembers the reports it absorbed, and is updated under a lock ($SHARDER_LOCK_TIMEOUT, default 60 s).",
    )
    add_durations_option(parser)
    parser.add_argument("--from-junit", nargs="+", metavar="FILE",
                        help="read these JUnit reports instead of running; cases a report keys classname::name are "
                        "stored under the node ids a collection here (pytest --collect-only with the arguments "
                        "after --) gives them")
    parser.add_argument("--no-collect", action="store_true",
                        help="with --from-junit: do not collect; keep the reports' classname::name keys")
    parser.add_argument("--processes", type=shard_count_arg, default=1, metavar="K",
                        help="record in K pytest processes one after another, each collecting only its part of the "
                        "test files, as a shard does (default 1: one process). A test measured in the heap of the "
                        "whole suite (a gc walk, a leak check, full collections) runs faster in a shard: there, set K "
                        "to about the shard count; costs one more collection and K-1 more process starts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder.core.log_text import log_safe
    from sharder.durations.store import remembers_history
    from sharder.durations.trust import UNNAMED, UNTIMED, NotUsed
    from sharder.running import runner

    path = durations_path(args.durations)
    if args.from_junit and args.processes != 1:
        raise SharderError("--processes runs the suite; --from-junit reads reports instead: give one")
    if args.from_junit:
        from sharder.reports.junit_durations import record_from_junit

        collect = None if args.no_collect else (lambda: runner.collect_ids(args.pytest_args))
        recorded = record_from_junit(args.from_junit, path, collect)
        reports = f"{recorded.reports} report{'s' if recorded.reports != 1 else ''}"
        if recorded.absorbed_before == recorded.reports:
            these = "this report" if recorded.reports == 1 else f"these {reports}"
            print(f"sharder record: {path} absorbed {these} before; nothing changed")
            return 0
        print(f"sharder record: {recorded.observations} test durations from {reports} into {path}")
        if recorded.absorbed_before:
            print(f"sharder record: {recorded.absorbed_before} of the {reports} were absorbed before; their cases "
                  "were not counted again")
        if recorded.mapped or recorded.renamed:
            moved = f"; {recorded.renamed} earlier records moved to their node ids" if recorded.renamed else ""
            print(f"sharder record: {recorded.mapped} test cases keyed classname::name stored under the node ids "
                  f"collected here{moved}")
        if recorded.unmapped:
            why = (f"the suite could not be collected here ({log_safe(recorded.collect_error)})"
                   if recorded.collect_error
                   else "no id collected here matches them" if not args.no_collect else "--no-collect")
            print(f"sharder record: {recorded.unmapped} test cases keep their classname::name keys: {why}; plans "
                  "still match them to collected ids", file=sys.stderr)
        if recorded.untimed:
            print(f"sharder record: {recorded.untimed} test cases had no usable time and were not recorded",
                  file=sys.stderr)
        if recorded.unnamed:
            print(f"sharder record: skipped {recorded.unnamed} test cases with no name, classname or file",
                  file=sys.stderr)
        others = NotUsed({reason: count for reason, count in recorded.not_used.items()
                          if reason not in (UNTIMED, UNNAMED)})
        if others:
            print(f"sharder record: {others.describe('case')} (only a passed test's time is recorded)")
        if not remembers_history(path):
            print(f"sharder record: note: {path} is in pytest-split's format, which cannot remember the reports it "
                  "absorbed: recording these reports again would count them again")
        return 0
    from sharder.running.outside_cost import own_start_seconds
    from sharder.running.split_record import record_in_processes, run_recording

    if args.processes > 1:
        return record_in_processes(args.pytest_args, path, args.processes)
    with tempfile.TemporaryDirectory(prefix="sharder-record-") as scratch:
        return run_recording(path, args.pytest_args, Path(scratch), before_seconds=own_start_seconds())
