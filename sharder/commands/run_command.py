"""`sharder run`: run one shard in a pytest subprocess and write its JUnit report."""

from __future__ import annotations

import argparse
from typing import Any

from sharder.commands.common import shard_arg


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="run one shard (K/N) with pytest and write reports/shard-K-of-N.xml",
    )
    parser.add_argument("--shard", type=shard_arg, metavar="K/N", required=True, help="which shard to run, 1-based")
    parser.add_argument("--plan", metavar="PATH", help="take the shard from this plan.json (default: plan here)")
    parser.add_argument("--durations", metavar="PATH", help="durations file used when planning here")
    parser.add_argument("--junit-dir", default="reports", metavar="DIR", help="where the JUnit report goes")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder import runner
    from sharder.plan import read_plan

    if args.plan:
        read_plan(args.plan).bin_for(args.shard)  # a broken or mismatched plan fails here, before pytest starts
    argv = runner.shard_argv(
        args.shard, junit_dir=args.junit_dir, plan_path=args.plan, durations_path=args.durations,
        pytest_args=args.pytest_args,
    )
    print(f"sharder run: shard {args.shard}: {' '.join(argv[1:])}", flush=True)
    return runner.run(argv)
