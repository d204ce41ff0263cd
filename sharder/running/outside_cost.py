"""What a CI job pays outside pytest's session, measured by the sharder process that starts pytest.

pytest can time itself from its process start to its last hook (`sharder.pytest_plugin.collection_timing`), not
what comes after: the interpreter's exit, which tears down every module and object the session made (0.2-0.5 s
after scipy.optimize's tests, more after a heap-heavy suite), nor `sharder run`'s own start before pytest (its
imports, reading the plan). A CI job's wall holds both, on every shard, so the plan's fixed cost must too.

The parent sees both ends: its own process start (the kernel's clock) and pytest's exit (when the wait returns);
pytest's `costs` line says when the session ended (`at`). The difference is appended to the pass's progress log as
its `outside` event, from where `rebalance` blends it into the store's `costs.outside_seconds`, and `sharder
record` blends it in directly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sharder.core import process_clock
from sharder.core.errors import SharderError
from sharder.core.log_text import log_safe
from sharder.core.progress_log import append_outside, costs_written_at


def own_start_seconds() -> float:
    """From this sharder process's start to now (0.0 where the kernel's clock cannot be read)."""
    start = process_clock.process_start_time()
    return 0.0 if start is None else max(0.0, time.time() - start)


class PytestClock:
    """Times one pytest process from its parent: made just before pytest starts, stopped once it is reaped.

    `before_seconds`: what sharder spent before starting it that a job pays once (a shard's first pass carries
    `sharder run`'s own start, `own_start_seconds()`; its later passes nothing)."""

    def __init__(self, *, before_seconds: float = 0.0) -> None:
        self.before_seconds = before_seconds
        self.started = time.time()
        self.exited: float | None = None

    def stop(self) -> None:
        self.exited = time.time()

    def outside_seconds(self, log: Path) -> float | None:
        """`before_seconds` plus pytest's exit after its `costs` line; None when the log has no such last line
        (pytest was killed, ran under xdist, or the log is gone) or when that line was written outside this
        pytest's life."""
        if self.exited is None:
            return None
        try:
            session_end = costs_written_at(log)
        except OSError:
            return None
        if session_end is None or not self.started <= session_end <= self.exited:
            return None  # no session of this pytest's wrote that line (a log left by another run)
        return self.before_seconds + self.exited - session_end


def note_in_log(clock: PytestClock, log: Path, *, by: str) -> None:
    """Append the measured `outside` event to the pass's progress log, when there is a measurement. A log that
    cannot be appended to costs this measurement only: one line on stderr, never the shard."""
    seconds = clock.outside_seconds(log)
    if seconds is None:
        return
    try:
        append_outside(log, seconds, before=min(seconds, clock.before_seconds), by=by)
    except OSError as exc:
        print(f"{by}: the time outside pytest was not logged in {log_safe(str(log))}: {exc.strerror}",
              file=sys.stderr)


def record_in_store(path: Path, seconds: float) -> None:
    """Blend one measurement into the store's costs (`sharder record`; a store without costs is left alone)."""
    from dataclasses import replace

    from sharder.durations import store
    from sharder.durations.costs import with_outside
    from sharder.stores.update import update_durations

    def change(recorded: store.Durations) -> tuple[store.Durations | None, None]:
        if recorded.costs is None:
            return None, None
        return replace(recorded, costs=with_outside(recorded.costs, seconds, store.DEFAULT_SMOOTHING)), None

    try:
        update_durations(path, change)
    except SharderError as exc:
        print(f"sharder record: the time outside pytest was not recorded: {exc}", file=sys.stderr)
