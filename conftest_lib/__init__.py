"""conftest_lib: a pytest plugin that keeps long runs from running out of memory, usable by any project.

What it does once on (see TESTING.md for the how-to):
- after each test: cancels and awaits the asyncio tasks the test left pending, closes the event loops it left
  open, runs `gc.collect()` (ini `conftest_lib_gc`: `test`, `module` or `off`), and warns (`LeakWarning`, naming
  the test) about each of those and about resident memory that grew by more than `conftest_lib_rss_growth_mb`
  and did not come back;
- the `cleanup` fixture (`cleanup.register(obj)`, `cleanup.add(callback)`) and the `fresh` factory fixture, plus
  `fresh_fixture(Factory)` to declare a new-object-per-test fixture;
- markers `unit`, `integration`, `slow`, `memory_intensive`;
- each test's peak resident memory as the report property `sharder_peak_rss_mb` (so it lands in JUnit
  `<properties>`, sharder's progress log and durations.json), and the heaviest tests in the terminal summary.

How it is switched on, and why installing it changes nothing by itself:
sharder's distribution installs this package, and a `pytest11` entry point would be loaded by every pytest run
in that environment, including unrelated suites. A `gc.collect()` per test, closing event loops, extra markers and
new warnings would silently change those suites (their speed, their `--strict-markers` result, their
`-W error` result). So the entry point registers only `conftest_lib.optin`, a shim that declares the ini options
and does nothing else unless the suite's ini says `conftest_lib = true`. The plugin proper is on when a suite asks
for it by name: `pytest_plugins = ["conftest_lib"]` in its root conftest.py, `-p conftest_lib`, or that ini line.
`-p no:conftest_lib` turns it off again. `conftest_lib.memory` is the measure-only part (per-test peak, no
cleanup, no warnings); `sharder run` loads it so every shard records memory without changing the suite.

PYTEST_DONT_REWRITE: the entry-point shim imports this package before a conftest names it, and pytest would warn
that it can no longer rewrite its asserts (it has none that need it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest_lib.cleanup import Cleanup, CleanupError, Fresh, fresh_fixture
from conftest_lib.hygiene import LeakWarning, ensure_hygiene
from conftest_lib.options import add_ini

__all__ = ["Cleanup", "CleanupError", "Fresh", "LeakWarning", "fresh_fixture"]

MARKERS = (
    "unit: a fast test of one unit, no I/O beyond tmp_path",
    "integration: a test that drives several parts together (subprocesses, real files)",
    "slow: takes seconds; `sharder run --fast` skips it",
    "memory_intensive: needs a lot of memory; `sharder run --parallel` runs it alone after the parallel part, "
    "`--fast` skips it",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_ini(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    ensure_hygiene(config).enable_full()


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    """Register what the test opens: `cleanup.register(obj)` (close/aclose) or `cleanup.add(fn, *args)`.

    At teardown every step runs, last registered first; failures are raised together as one CleanupError, a
    teardown error reported beside the test's own result.
    """
    registry = Cleanup()
    yield registry
    registry.run()


@pytest.fixture
def fresh(cleanup: Cleanup) -> Fresh:
    """`fresh(Store, *args)`: a new object for this test only, closed at teardown if it has close()/aclose()."""
    return Fresh(cleanup)
