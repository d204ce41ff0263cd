"""`sharder run`: run one shard in a pytest subprocess and write its JUnit report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sharder.commands.common import shard_arg
from sharder.running import modes as run_modes


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="run one shard (K/N) with pytest and write reports/shard-K-of-N.xml",
    )
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="which shard to run, 1-based (default: from SHARDER_SHARD, or GitLab's, CircleCI's or "
                        "Buildkite's parallel-job variables; none set is an error)")
    parser.add_argument("--plan", metavar="PATH", help="take the shard from this plan.json (default: plan here)")
    parser.add_argument("--durations", metavar="PATH", help="durations file used when planning here")
    parser.add_argument("--junit-dir", default="reports", metavar="DIR", help="where the JUnit report goes")
    run_modes.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder.ci.run_info import ci_run_from_environment
    from sharder.core.errors import SharderError
    from sharder.planning.plan import read_plan
    from sharder.running.outputs import OwnOutputs, new_run_id

    if args.shard is None:
        from sharder.ci.providers import shard_from_environment

        detected = shard_from_environment()
        print(f"sharder run: shard {detected.spec} from {detected.source}", flush=True)
        args.shard = detected.spec
    # Before anything can fail: an earlier run's report must not stand in for this run's, whatever happens next.
    outputs = OwnOutputs(Path(args.junit_dir), args.shard.report_stem)
    outputs.clear()
    run_id = new_run_id()
    ci_attempt = ci_run_from_environment().attempt_number  # stamped beside the run id: a merge takes the latest
    try:
        if args.plan:
            read_plan(args.plan).bin_for(args.shard)  # a broken or mismatched plan fails here, before pytest starts
        modes = run_modes.resolve_modes(args)  # flags over [tool.sharder]; a bad value stops here with exit 2
        return run_modes.run_shard(run_modes.ShardRun(
            args.shard, Path(args.junit_dir), args.plan, args.durations, list(args.pytest_args), modes,
            run_id=run_id, ci_attempt=ci_attempt,
        ))
    except SharderError as exc:  # the merge names this error for the shard's tests
        outputs.record_refusal(f"sharder run: {exc}", shard=args.shard, run_id=run_id,
                               pytest_args=list(args.pytest_args), plan_path=args.plan, ci_attempt=ci_attempt)
        raise
