"""`sharder rebalance`: update the durations file from shard reports; `--check` only says whether to."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sharder.commands.common import add_durations_option, shard_count_arg
from sharder.stores.location import durations_path

EPILOG = """\
Only tests that passed teach the durations file their time; failed, errored, xfailed, skipped and timed-out ones
are counted and left out. Tests the reports do not mention are dropped from the durations file only when the
reports cover the whole plan given with --plan (every shard reported, no planned test missing) and that plan was
made from the whole suite (no -k, -m, paths or --pyargs); a partial run or a selection never prunes. The file
remembers the reports it absorbed: giving the same reports again changes nothing. The update holds a lock on
the file ($SHARDER_LOCK_TIMEOUT seconds at most, default 60), so two rebalances at once both count.

exit status:
  0  durations updated (or, with --check, the plan in use is within the threshold)
  1  with --check: the plan in use is predicted to be slower than a fresh plan by more than the threshold
  2  unusable input (see `sharder merge --help`: the same rules apply to the reports)
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.10, got {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 10 (0.10 = 10%), got {text!r}")
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rebalance", help="update durations.json from shard reports; --check reports drift without writing",
        description="Blend the timings in shard reports (JUnit XML from any producer, and progress logs of shards "
        "that died) into the durations file, and compare the predicted slowest shard of the next plan under the "
        "old and the new durations for the same number of shards.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="REPORT_OR_DIR", help="JUnit XML files, progress logs, directories")
    add_durations_option(parser)
    parser.add_argument("--store", metavar="DIR",
                        help="keep the store in DIR (a CI cache folder such as .sharder): update DIR/durations.json, "
                             "starting from the committed durations file the first time, and record which CI run "
                             "wrote it in DIR/provenance.json")
    parser.add_argument("--plan", metavar="PATH", help="the plan.json the shards ran")
    parser.add_argument("--shards", type=shard_count_arg, metavar="N",
                        help="shard count for the forecast (default: the plan's)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the plan in use has drifted past --threshold")
    parser.add_argument("--threshold", type=_fraction, default=None, metavar="FRACTION",
                        help="with --check: tolerated slowdown of the plan in use over a fresh plan (default 0.10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder.core.errors import SharderError
    from sharder.durations import store
    from sharder.planning.plan import read_plan
    from sharder.reports.inputs import collect, resolve_identity
    from sharder.reports.learning import Rebalance, nothing_learned, rebalance, render
    from sharder.reports.verdict import judge
    from sharder.stores.update import update_durations

    if args.threshold is not None and not args.check:
        raise SharderError("--threshold goes with --check")
    threshold = 0.10 if args.threshold is None else args.threshold
    path = durations_path(args.durations)
    store_dir = Path(args.store) if args.store else None
    if store_dir is not None:
        path = _cache_store(store_dir, seed=path, write=not args.check)
    plan = read_plan(args.plan) if args.plan else None

    def change(recorded: store.Durations) -> tuple[store.Durations | None, Rebalance]:
        # Under the lock, on the store as it is now: another rebalance may have written it since this one began.
        inputs = collect(args.paths, plan, extra_known_ids=recorded.tests)
        outcome = rebalance(recorded, judge(inputs, resolve_identity(inputs, plan)), shards=args.shards)
        if outcome.nothing_new:
            return None, outcome
        if not outcome.observed:
            raise SharderError(nothing_learned(outcome))
        return (None if args.check else outcome.durations), outcome

    if args.check:  # writes nothing, so takes no lock: every write is atomic, a reader sees one whole file
        _, outcome = change(store.load_durations_if_present(path))
    else:
        outcome = update_durations(path, change)
    written = not args.check and not outcome.nothing_new
    if written and store_dir is not None:
        _record_provenance(store_dir)
    for line in render(outcome, path=os.fspath(path), written=written,
                       threshold=threshold if args.check else None):
        print(line)
    if args.check and outcome.forecast is not None and outcome.forecast.drift > threshold:
        print(f"sharder rebalance: the plan in use has drifted {outcome.forecast.drift * 100:.1f}% past a fresh "
              f"plan (threshold {threshold * 100:.0f}%): run `sharder rebalance` and commit {os.fspath(path)}")
        return 1
    return 0


def _cache_store(store_dir: Path, *, seed: Path, write: bool) -> Path:
    """DIR/durations.json, seeded from the committed file the first time (a cache restored nothing), so the first
    CI update blends into the timings the project already had instead of starting over."""
    from sharder.core.atomic import atomic_write_bytes
    from sharder.core.errors import SharderError
    from sharder.core.inputfile import read_input
    from sharder.durations import store

    target = store_dir / store.DEFAULT_FILENAME
    if target.exists():
        return target
    if not write:
        return seed
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SharderError(f"cannot create the store folder {os.fspath(store_dir)!r}: {exc.strerror}") from None
    if seed.is_file():  # sharder's format or pytest-split's: the reader takes both, the update writes ours
        atomic_write_bytes(target, read_input(seed, "durations"))
        print(f"sharder rebalance: {os.fspath(target)} starts from {os.fspath(seed)} (no cached store yet)")
    return target


def _record_provenance(store_dir: Path) -> None:
    from sharder.ci.run_info import ci_run_from_environment
    from sharder.stores.timings_source import Provenance, now_iso, write_provenance

    run = ci_run_from_environment()
    write_provenance(store_dir, Provenance(run.provider, run.run_id, run.attempt, run.branch, run.commit, now_iso()))
