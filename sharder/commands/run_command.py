"""`sharder run`: run one shard in a pytest subprocess and write its JUnit report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sharder.commands.common import shard_arg
from sharder.running import modes as run_modes
from sharder.running import queue_mode


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
    queue_mode.add_arguments(parser)
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
        queue = _join_queue(args, modes)
        return run_modes.run_shard(run_modes.ShardRun(
            args.shard, Path(args.junit_dir), args.plan, args.durations, list(args.pytest_args), modes,
            run_id=run_id, queue=queue, ci_attempt=ci_attempt,
        ))
    except SharderError as exc:  # the merge names this error for the shard's tests
        outputs.record_refusal(f"sharder run: {exc}", shard=args.shard, run_id=run_id,
                               pytest_args=list(args.pytest_args), plan_path=args.plan, ci_attempt=ci_attempt)
        raise


def _join_queue(args: argparse.Namespace, modes: run_modes.Modes) -> queue_mode.QueueJoin | None:
    """Queue mode when a URL is given (flag, $SHARDER_QUEUE_URL, [tool.sharder] queue): the job's queue, or None
    for a static run (no URL, or Redis unreachable with the static fallback)."""
    import os

    from sharder.core.errors import SharderError
    from sharder.running.config import load_run_config

    config = load_run_config()
    url = queue_mode.requested_url(args.queue, config.queue)
    if url is None:
        return None
    if not args.plan:
        raise SharderError("queue mode needs --plan plan.json: the plan's tests are the queue's manifest and its "
                           "units the batches (every job passes the same plan)")
    if modes.parallel != 1:
        raise SharderError("queue mode runs a job's tests one after another in one pytest session; drop --parallel "
                           "(more jobs on the queue are its parallelism)")
    fallback = args.queue_fallback or config.queue_fallback or "static"
    if fallback not in queue_mode.FALLBACKS:
        raise SharderError(f"queue_fallback {fallback!r}: expected one of {', '.join(queue_mode.FALLBACKS)}")
    return queue_mode.join(url, _queue_identity(args.queue_run or os.environ.get(queue_mode.QUEUE_RUN_ENV)),
                           fallback=fallback, lease_seconds=args.queue_lease, label=f"shard {args.shard}")


def _queue_identity(name: str | None) -> list[str | None]:
    """The run's identity, which every job of the run computes alike: the CI run (provider, id, attempt, commit)
    and the name given; outside CI the name is all there is, so it is required."""
    from sharder.ci.run_info import ci_run_from_environment
    from sharder.core.errors import SharderError

    ci = ci_run_from_environment()
    if ci.provider == "local" and not name:
        raise SharderError(f"queue mode outside CI needs --queue-run NAME (or ${queue_mode.QUEUE_RUN_ENV}): the "
                           "jobs of one run meet under it, and a new name starts a new queue")
    return [ci.provider, ci.run_id, ci.attempt, ci.commit, name]
