"""The pytest side of a session's timeline: when the process started, what collecting each test file cost, and
the time before, between and after the tests (`sharder.core.session_timeline`).

Why: a shard's wall is its tests plus what this measures, and on import-heavy suites that is as much as the tests
(issue 17). `sharder record` blends it into the store's costs; a shard's progress log carries it (its `costs`
event), for the merge's wall breakdown and for rebalance.

A file's cost is the time pytest's `pytest_make_collect_report` takes for its `Module`: importing the file and
collecting its items (parametrizing included). Conftests, directories and hooks are the rest of the collection.
Not measured under xdist: there the controller collects nothing and every worker is a process of its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from sharder.core import process_clock
from sharder.core.errors import SharderError
from sharder.core.progress_log import COSTS_EVENT, encode_event
from sharder.core.session_timeline import SessionTimeline
from sharder.durations import store
from sharder.durations.costs import SuiteCosts, costs_of_session
from sharder.pytest_plugin.shard_outputs import ProgressWriter
from sharder.stores.update import update_durations

# The earliest moment this process can name without /proc: when the plugin was imported (pytest loads it among
# its plugins, before any conftest).
_IMPORTED_AT = time.time()


def process_start_time() -> float:
    """When this process started (epoch seconds): from /proc on Linux, else the plugin's import, which misses the
    interpreter's and pytest's own start."""
    start = process_clock.process_start_time()
    return start if start is not None and start <= _IMPORTED_AT else _IMPORTED_AT


class CollectionTiming:
    """Registered once per session by the plugin (not in xdist's controller or workers)."""

    def __init__(self, log: ProgressWriter | None = None) -> None:
        self.log = log  # the shard's progress log, which gets the `costs` event once it is finished
        self.process_start = process_start_time()
        self.collection_start: float | None = None
        self.collection_end: float | None = None
        self.files: dict[str, float] = {}
        self.first_test_start: float | None = None
        self.last_test_end: float | None = None
        self.tests = 0
        self.tests_seconds = 0.0
        self.record_costs_to: Path | None = None  # set by the plugin when this session records durations

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> Generator[None, object, object]:
        self.collection_start = time.time()
        try:
            return (yield)
        finally:
            self.collection_end = time.time()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, object, object]:
        if not isinstance(collector, pytest.Module):
            return (yield)
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            name = collector.nodeid
            self.files[name] = self.files.get(name, 0.0) + time.perf_counter() - started

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.first_test_start is None:
            self.first_test_start = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tests_seconds += report.duration

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.tests += 1
        self.last_test_end = time.time()

    def timeline(self) -> SessionTimeline | None:
        """The session so far, or None when it never collected (a usage error, `--help`)."""
        if self.collection_start is None or self.collection_end is None:
            return None
        now = time.time()
        first = self.first_test_start if self.first_test_start is not None else self.collection_end
        last = self.last_test_end if self.last_test_end is not None else first
        return SessionTimeline(
            startup_seconds=max(0.0, self.collection_start - self.process_start),
            collection_seconds=max(0.0, self.collection_end - self.collection_start),
            files=dict(self.files),
            session_setup_seconds=max(0.0, first - self.collection_end),
            tests_span_seconds=max(0.0, last - first),
            tests_seconds=self.tests_seconds,
            tests=self.tests,
            teardown_seconds=max(0.0, now - last),
            wall_seconds=max(0.0, now - self.process_start),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Last, so the reports and the terminal summary count: the shard's progress log (closed at `finish`)
        gets the `costs` event, appended; a `sharder record` blends the costs into the store."""
        timeline = self.timeline()
        if timeline is None:
            return
        if self.log is not None and self.log.finished:
            with open(self.log.path, "ab") as log:
                log.write(encode_event({"event": COSTS_EVENT, "timeline": timeline.to_json(), "at": time.time()}))
        if self.record_costs_to is not None and timeline.tests:
            self._record(self.record_costs_to, costs_of_session(timeline))

    @staticmethod
    def _record(path: Path, costs: SuiteCosts) -> None:
        def change(recorded: store.Durations) -> tuple[store.Durations | None, None]:
            return store.updated(recorded, {}, costs=costs), None

        try:
            update_durations(path, change)
        except SharderError as exc:  # the tests' times are written already; say why the costs are not
            print(f"sharder: the session's costs were not recorded: {exc}", file=sys.stderr)
