"""Spare a shard's process the interpreter's last walk over its whole heap when it exits.

Why: every CI shard pays its interpreter's exit on top of its tests, and that exit is mostly garbage collection:
CPython's finalization collects the whole heap while it tears the modules down, and a test session's heap is
large. Measured on `scipy/optimize/tests/test_optimize.py` (pytest 9.2, Python 3.11), from pytest's last hook to
the parent seeing the exit, three runs each: 0.20 s as it is, 0.056 s with this. After a whole shard of an
import-heavy suite the exit was 0.4-0.8 s (bench/README, "the time outside pytest's session").

How: an `atexit` callback, so it runs once the session and every plugin are done, before the finalization, and
a session run in-process (`pytest.main` from a longer program, pytester's inline runs) changes only the end of
that program. It first collects, so every object that is garbage by then is finalized as it would have been,
then freezes the survivors into the permanent generation, which the finalization's collections skip. Survivors
are still torn down by reference counting; only reference cycles that the module teardown itself leaves
unreachable stay uncollected, whose finalizers CPython does not promise to run at exit anyway (atexit
callbacks, `weakref.finalize` and buffered files closed by reference counting are unaffected).

Only sessions sharder drives (a shard, a replay's id list, a recording run, a progress log, sharder's own
collection) do this, and the ini option `sharder_fast_exit = false` turns it off.
"""

from __future__ import annotations

import atexit
import gc

import pytest

FAST_EXIT_INI = "sharder_fast_exit"

_registered = False


def add_ini(parser: pytest.Parser) -> None:
    parser.addini(FAST_EXIT_INI, type="bool", default=True,
                  help="at the exit of a session sharder drives, collect once and freeze the heap instead of "
                  "letting the interpreter's finalization walk it (default: true)")


def freeze_heap() -> None:
    """Finalize today's garbage, then take every survivor out of the collector's sight."""
    gc.collect()
    gc.freeze()


def arm(config: pytest.Config) -> None:
    """Register `freeze_heap` at exit, once per process, unless the ini option turned it off."""
    global _registered
    if _registered or not config.getini(FAST_EXIT_INI):
        return
    atexit.register(freeze_heap)
    _registered = True
