"""pytest plugin that `sharder run` loads (`-p sharder.pytest_plugin.run_filter`) to apply its modes to a chosen shard.

The modes act after the shard is selected, never before: a plan names every test, so narrowing the collection
first (with `-m` or a path) would make the plan disagree with the checkout, and a computed split on a narrowed
list would give different shards. Here the shard is the same in every pass, and each pass runs a slice of it:
- `--sharder-pass`: `rest` (what the parallel part runs) or `memory_intensive` (run alone afterwards);
- `--sharder-fast`: drop `slow` and `memory_intensive` tests;
- `--sharder-module NAME`: keep tests under a directory, a file, or a dotted module name;
- `--sharder-slowest-first`: run the longest recorded tests first, for quick feedback on the slow ones.
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

PASS_OPTION = "--sharder-pass"
FAST_OPTION = "--sharder-fast"
MODULE_OPTION = "--sharder-module"
SLOWEST_FIRST_OPTION = "--sharder-slowest-first"
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
    if config.getoption("sharder_slowest_first") and len(items) > 1:
        durations_path = config.getoption("sharder_durations", None)
        path = Path(durations_path) if durations_path else store.find_durations_file(config.rootpath)
        try:
            seconds = store.load_durations_if_present(path).seconds()
        except SharderError as exc:
            raise pytest.UsageError(f"sharder: {exc}") from None
        by_id = {item.nodeid: item for item in items}
        items[:] = [by_id[node_id] for node_id in slowest_first(list(by_id), seconds)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    slicer = session.config.stash.get(_KEY, None)
    if slicer is None or not slicer.reasons or exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"sharder: {', '.join(slicer.reasons)} leaves no tests to run here; nothing to run")
    session.exitstatus = pytest.ExitCode.OK
