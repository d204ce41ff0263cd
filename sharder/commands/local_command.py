"""`sharder local`: plan, run every shard on this machine, then merge exactly as CI's report job would."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sharder.commands.common import add_durations_option, collected_ids_and_scope, shard_count_arg
from sharder.core.errors import Cancelled
from sharder.planning.planner import DEFAULT_GROUP_BY, GROUP_BY_CHOICES
from sharder.stores.location import durations_path

if TYPE_CHECKING:
    from sharder.running.supervision import PytestProcess


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "local", help="plan N shards, run them all here, and merge their reports",
        description="What CI does, on one machine: plan, run each shard in its own pytest process (one after "
        "another, or J at a time), then `sharder merge` their reports. Exits with the merge's status "
        "(0 all planned tests reported and passed, 1 failures or missing tests, 2 unusable input).",
    )
    parser.add_argument("--shards", type=shard_count_arg, required=True, metavar="N", help="number of shards")
    parser.add_argument("--jobs", type=shard_count_arg, default=1, metavar="J",
                        help="run J shards at a time (default 1); their output goes to JUNIT_DIR/shard-K-of-N.log")
    add_durations_option(parser)
    parser.add_argument("--junit-dir", default="reports", metavar="DIR", help="where the shard reports go")
    parser.add_argument("--plan-output", default=None, metavar="PATH",
                        help="where to write the plan (default: JUNIT_DIR/plan.json)")
    parser.add_argument("-o", "--output", default=None, metavar="PATH",
                        help="merged JUnit report (default: JUNIT_DIR/merged.xml)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the summary as Markdown here")
    parser.add_argument("--queue", action="store_true",
                        help="queue mode: start a private redis-server for the run; the J jobs lease the plan's "
                        "batches from it instead of running one shard each")
    parser.add_argument("--group-by", choices=GROUP_BY_CHOICES, default=DEFAULT_GROUP_BY,
                        help=f"as `sharder plan --group-by` (default {DEFAULT_GROUP_BY})")
    parser.add_argument("--html", metavar="PATH", help="also write the HTML report (the shard timeline) here")
    parser.set_defaults(func=run)


@dataclass
class _Running:
    number: int
    process: PytestProcess
    started: float
    log: IO[bytes]
    log_path: Path


def _clear_outputs(junit_dir: Path, stem: str) -> None:
    """This shard's files from an earlier run must not pass for this run's (a shard that dies leaves none)."""
    from sharder.core.progress_log import SUFFIX

    for name in (f"{stem}.xml", f"{stem}{SUFFIX}"):
        path = junit_dir / name
        if path.is_file():
            path.unlink()


def _run_parallel(argvs: dict[int, list[str]], junit_dir: Path, shards: int, jobs: int,
                  running_now: set[int], env: dict[str, str] | None = None) -> dict[int, int]:
    """J pytest processes at a time, each writing its output to its own log file; prints as each one ends.

    `running_now` holds the shards whose pytest runs, for the caller to record a cancel in (a forwarded signal
    reaches every running group at once; `supervision` kills what outlives the grace period)."""
    from sharder.core.errors import SharderError
    from sharder.running import supervision

    pending = sorted(argvs)
    running: list[_Running] = []
    codes: dict[int, int] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs and supervision.cancelled() is None:
                number = pending.pop(0)
                log_path = junit_dir / f"shard-{number}-of-{shards}.log"
                log = open(log_path, "wb")  # noqa: SIM115  # closed when the shard ends
                try:
                    process = supervision.start(argvs[number], stdout=log, stderr=subprocess.STDOUT, env=env)
                except OSError as exc:
                    log.close()
                    raise SharderError(f"cannot start pytest: {exc.strerror}") from None
                running.append(_Running(number, process, time.monotonic(), log, log_path))
                running_now.add(number)
                print(f"shard {number}/{shards}: started (output in {log_path})", flush=True)
            if not running:
                break  # cancelled before the next shard started
            time.sleep(0.05)
            for item in list(running):
                if not item.process.exited():
                    continue
                code = item.process.finish(kill_group=supervision.cancelled() is not None)
                item.log.close()
                running.remove(item)
                codes[item.number] = code
                print(f"shard {item.number}/{shards}: pytest exit {code} after "
                      f"{time.monotonic() - item.started:.1f} s", flush=True)
                if supervision.cancelled() is None:
                    running_now.discard(item.number)
    finally:  # a bug: do not leave shards running behind the user's back
        for item in running:
            item.process.finish(kill_group=True)
            item.log.close()
    return codes


def _record_cancel(cancel: Cancelled, junit_dir: Path, shards: int, numbers: set[int]) -> Cancelled:
    """The shards whose pytest the cancel stopped get a `cancelled` record in their progress log and lose a
    report written during the grace period (their outputs were cleared before they started)."""
    from sharder.core.progress_log import append_cancelled, progress_log_path_for
    from sharder.core.shardspec import ShardSpec
    from sharder.running import runner
    from sharder.running.supervision import signal_name

    for number in sorted(numbers):
        spec = ShardSpec(number, shards)
        report = runner.junit_path(junit_dir, spec)
        with contextlib.suppress(OSError):  # best effort: without it the merge still says the shard died
            append_cancelled(progress_log_path_for(report), signal_name=signal_name(cancel.signum), shard=spec,
                             by="sharder local")
        report.unlink(missing_ok=True)
    named = ", ".join(f"{number}/{shards}" for number in sorted(numbers)) or "none"
    return Cancelled(cancel.signum, f"{cancel}; shards recorded as cancelled: {named}; no merge")


def run_local(
    shards: int, *, durations: Path, junit_dir: Path, plan_path: Path, pytest_args: Sequence[str], jobs: int = 1,
    output: Path | None = None, markdown: Path | None = None, queue: bool = False,
    group_by: str = DEFAULT_GROUP_BY, html: Path | None = None,
) -> int:
    from sharder.commands.merge_command import merge_and_report
    from sharder.commands.plan_command import render_plan_table
    from sharder.core.errors import SharderError
    from sharder.core.progress_log import progress_log_path_for
    from sharder.core.shardspec import ShardSpec
    from sharder.durations import store
    from sharder.planning.plan import write_plan
    from sharder.planning.planner import make_plan
    from sharder.running import runner
    from sharder.running.supervision import supervising

    recorded = store.load_durations_if_present(durations)
    ids, narrowed = collected_ids_and_scope(pytest_args)  # refuses none: a plan of no tests would merge green
    # Planned exactly as `sharder plan` plans: the recorded setup times (module fixtures) and costs count too.
    plan = replace(make_plan(ids, recorded.seconds(), shards, group_by=group_by, durations_sha256=recorded.sha256,
                             setup_seconds=recorded.setup_seconds(), costs=recorded.costs),
                   selected_by=tuple(narrowed))  # so a rebalance of its reports knows whether it may prune
    junit_dir.mkdir(parents=True, exist_ok=True)
    write_plan(plan_path, plan)
    print(render_plan_table(plan), flush=True)
    running_now: set[int] = set()
    codes: dict[int, int] = {}
    try:
        with supervising(), contextlib.ExitStack() as stack:
            queue_args, env = _private_queue(stack) if queue else ([], None)
            argvs: dict[int, list[str]] = {}
            for shard_bin in plan.bins:
                spec = ShardSpec(shard_bin.shard, shards)
                _clear_outputs(junit_dir, spec.report_stem)
                argvs[shard_bin.shard] = runner.shard_argv(spec, junit_dir=junit_dir, plan_path=plan_path,
                                                           durations_path=durations,
                                                           pytest_args=["-q", *queue_args, *pytest_args])
            if jobs > 1:
                what = "jobs on one queue" if queue else "shards"
                print(f"\nrunning {shards} {what}, {min(jobs, shards)} at a time", flush=True)
                codes = _run_parallel(argvs, junit_dir, shards, jobs, running_now, env)
            else:
                for number, argv in argvs.items():
                    print(f"\n=== shard {number}/{shards}: {len(plan.bins[number - 1].tests)} tests ===", flush=True)
                    running_now = {number}
                    codes[number] = runner.run(argv, env=env)
                running_now = set()
    except Cancelled as cancel:
        raise _record_cancel(cancel, junit_dir, shards, running_now) from None
    outputs: list[Path] = []
    for number in sorted(argvs):
        report = runner.junit_path(junit_dir, ShardSpec(number, shards))
        log = progress_log_path_for(report)
        outputs += [report] if report.is_file() else ([log] if log.is_file() else [])
    if not outputs:
        statuses = ", ".join(f"{n}/{shards}: {c}" for n, c in sorted(codes.items()))
        raise SharderError(f"no shard wrote a report or a progress log (pytest exit codes {statuses})")
    print(flush=True)
    return merge_and_report(outputs, plan_path=plan_path, output=output or junit_dir / "merged.xml",
                            markdown=markdown, html=html)


def _private_queue(stack: contextlib.ExitStack) -> tuple[list[str], dict[str, str]]:
    """A redis-server of this run's own (stopped when the run ends, dead with it if it is killed) and a fresh
    queue run on it: the jobs' pytest options and environment."""
    import uuid

    from sharder.queue.lease_queue import run_namespace
    from sharder.running.queue_mode import QueueJoin
    from sharder.running.redis_server import RedisServer

    server = stack.enter_context(RedisServer())
    join = QueueJoin(server.url, run_namespace(["local", uuid.uuid4().hex]))
    print(f"queue mode: a private redis-server at {server.url}, queue run {join.namespace}", flush=True)
    return join.pytest_args(), {**os.environ, **join.env()}


def run(args: argparse.Namespace) -> int:
    junit_dir = Path(args.junit_dir)
    plan_path = Path(args.plan_output) if args.plan_output else junit_dir / "plan.json"
    return run_local(args.shards, durations=durations_path(args.durations), junit_dir=junit_dir,
                     plan_path=plan_path, pytest_args=args.pytest_args, jobs=args.jobs,
                     output=Path(args.output) if args.output else None,
                     markdown=Path(args.markdown) if args.markdown else None, queue=args.queue,
                     group_by=args.group_by, html=Path(args.html) if args.html else None)


def run_in(directory: Path, shards: int, jobs: int = 1) -> int:
    """Run `local` with `directory` as the working directory (the demo's copy of the example suite)."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        return run_local(shards, durations=Path("durations.json"), junit_dir=Path("reports"),
                         plan_path=Path("reports/plan.json"), pytest_args=[], jobs=jobs)
    finally:
        os.chdir(previous)
        sys.stdout.flush()
