"""`sharder replay`: run one CI shard's tests here, in its order, and (`--bisect`) find the test that pollutes one.

Exit codes: a replay returns pytest's; a bisect returns 0 when it names the polluter (or the set of tests needed
together), 1 when there is none to find here (the victim fails alone, the failure does not reproduce, or it is
intermittent), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharder.commands.common import add_durations_option, shard_arg

if TYPE_CHECKING:
    from sharder.running.bisect import Verdict
    from sharder.running.replay import PytestLauncher, ShardRun


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay", help="run a CI shard's tests here in the same order; --bisect finds the test polluting one",
        description="Run exactly the tests one shard ran, in the order it ran them, with pytest-randomly off or on "
        "the seed the shard recorded. With --bisect TEST_ID, find which earlier test of the shard makes TEST_ID "
        "fail, each trial a fresh pytest process. Every pytest run gets the shard's own pytest arguments, as its "
        "report or progress log recorded them; arguments after `--` replace them.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--plan", metavar="PATH", help="take the shard's tests from this plan.json (needs --shard)")
    source.add_argument("--from", dest="report", metavar="PATH",
                        help="the shard's JUnit report, or its progress log (NAME.progress.jsonl: exact start order)")
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="which shard of the plan (or of a merged report) to replay")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--until", metavar="TEST_ID", help="stop after this test (the victim)")
    what.add_argument("--bisect", metavar="TEST_ID",
                      help="find the earlier test of the shard that makes TEST_ID fail")
    parser.add_argument("--order", choices=("plan", "failed-first", "fast-first"),
                        help="with --plan: the order `sharder run --order` gave the shard, from the durations store "
                        "(as it was when the shard ran); a report or progress log holds its own order")
    add_durations_option(parser)
    parser.add_argument("--allow-missing", action="store_true",
                        help="leave out (and list) tests of the shard that no longer exist here, instead of stopping")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="where id lists and pytest outputs go (default: a new temporary directory, kept)")
    parser.set_defaults(func=run)


def _say(line: str) -> None:
    """Every line names tests of the suite: each goes out on one line with no workflow command in it."""
    from sharder.core.log_text import log_safe

    print(log_safe(line), flush=True)


def _load(args: argparse.Namespace, launcher: PytestLauncher) -> tuple[ShardRun, list[str] | None]:
    """The shard and, when it had to be collected to map a foreign report, the collected ids."""
    from sharder.core.errors import SharderError
    from sharder.running import replay

    if args.plan:
        if args.shard is None:
            raise SharderError("--plan needs --shard K/N to say which of its shards to replay")
        shard = replay.shard_from_plan(args.plan, args.shard)
        if args.order is None:  # as `sharder run` does: [tool.sharder] order, when the flag is not given
            from sharder.running.config import load_run_config

            args.order = load_run_config().order
        if args.order not in (None, "plan"):
            from sharder.durations.store import load_durations_if_present
            from sharder.stores.location import durations_path

            shard = replay.in_run_order(shard, args.order, load_durations_if_present(durations_path(args.durations)))
        return shard, None
    if args.order is not None:
        raise SharderError("--order goes with --plan: a report or progress log holds the order its shard ran in")
    if replay.is_progress_log(args.report):
        if args.shard is not None:
            raise SharderError("--shard goes with --plan or a merged report, not with a progress log (one shard)")
        return replay.shard_from_progress_log(args.report), None
    collected: list[str] = []

    def known_ids() -> list[str]:
        collected.extend(launcher.collect())
        return collected

    shard = replay.shard_from_report(args.report, known_ids, args.shard)
    return shard, (collected or None)


def _seed_line(seed: int | None, from_plan: bool) -> str:
    if from_plan:
        return "pytest-randomly off (-p no:randomly): a plan holds no seed (its report or progress log would)"
    if seed is None:
        return "pytest-randomly off (-p no:randomly): the shard recorded no seed"
    return f"pytest-randomly on the shard's seed {seed}, in the shard's order"


def run(args: argparse.Namespace) -> int:
    from sharder.running import replay

    # Absolute: the commands printed for the user name files in it and must work from wherever they are pasted.
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="sharder-replay-")).resolve()
    try:
        return _run_in(args, replay.PytestLauncher(work_dir, randomly_seed=None, pytest_args=args.pytest_args))
    finally:
        if not args.work_dir:  # ours, and kept for the files it holds: one a refusal left empty is litter
            with contextlib.suppress(OSError):
                work_dir.rmdir()


def _run_in(args: argparse.Namespace, launcher: PytestLauncher) -> int:
    from sharder.running import replay

    shard, collected = _load(args, launcher)
    launcher.randomly_seed = shard.randomly_seed
    _say(f"sharder replay: {shard.origin}: {len(shard.ids)} tests; {_seed_line(shard.randomly_seed, bool(args.plan))}")
    # What the shard recorded beats [tool.sharder]'s pytest_args: it is what the shard really ran with (those
    # arguments included); only arguments after `--` replace it.
    given = args.pytest_args if getattr(args, "pytest_args_source", None) == "the command line" else []
    if not given and shard.pytest_args:
        launcher.pytest_args = list(shard.pytest_args)
        _say(f"sharder replay: with the shard's pytest arguments {replay.args_text(shard.pytest_args)} (arguments "
             "after `--` replace them)")
    elif given and shard.pytest_args is not None and list(shard.pytest_args) != given:
        _say(f"sharder replay: with {replay.args_text(args.pytest_args)} instead of the shard's "
             f"{replay.args_text(shard.pytest_args)}")
    if args.bisect:
        return _bisect(args, shard, launcher, collected)
    return _replay(args, shard, launcher, collected)


def _replay(args: argparse.Namespace, shard: ShardRun, launcher: PytestLauncher, collected: list[str] | None) -> int:
    from sharder.core.progress_log import SUFFIX, read_progress_log
    from sharder.pytest_plugin.options import PROGRESS_LOG_OPTION
    from sharder.running import replay

    ids: Sequence[str] = shard.ids
    if args.until:
        ids = replay.up_to(ids, replay.find_test(ids, args.until, shard.origin))
    cause = replay.missing_cause(shard.pytest_args, launcher.pytest_args)
    kept = replay.without_missing(ids, collected or launcher.collect(), shard.origin, allow_missing=args.allow_missing,
                                  cause=cause)
    left_out = replay.missing_from(ids, kept)
    if left_out:
        _say(f"sharder replay: leaving out {len(left_out)} tests that no longer exist: {replay.name_some(left_out)}"
             + (f" ({cause})" if cause else ""))
    log_path = launcher.work_dir / f"replay{SUFFIX}"
    log_path.unlink(missing_ok=True)
    argv = launcher.ids_argv(launcher.write_ids("replay", kept), [f"{PROGRESS_LOG_OPTION}={log_path}"])
    command = replay.command_line(argv)
    _say(f"sharder replay: running {len(kept)} tests: {command}")
    code = launcher.run_visible(argv)
    ran_here: list[str] = []
    if log_path.is_file():
        log = read_progress_log(log_path)
        failed_here = [test.node_id for test in log.tests if test.outcome in replay.FAILED_OUTCOMES]
        ran_here = [test.node_id for test in log.tests]
        _say(_compare(shard, kept, failed_here, ran_here))
    else:
        _say(f"sharder replay: no test ran (pytest exit {code}, before its session began); NOT the recorded outcome")
    _say(f"sharder replay: rerun with: {command}")
    return code


def _compare(shard: ShardRun, kept: Sequence[str], failed_here: list[str], ran_here: Sequence[str]) -> str:
    from sharder.running.replay import name_some

    not_run = replay_not_run(kept, ran_here)
    if not_run:  # deselected here (a -k after `--`), or the session stopped early: nothing to compare them with
        what = "no test ran here" if len(not_run) == len(set(kept)) else (
            f"{len(not_run)} of the {len(set(kept))} tests did not run here ({name_some(not_run, 3)})")
        return f"sharder replay: {what}; NOT the recorded outcome ({len(failed_here)} failed here)"
    here = f"{len(failed_here)} failed here" + (f" ({name_some(failed_here, 3)})" if failed_here else "")
    if not shard.outcomes:
        return f"sharder replay: {here}"
    ran = set(kept)
    failed_there = [node_id for node_id in shard.failed if node_id in ran]
    if set(failed_there) == set(failed_here):
        return f"sharder replay: {here}; the same outcome as recorded in {shard.origin}"
    only_here = [node_id for node_id in failed_here if node_id not in set(failed_there)]
    only_there = [node_id for node_id in failed_there if node_id not in set(failed_here)]
    parts = [f"failed only here: {name_some(only_here, 3)}"] if only_here else []
    parts += [f"failed only in the recorded run: {name_some(only_there, 3)}"] if only_there else []
    return f"sharder replay: {here}; NOT the recorded outcome ({'; '.join(parts)})"


def replay_not_run(kept: Sequence[str], ran_here: Sequence[str]) -> list[str]:
    ran = set(ran_here)
    return [node_id for node_id in dict.fromkeys(kept) if node_id not in ran]


def _bisect(args: argparse.Namespace, shard: ShardRun, launcher: PytestLauncher, collected: list[str] | None) -> int:
    from sharder.core.errors import SharderError
    from sharder.running import bisect as pollution
    from sharder.running import replay

    victim = replay.find_test(shard.ids, args.bisect, shard.origin)
    position = shard.ids.index(victim)
    if position == 0:
        raise SharderError(f"{victim} is the first test of {shard.origin}: no test ran before it, so none polluted it")
    cause = replay.missing_cause(shard.pytest_args, launcher.pytest_args)
    if collected is not None:  # a foreign report was collected to be mapped: check before running anything
        replay.without_missing(shard.ids[: position + 1], collected, shard.origin, allow_missing=args.allow_missing,
                               cause=cause)
    _say(f"victim: {victim} (test {position + 1} of {len(shard.ids)}; {position} ran before it)")
    _say("running the victim on its own...")
    collect_to = launcher.work_dir / "collected.json"
    collect_to.unlink(missing_ok=True)
    alone = launcher.trial("alone", [victim], victim, collect_to=collect_to)
    if collected is None:
        collected = replay.read_collected(collect_to)
    if victim not in set(collected):
        raise SharderError(f"the test to bisect, {victim}, no longer exists here" + (f"; {cause}" if cause else ""))
    predecessors = replay.without_missing(shard.ids[:position], collected, shard.origin,
                                          allow_missing=args.allow_missing, cause=cause)
    left_out = replay.missing_from(shard.ids[:position], predecessors)
    if not predecessors:
        raise SharderError(f"none of the {position} tests that ran before {victim} exist here any more")
    if left_out:
        _say(f"leaving out {len(left_out)} earlier tests that no longer exist: {replay.name_some(left_out)}")
    alone.require_session()
    _say("  it fails on its own" if alone.victim_failed else f"  it {alone.victim_outcome} on its own")
    reproduce: list[list[str]] = []

    def fails(preceding: Sequence[str], label: str) -> bool:
        return launcher.trial(label, [*preceding, victim], victim).require_session().victim_failed

    def confirm(culprits: Sequence[str]) -> bool:
        ids = [*culprits, victim]
        if replay.positional_ids_usable(ids):
            argv = launcher.positional_argv(ids)
            trial = launcher.trial("verify", ids, victim, argv=argv)
            if list(trial.order) == ids:  # else pytest (an old one, or a plugin) did not take them as given
                reproduce[:] = [argv]
                return trial.victim_failed
        trial = launcher.trial("verify-ids", ids, victim).require_session()
        reproduce[:] = [launcher.ids_argv(launcher.write_ids("verify-ids", ids))]
        return trial.victim_failed

    verdict = pollution.find_polluter(predecessors, fails, _say, fails_alone=alone.victim_failed, confirm=confirm)
    code = _report(verdict, victim, shard, launcher, reproduce[0] if reproduce else None, left_out)
    bound = ""
    if verdict.kind == pollution.POLLUTER:
        bound = (f" (one polluter among {len(predecessors)} tests takes at most ceil(log2({len(predecessors)})) + 3 = "
                 f"{pollution.single_polluter_bound(len(predecessors))})")
    _say(f"pytest runs: {launcher.runs}{bound}; their outputs are in {launcher.work_dir}")
    return code


def _report(
    verdict: Verdict, victim: str, shard: ShardRun, launcher: PytestLauncher, reproduce: list[str] | None,
    left_out: list[str],
) -> int:
    from sharder.running import bisect as pollution
    from sharder.running.replay import command_line, name_some

    if verdict.kind == pollution.FAILS_ALONE:
        _say(f"{victim} fails on its own, not a pollution problem (its output: {launcher.work_dir / 'alone.log'})")
        return 1
    if verdict.kind == pollution.NOT_REPRODUCED:
        _say(f"{victim} does not reproduce locally: it passed after the same tests in the same order. Hints:")
        for hint in _hints(shard, victim, left_out):
            _say(f"  - {hint}")
        return 1
    if verdict.kind == pollution.INTERMITTENT:
        _say(f"{victim} fails intermittently: {name_some(list(verdict.culprits), 5)} made it fail once and not "
             "the next time; look for timing, ordering of threads, or state outside the process")
        return 1
    if verdict.kind == pollution.POLLUTER:
        _say(f"the polluter is: {verdict.culprits[0]}")
    else:
        _say(f"no single test makes {victim} fail; these {len(verdict.culprits)} do together:")
        for node_id in verdict.culprits:
            _say(f"  {node_id}")
    if reproduce is not None:
        _say(f"reproduce with: {command_line(reproduce)}")
    return 0


def _hints(shard: ShardRun, victim: str, left_out: list[str]) -> list[str]:
    hints = ["environment: variables, services, OS and Python or package versions of the CI job differ from here"]
    if shard.randomly_seed is None:
        hints.append("seed: the shard recorded no pytest-randomly seed; if it ran with randomness from another "
                     "source (or randomly's seed was lost), pass it after `--`, e.g. -- -p randomly --randomly-seed=N")
    else:
        hints.append(f"seed: this used the shard's pytest-randomly seed {shard.randomly_seed}; randomness from other "
                     "sources (time, uuid, os.urandom) is not reproduced")
    hints.append("missing test data: files, caches or databases the CI job created or downloaded before pytest ran")
    if left_out:
        hints.append(f"{len(left_out)} earlier tests of the shard no longer exist here and were left out; one of "
                     "them may be the polluter")
    if shard.outcomes.get(victim) == "passed":
        hints.append(f"{shard.origin} says it passed there too")
    return hints

