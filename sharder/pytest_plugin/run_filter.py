"""pytest plugin that `sharder run` loads (`-p sharder.pytest_plugin.run_filter`) to apply its modes to a chosen shard.

The modes act after the shard is selected, never before: a plan names every test, so narrowing the collection
first (with `-m` or a path) would make the plan disagree with the checkout, and a computed split on a narrowed
list would give different shards. Here the shard is the same in every pass, and each pass runs a slice of it:
- `--sharder-pass`: `rest` (what the parallel part runs) or `memory_intensive` (run alone afterwards);
- `--sharder-fast`: drop `slow` and `memory_intensive` tests;
- `--sharder-module NAME`: keep tests under a directory, a file, or a dotted module name;
- `--sharder-slowest-first`: run the longest recorded tests first, for quick feedback on the slow ones;
- `--sharder-order failed-first|fast-first|plan`: the order within the shard (`sharder.planning.order`), from the
  store's timings and last outcomes. Under xdist each worker collects and orders alike (the store is one file),
  and the controller hands out tests, or loadscope's groups, in that order: the first dispatched are the urgent
  ones, though which worker runs what, and so each worker's order, is xdist's choice.
A slice that leaves nothing exits 0 with a line saying why (a mode that selects nothing is not a failure); a suite
that collects nothing at all still exits 5, and so does a shard whose own -k/-m deselected all its tests (a typo in
a marker expression is pytest's exit 5, never a pass: `sharder.pytest_plugin.plugin` says so).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from sharder.core.errors import SharderError
from sharder.durations import store
from sharder.durations.outcomes import failed_tests
from sharder.planning.order import FAILED_FIRST, ORDERS, PLAN, ordered

PASS_OPTION = "--sharder-pass"
FAST_OPTION = "--sharder-fast"
MODULE_OPTION = "--sharder-module"
SLOWEST_FIRST_OPTION = "--sharder-slowest-first"
ORDER_OPTION = "--sharder-order"
PASS_REST = "rest"
PASS_MEMORY_INTENSIVE = "memory_intensive"
MEMORY_INTENSIVE_MARK = "memory_intensive"
SLOW_MARK = "slow"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sharder-run", "sharder run: slices of one shard")
    group.addoption(PASS_OPTION, choices=(PASS_REST, PASS_MEMORY_INTENSIVE),
                    help="run only the memory_intensive tests of the shard, or only the rest")
    group.addoption(FAST_OPTION, action="store_true", help="skip tests marked slow or memory_intensive")
    group.addoption(MODULE_OPTION, metavar="NAME", help="only tests under this directory, file or dotted module")
    group.addoption(SLOWEST_FIRST_OPTION, action="store_true", help="longest recorded tests first")
    group.addoption(ORDER_OPTION, choices=ORDERS, default=PLAN,
                    help="the order within the shard: plan (default), failed-first (last failed, then new tests, "
                    "then the rest), fast-first (shortest predicted first); files and classes stay contiguous")


def module_prefixes(name: str, rootdir: Path, cwd: Path) -> tuple[str, ...]:
    """The node-id path prefixes `name` stands for, relative to the rootdir, `/`-separated."""
    text = name.strip().replace(os.sep, "/").rstrip("/")
    if not text:
        raise SharderError("--module needs a directory, file or module name")
    candidates = [text]
    given = (cwd / text).resolve()
    if given.exists():
        try:
            candidates.insert(0, given.relative_to(rootdir.resolve()).as_posix())
        except ValueError:
            raise SharderError(f"--module {name!r} is outside the rootdir {os.fspath(rootdir)}") from None
    elif "/" not in text and not text.endswith(".py") and "." in text:
        dotted = text.replace(".", "/")
        candidates += [dotted, dotted + ".py"]
    return tuple(dict.fromkeys(candidates))


def in_module(node_id: str, prefixes: tuple[str, ...]) -> bool:
    path = node_id.split("::", 1)[0]
    return any(path == prefix or path.startswith(prefix + "/") or prefix in ("", ".") for prefix in prefixes)


def slowest_first(node_ids: list[str], seconds: dict[str, float]) -> list[str]:
    """Stable sort, longest first; a test never recorded counts as the median one, not as instant."""
    default = statistics.median(seconds.values()) if seconds else 0.0
    return sorted(node_ids, key=lambda node_id: -seconds.get(node_id, default))


class _Slicer:
    def __init__(self) -> None:
        self.reasons: list[str] = []


_KEY = pytest.StashKey[_Slicer]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = _Slicer()


def _keep(config: pytest.Config, items: list[pytest.Item], keep: list[pytest.Item], why: str) -> None:
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    if not items:
        config.stash[_KEY].reasons.append(why)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None, Any, None]:
    """A wrapper: its second half runs after every other plugin's selection, sharder's shard choice included."""
    yield
    if config.getoption("sharder_fast") and items:
        _keep(config, items, [item for item in items if not item.get_closest_marker(SLOW_MARK)
                              and not item.get_closest_marker(MEMORY_INTENSIVE_MARK)], "--fast")
    module = config.getoption("sharder_module")
    if module and items:
        try:
            prefixes = module_prefixes(module, config.rootpath, Path.cwd())
        except SharderError as exc:
            raise pytest.UsageError(f"sharder: {exc}") from None
        _keep(config, items, [item for item in items if in_module(item.nodeid, prefixes)], f"--module {module}")
    which = config.getoption("sharder_pass")
    if which and items:
        heavy = which == PASS_MEMORY_INTENSIVE
        _keep(config, items, [item for item in items if bool(item.get_closest_marker(MEMORY_INTENSIVE_MARK)) == heavy],
              "the memory_intensive part (no test here is marked memory_intensive)" if heavy
              else "the parallel part (every test here is marked memory_intensive)")
    order = config.getoption("sharder_order")
    if order != PLAN and config.getoption("sharder_slowest_first"):
        raise pytest.UsageError(f"sharder: {SLOWEST_FIRST_OPTION} and {ORDER_OPTION}={order} are two orders; pick one")
    if config.getoption("sharder_slowest_first") and len(items) > 1:
        seconds = _recorded(config).seconds()
        by_id = {item.nodeid: item for item in items}
        items[:] = [by_id[node_id] for node_id in slowest_first(list(by_id), seconds)]
    if order != PLAN and len(items) > 1:
        recorded = _recorded(config)
        failed = failed_tests(recorded.outcomes)
        by_id = {item.nodeid: item for item in items}
        items[:] = [by_id[node_id] for node_id in ordered(list(by_id), order, seconds=recorded.seconds(), failed=failed)]
        if order == FAILED_FIRST:
            urgent_failed = sum(1 for node_id in by_id if node_id in failed)
            new = sum(1 for node_id in by_id if node_id not in recorded.tests and node_id not in failed)
            _say(config, f"sharder: --order failed-first: {urgent_failed} tests that failed last time and {new} new "
                 "tests first (their files and classes with them), then the rest in plan order")


def _recorded(config: pytest.Config) -> store.Durations:
    durations_path = config.getoption("sharder_durations", None)
    path = Path(durations_path) if durations_path else store.find_durations_file(config.rootpath)
    try:
        return store.load_durations_if_present(path)
    except SharderError as exc:
        raise pytest.UsageError(f"sharder: {exc}") from None


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    slicer = session.config.stash.get(_KEY, None)
    if slicer is None or not slicer.reasons or exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"sharder: {', '.join(slicer.reasons)} leaves no tests to run here; nothing to run")
    session.exitstatus = pytest.ExitCode.OK
