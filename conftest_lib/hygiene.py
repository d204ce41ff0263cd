"""The per-test pipeline: measure memory around each test and, when conftest_lib is on, clean up after it.

One `Hygiene` object per session. `conftest_lib.memory` registers it measure-only (sharder's runner does this so
every shard records per-test peaks without changing what a suite does); `conftest_lib` turns on the rest:
asyncio hygiene, gc, and the memory-growth warning.

Order within one test (teardown work runs after every fixture of the test is finalized):
setup start: note RSS, reset the peak, note asyncio state -> test -> teardown end: cancel leftover tasks, close
leftover loops, gc.collect(), read RSS again (growth warning), read the peak and attach it to the report.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest

from conftest_lib import options
from conftest_lib.loops import LoopWatch
from conftest_lib.rss import RssProbe, release_free_heap
from sharder.core.junit_names import PEAK_RSS_PROPERTY

PLUGIN_NAME = "conftest_lib-hygiene"
# How many of the heaviest tests the terminal summary names.
HEAVIEST_SHOWN = 5


class LeakWarning(pytest.PytestWarning):
    """A test left something behind: pending asyncio tasks, open event loops, memory that did not come back."""


@dataclass
class _Window:
    """Memory since the last gc: the baseline and the tests run since, for the growth warning."""

    rss_before: float | None
    tests: list[str]


def _path_of(node_id: str) -> str:
    return node_id.split("::", 1)[0]


class Hygiene:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.full = False
        self.probe = RssProbe.detect()
        self.gc_mode = "off"
        self.growth_mb = 0.0
        self.asyncio = False
        self.loops = LoopWatch()
        self.window: _Window | None = None
        self.grew: list[tuple[str, float]] = []
        self.peaks: dict[str, float] = {}

    def enable_full(self) -> None:
        self.full = True
        self.gc_mode = options.gc_mode(self.config)
        self.growth_mb = options.growth_threshold_mb(self.config)
        self.asyncio = bool(self.config.getini(options.ASYNCIO_INI))
        if self.asyncio and not self.config.pluginmanager.has_plugin(_AsyncioFixtures.NAME):
            self.config.pluginmanager.register(_AsyncioFixtures(self.loops), _AsyncioFixtures.NAME)

    def pytest_report_header(self) -> str:
        if not self.full:
            return f"conftest_lib.memory: {self.probe.method}"
        growth = f"warn above {self.growth_mb:g} MB growth" if self.growth_mb else "growth warning off"
        return (f"conftest_lib: gc per {self.gc_mode}, asyncio hygiene {'on' if self.asyncio else 'off'}, "
                f"{growth}; memory: {self.probe.method}")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        if self.full:
            if self.asyncio:
                self.loops.test_started()
            if self.window is None:
                self.window = _Window(self.probe.current_mb(), [])
            self.window.tests.append(item.nodeid)
        self.probe.reset_peak()
        return (yield)

    def _gc_now(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        if self.gc_mode == "test":
            return True
        if self.gc_mode == "module":
            return nextitem is None or _path_of(nextitem.nodeid) != _path_of(item.nodeid)
        return False

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            self._after_teardown(item, nextitem)

    def _after_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if self.full:
            collect = self._gc_now(item, nextitem)
            if self.asyncio:
                message = self.loops.test_finished(scan=collect).message(item.nodeid)
                if message:
                    item.warn(LeakWarning(message))
            if collect:
                gc.collect()
            if collect or self.gc_mode == "off":
                self._check_growth(item)
        peak = self.probe.peak_mb()
        if peak is not None:
            # pytest-rerunfailures tears the same item down once per attempt: the latest attempt's peak replaces
            # the earlier one, so the JUnit case carries one value (a new list: earlier attempts' reports share
            # the old one and keep what they said)
            item.user_properties = [
                *(prop for prop in item.user_properties if prop[0] != PEAK_RSS_PROPERTY),
                (PEAK_RSS_PROPERTY, round(peak, 1)),
            ]

    def _check_growth(self, item: pytest.Item) -> None:
        window, self.window = self.window, None
        after = self.probe.current_mb()
        if window is None or window.rss_before is None or after is None or not self.growth_mb:
            return
        grown = after - window.rss_before
        if grown > self.growth_mb and release_free_heap():  # freed but still mapped is not a leak
            after = self.probe.current_mb() or after
            grown = after - window.rss_before
        if grown <= self.growth_mb:
            return
        names = window.tests[0] if len(window.tests) == 1 else f"{len(window.tests)} tests up to {item.nodeid}"
        self.grew.append((item.nodeid, grown))
        item.warn(LeakWarning(
            f"{names}: resident memory grew by {grown:.0f} MB ({window.rss_before:.0f} -> {after:.0f} MB) and did "
            f"not come back after teardown and gc (a module-level cache, a global, or a wider-scoped fixture "
            f"holding data?)"
        ))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Also on an xdist controller, which runs no test but receives every report with its properties. Only
        the full plugin's summary shows them: measure-only, the report's property is the figure's only home."""
        if not self.full:
            return
        for name, value in report.user_properties:
            if name == PEAK_RSS_PROPERTY and isinstance(value, int | float):
                self.peaks[report.nodeid] = max(float(value), self.peaks.get(report.nodeid, 0.0))

    def pytest_unconfigure(self) -> None:
        self.probe.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.full or not self.peaks:
            return
        heaviest = sorted(self.peaks.items(), key=lambda pair: (-pair[1], pair[0]))[:HEAVIEST_SHOWN]
        terminalreporter.section("conftest_lib: peak resident memory")
        if not self.probe.resettable:
            terminalreporter.write_line(f"note: {self.probe.method}")
        for node_id, peak in heaviest:
            terminalreporter.write_line(f"{peak:8.1f} MB  {node_id}")
        for node_id, grown in self.grew:
            terminalreporter.write_line(f"memory grew by {grown:.0f} MB and stayed, up to {node_id}")


class _AsyncioFixtures:
    """The asyncio hygiene's view of fixtures and test calls, registered only when that hygiene is on: pytest calls
    these hooks for every fixture of every test, which a session that only measures memory need not pay for."""

    NAME = "conftest_lib-asyncio-fixtures"

    def __init__(self, loops: LoopWatch) -> None:
        self.loops = loops

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        if fixturedef.scope == "function":
            return (yield)
        before = self.loops.wide_fixture_started()
        try:
            return (yield)
        finally:
            self.loops.wide_fixture_finished(before)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            self.loops.call_finished(scan=inspect.iscoroutinefunction(getattr(item, "function", None)))

    def pytest_fixture_post_finalizer(self) -> None:
        self.loops.fixture_finalized()


def ensure_hygiene(config: pytest.Config) -> Hygiene:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(plugin, Hygiene):
        return plugin
    hygiene = Hygiene(config)
    config.pluginmanager.register(hygiene, PLUGIN_NAME)
    return hygiene
