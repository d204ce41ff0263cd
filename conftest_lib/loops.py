"""Asyncio hygiene: find the tasks a test left pending and the event loops it left open, and clean them up.

Nothing here patches asyncio. Loops are found three ways: the main thread's current loop (what
`asyncio.set_event_loop` and pytest-asyncio install), the loops already known from earlier tests, and, when asked,
a scan of the garbage collector's objects (a loop only the test's own variables reach; the scan costs about
what one `gc.collect()` costs, so the plugin pairs it with its collections). Tasks come from
`asyncio.all_tasks(loop)` of each known loop, which works on loops that are not running.

Ownership: a task or loop is the test's if it appeared during the test and not during the setup of a fixture
wider than one test (a module-scoped server task is that fixture's business, and it stays alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field


def _asyncio_in_use() -> bool:
    """A suite that never imported asyncio has no loops: skip every check at no cost."""
    return "asyncio" in sys.modules


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The main thread's current loop, without creating one (get_event_loop() would, and warns on 3.12+)."""
    try:
        policy = asyncio.get_event_loop_policy()
    except Exception:  # a broken third-party policy is not ours to report
        return None
    local = getattr(policy, "_local", None)
    loop = getattr(local, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def _task_name(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", None) or task.get_name()


@dataclass
class _Evidence:
    """A task pending when the test body returned, held weakly: a fixture may still finish it properly."""

    name: str
    task: weakref.ref[asyncio.Task[object]]
    loop: weakref.ref[asyncio.AbstractEventLoop]
    finished_in_time: bool = False

    def check_finished(self) -> None:
        """Called after each fixture's teardown: done while its loop still runs means a fixture finished it."""
        task, loop = self.task(), self.loop()
        if task is not None and task.done() and loop is not None and not loop.is_closed():
            self.finished_in_time = True

    def lost_with_its_loop(self) -> bool:
        """Its loop was closed (or is gone) before anything finished the task: the loop's own teardown (as
        pytest-asyncio's) cancelled it, so the test had left it pending."""
        if self.finished_in_time:
            return False
        loop = self.loop()
        return loop is None or loop.is_closed()


@dataclass
class Findings:
    """What one test left behind (names only: the objects themselves are cleaned up already)."""

    cancelled_tasks: list[str] = field(default_factory=list)
    closed_loops: int = 0
    unreachable_tasks: list[str] = field(default_factory=list)

    def message(self, node_id: str) -> str | None:
        parts = []
        if self.cancelled_tasks:
            parts.append(f"left {len(self.cancelled_tasks)} asyncio task(s) pending "
                         f"({', '.join(sorted(set(self.cancelled_tasks))[:5])}); cancelled and awaited them")
        if self.unreachable_tasks:
            parts.append(f"left {len(self.unreachable_tasks)} asyncio task(s) pending on a loop that was then "
                         f"closed under them ({', '.join(sorted(set(self.unreachable_tasks))[:5])})")
        if self.closed_loops:
            parts.append(f"left {self.closed_loops} event loop(s) open; closed them")
        return f"{node_id} " + "; ".join(parts) if parts else None


class LoopWatch:
    """Per-session memory of loops and tasks, so each test is judged only on what appeared during it."""

    def __init__(self) -> None:
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._shared_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._shared_tasks: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()
        self._before_tasks: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()
        self._before_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._pending_after_call: list[_Evidence] = []
        self._scanned_once = False

    def _discover(self, scan: bool) -> list[asyncio.AbstractEventLoop]:
        current = _current_loop()
        if current is not None:
            self._loops.add(current)
        if scan:
            for obj in gc.get_objects():
                if isinstance(obj, asyncio.AbstractEventLoop):
                    self._loops.add(obj)
        return list(self._loops)

    def _pending(self, loops: Iterable[asyncio.AbstractEventLoop]) -> list[asyncio.Task[object]]:
        tasks: list[asyncio.Task[object]] = []
        for loop in loops:
            if loop.is_closed():
                continue
            with contextlib.suppress(RuntimeError):  # the set changed under us (another thread's loop)
                tasks.extend(task for task in asyncio.all_tasks(loop) if not task.done())
        return tasks

    def test_started(self) -> None:
        if not _asyncio_in_use():
            return
        # The first test scans once, so loops made at import or collection time are not blamed on it.
        loops = self._discover(scan=not self._scanned_once)
        self._scanned_once = True
        self._before_loops = weakref.WeakSet(loops)
        self._before_tasks = weakref.WeakSet(self._pending(loops))
        self._pending_after_call = []

    def wide_fixture_started(self) -> set[int]:
        if not _asyncio_in_use():
            return set()
        loops = self._discover(scan=False)
        return {id(loop) for loop in loops} | {id(task) for task in self._pending(loops)}

    def wide_fixture_finished(self, before: set[int]) -> None:
        """A module- or session-scoped fixture owns the loops and tasks it started: never the test's leak."""
        if not _asyncio_in_use():
            return
        loops = self._discover(scan=True)
        for loop in loops:
            if id(loop) not in before:
                self._shared_loops.add(loop)
        for task in self._pending(loops):
            if id(task) not in before:
                self._shared_tasks.add(task)

    def call_finished(self, scan: bool) -> None:
        """Remember what the test body left pending before its fixtures tear down (pytest-asyncio closes its loop
        then, cancelling our evidence with it). `scan` for async tests: their loop need not be the current one."""
        if not _asyncio_in_use():
            return
        self._pending_after_call = [
            _Evidence(_task_name(task), weakref.ref(task), weakref.ref(task.get_loop()))
            for task in self._new_pending(self._discover(scan=scan))
        ]

    def fixture_finalized(self) -> None:
        for evidence in self._pending_after_call:
            evidence.check_finished()

    def _new_pending(self, loops: Iterable[asyncio.AbstractEventLoop]) -> list[asyncio.Task[object]]:
        return [task for task in self._pending(loops)
                if task not in self._before_tasks and task not in self._shared_tasks]

    def test_finished(self, scan: bool) -> Findings:
        """After teardown: cancel and await the test's pending tasks, close the loops it left open."""
        findings = Findings()
        if not _asyncio_in_use():
            return findings
        loops = self._discover(scan=scan)
        for evidence in self._pending_after_call:
            if evidence.lost_with_its_loop():
                findings.unreachable_tasks.append(evidence.name)
        self._pending_after_call = []
        leaked = self._new_pending(loops)
        for loop in {task.get_loop() for task in leaked}:
            mine = [task for task in leaked if task.get_loop() is loop]
            findings.cancelled_tasks.extend(_task_name(task) for task in mine)
            _cancel_and_wait(loop, mine)
        for loop in loops:
            if loop.is_closed() or loop in self._before_loops or loop in self._shared_loops or loop.is_running():
                continue
            _close(loop)
            findings.closed_loops += 1
        return findings


def _cancel_and_wait(loop: asyncio.AbstractEventLoop, tasks: list[asyncio.Task[object]]) -> None:
    for task in tasks:
        if loop.is_running():  # a loop in another thread: ask it, we cannot wait here
            loop.call_soon_threadsafe(task.cancel)
        else:
            task.cancel()
    if not loop.is_running() and not loop.is_closed():
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _close(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(Exception):  # a half-broken loop still gets closed below
        loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    if _current_loop() is loop:
        asyncio.set_event_loop(None)
