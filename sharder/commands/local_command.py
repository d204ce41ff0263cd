"""`sharder local`: plan, run every shard on this machine, and check that together they ran every test."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sharder.commands.common import add_durations_option, durations_path, shard_count_arg


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "local", help="plan N shards and run them all here, one after another",
        description="What CI does, on one machine: plan, run each shard in its own pytest process, report.",
    )
    parser.add_argument("--shards", type=shard_count_arg, required=True, metavar="N", help="number of shards")
    add_durations_option(parser)
    parser.add_argument("--junit-dir", default="reports", metavar="DIR", help="where the shard reports go")
    parser.add_argument("--plan-output", default=None, metavar="PATH",
                        help="where to write the plan (default: JUNIT_DIR/plan.json)")
    parser.set_defaults(func=run)


def run_local(shards: int, *, durations: Path, junit_dir: Path, plan_path: Path, pytest_args: list[str]) -> int:
    from sharder import durations as store
    from sharder import runner
    from sharder.commands.plan_command import render_plan_table
    from sharder.local_report import report_local_run
    from sharder.plan import write_plan
    from sharder.planning import make_plan
    from sharder.shardspec import ShardSpec

    recorded = store.load_durations_if_present(durations)
    ids = runner.collect_ids(pytest_args)
    plan = make_plan(ids, recorded.seconds(), shards, durations_sha256=recorded.sha256)
    junit_dir.mkdir(parents=True, exist_ok=True)
    write_plan(plan_path, plan)
    print(render_plan_table(plan), flush=True)
    codes: dict[int, int] = {}
    for shard_bin in plan.bins:
        spec = ShardSpec(shard_bin.shard, shards)
        print(f"\n=== shard {spec}: {len(shard_bin.tests)} tests ===", flush=True)
        argv = runner.shard_argv(spec, junit_dir=junit_dir, plan_path=plan_path,
                                 durations_path=durations, pytest_args=["-q", *pytest_args])
        codes[shard_bin.shard] = runner.run(argv)
    return report_local_run(plan, junit_dir, codes)


def run(args: argparse.Namespace) -> int:
    junit_dir = Path(args.junit_dir)
    plan_path = Path(args.plan_output) if args.plan_output else junit_dir / "plan.json"
    return run_local(args.shards, durations=durations_path(args.durations), junit_dir=junit_dir,
                     plan_path=plan_path, pytest_args=args.pytest_args)


def run_in(directory: Path, shards: int) -> int:
    """Run `local` with `directory` as the working directory (the demo's copy of the example suite)."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        return run_local(shards, durations=Path("durations.json"), junit_dir=Path("reports"),
                         plan_path=Path("reports/plan.json"), pytest_args=[])
    finally:
        os.chdir(previous)
        sys.stdout.flush()
