"""`sharder record --processes K`: record the whole suite in K pytest processes, each collecting only its files.

A record taken in one serial process measures every test inside the heap of the whole suite: every test module
imported, every item collected, the garbage of every test before it. A test that walks that heap
(`gc.get_objects()`, a leak check) or allocates enough to trigger full collections pays for all of it: on networkx,
`test_special.py` was recorded at 12.9 s serially and ran in 2.7 s in a shard holding a ninth of the suite, and the
first plan, made from the serial record, put too little beside it. Shards never run in that heap, so a record that
is to predict shards is taken the way shards run: the suite is split by file into K parts (the planner's own
`module` grouping, from whatever the store already knows), and each part runs in a pytest process of its own whose
collection footprint imports only that part's files. Each process also pays, and records, a shard's fixed cost.

The processes are narrowed runs (`--shard k/K`), so none of them prunes the store; the one collection of the whole
suite made here first says which tests exist, and once every process finished, the tests it did not collect are
dropped, exactly as a serial record of the whole suite drops them, and only when nothing narrowed that collection.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sharder.core.command_text import command_text
from sharder.core.errors import SharderError
from sharder.core.log_text import log_safe
from sharder.core.nodeid import module_of
from sharder.core.shardspec import ShardSpec
from sharder.durations import store
from sharder.durations.history import LastUpdate
from sharder.planning.plan import write_plan
from sharder.planning.planner import make_plan
from sharder.pytest_plugin.options import (
    DURATIONS_OPTION,
    PLAN_OPTION,
    PROGRESS_LOG_OPTION,
    SHARD_OPTION,
    STORE_OPTION,
)
from sharder.running import outside_cost, runner
from sharder.running.modes import MEMORY_PLUGIN
from sharder.running.supervision import supervising
from sharder.stores.update import update_durations

# pytest's exit codes of a session that ran to its end: all passed, or some tests failed (their times are not
# recorded, the others' are). Anything else (interrupted, internal or usage error, a signal) ends the record there.
_FINISHED = (0, 1)


def record_argv(path: Path, pytest_args: Sequence[str]) -> list[str]:
    """The pytest command that records into `path`: the memory plugin puts each test's peak RSS in the store too
    (for `--parallel auto` and `sharder plan`)."""
    return runner.pytest_argv(["-p", MEMORY_PLUGIN, STORE_OPTION, f"{DURATIONS_OPTION}={path}", *pytest_args])


def run_recording(path: Path, pytest_args: Sequence[str], scratch: Path, *, before_seconds: float) -> int:
    """One recording pytest, its exit code. It writes a progress log into `scratch`, as every shard does (so its
    per-test costs are a shard's), from which the time it paid outside its session is measured and blended into
    the store (`sharder.running.outside_cost`); `before_seconds`: sharder's own start, which a shard pays too."""
    log = scratch / "record.progress.jsonl"
    log.unlink(missing_ok=True)
    argv = record_argv(path, [f"{PROGRESS_LOG_OPTION}={log}", *pytest_args])
    print(f"sharder record: {command_text(argv)}", file=sys.stderr, flush=True)
    clock = outside_cost.PytestClock(before_seconds=before_seconds)
    code = runner.run(argv)
    clock.stop()
    seconds = clock.outside_seconds(log)
    if seconds is not None:
        outside_cost.record_in_store(path, seconds)
    return code


def record_in_processes(pytest_args: Sequence[str], path: Path, processes: int) -> int:
    """Record the suite into `path` in up to `processes` pytest processes, one after another; pytest's worst exit
    code (1 if any test failed), or the first one that stopped the record."""
    startup = outside_cost.own_start_seconds()  # sharder's start, before the collection: each part's shard pays it
    ids, narrowed = runner.collect(pytest_args)
    if not ids:
        raise SharderError("the collection found no tests: nothing to record")
    files = len({module_of(node_id) for node_id in ids})
    parts = max(1, min(processes, files))
    recorded = store.load_durations_if_present(path)
    plan = replace(make_plan(ids, recorded.seconds(), parts, group_by="module", durations_sha256=recorded.sha256,
                             setup_seconds=recorded.setup_seconds(), costs=recorded.costs),
                   selected_by=tuple(narrowed))
    print(f"sharder record: {len(ids)} tests in {files} files, recorded in {parts} pytest processes of about "
          f"{-(-files // parts)} files each", flush=True)
    observed = 0
    worst = 0
    with tempfile.TemporaryDirectory(prefix="sharder-record-") as scratch, supervising():
        plan_path = Path(scratch) / "plan.json"
        write_plan(plan_path, plan)
        for shard_bin in plan.bins:
            spec = ShardSpec(shard_bin.shard, parts)
            print(f"\n=== sharder record: part {spec}, {len(shard_bin.tests)} tests ===", flush=True)
            code = run_recording(path, [f"{SHARD_OPTION}={spec}", f"{PLAN_OPTION}={os.fspath(plan_path)}",
                                        *pytest_args], Path(scratch), before_seconds=startup)
            observed += _observed_by(path, spec)
            if code not in _FINISHED:
                print(f"sharder record: part {spec} stopped with pytest exit {code}; the parts after it did not run "
                      "and nothing was pruned", flush=True)
                return code
            worst = max(worst, code)
    pruned = _prune_to(path, ids, observed, narrowed)
    if narrowed:
        print(f"sharder record: nothing pruned (the run was narrowed by {log_safe(', '.join(narrowed))})", flush=True)
    else:
        print(f"sharder record: pruned {pruned} test{'s' if pruned != 1 else ''} no longer collected", flush=True)
    return worst


def _observed_by(path: Path, spec: ShardSpec) -> int:
    """How many durations the part just finished wrote (its `last_update`, when that is still its own)."""
    last = store.load_durations_if_present(path).last_update
    if last is None or last.command != "record" or not last.selected_by or last.selected_by[0] != f"--shard {spec}":
        return 0
    return last.observed


def _prune_to(path: Path, ids: Sequence[str], observed: int, narrowed: Sequence[str]) -> int:
    """Drop the tests the whole collection did not find (none when it was narrowed); say in `last_update` that
    this record covered what the collection covered."""
    keep = None if narrowed else set(ids)

    def change(recorded: store.Durations) -> tuple[store.Durations | None, int]:
        durations = store.updated(recorded, {}, keep_only=keep)
        pruned = sum(1 for node_id in recorded.tests if node_id not in durations.tests)
        update = LastUpdate("record", observed, pruned, tuple(narrowed))
        return replace(durations, last_update=update), pruned

    return update_durations(path, change)
